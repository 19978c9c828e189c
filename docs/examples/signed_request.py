#!/usr/bin/env python3
"""Sends one RFC 9421 signed request to Vidmill (standard library only).

usage: signed_request.py BASE_URL USER_ID SECRET METHOD PATH [JSON_BODY]
e.g.   signed_request.py http://127.0.0.1:8080 3f2b… s3cr3t PUT /videos/v1/project '{"name":"x"}'
"""
import base64
import hashlib
import hmac
import sys
import time
import urllib.request

base_url, user_id, secret, method, path = sys.argv[1:6]
body = sys.argv[6].encode() if len(sys.argv) > 6 else b""

target_uri = base_url.rstrip("/") + path
components = ["@method", "@target-uri"]
headers = {}
if body:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    headers["Content-Digest"] = f"sha-256=:{digest}:"
    headers["Content-Type"] = "application/json"
    components.append("content-digest")

params = "(" + " ".join(f'"{c}"' for c in components) + ")"
params += f';created={int(time.time())};keyid="{user_id}";alg="hmac-sha256"'
values = {"@method": method.upper(), "@target-uri": target_uri,
          "content-digest": headers.get("Content-Digest")}
base = "".join(f'"{c}": {values[c]}\n' for c in components)
base += f'"@signature-params": {params}'
mac = hmac.new(secret.encode(), base.encode(), hashlib.sha256).digest()
headers["Signature-Input"] = f"sig1={params}"
headers["Signature"] = f"sig1=:{base64.b64encode(mac).decode()}:"

request = urllib.request.Request(target_uri, data=body or None, method=method.upper(),
                                 headers=headers)
try:
    with urllib.request.urlopen(request) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
    sys.exit(1)
