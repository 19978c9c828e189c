#pragma once
// RFC 9421 HTTP Message Signatures with the "hmac-sha256" algorithm, the
// alternative to Bearer tokens for integrations that prefer a shared secret
// (apiRequestSignatureSecret from GET /accounts/v1/generate-signature-secret).
//
// A signed request carries
//   Signature-Input: sig1=("@method" "@target-uri"
//   "content-digest");created=1700000000;keyid="<user id>";alg="hmac-sha256" Signature:
//   sig1=:<base64 HMAC-SHA256 of the signature base>: Content-Digest: sha-256=:<base64 SHA-256 of
//   the body>:       (RFC 9530, when there is a body)
// The HMAC key is the bytes of the secret string as the API returned it.
// Rules: the covered components must include "@method" and "@target-uri", and
// "content-digest" when the request has a body; `created` must be within 5
// minutes of now; `keyid` and `alg` are required. Replay protection (each
// signature accepted once) is the caller's, using ReplayKey().
//
// Thread safety: free functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vidmill::accounts {

inline constexpr std::string_view kSignatureMethod = "hmac-sha256";
inline constexpr int64_t kSignatureMaxAgeSeconds = 300;

// What the verifier needs to know about the request.
struct SignedRequest {
  std::string method;      // "POST"
  std::string target_uri;  // absolute: "http://127.0.0.1:8080/videos/v1/project"
  // Header fields as received; names compared case-insensitively.
  std::vector<std::pair<std::string, std::string>> headers;
  bool has_body = false;  // Content-Length > 0 or chunked
};

struct ParsedSignature {
  std::string label;  // "sig1"
  std::vector<std::string> components;
  std::string params;  // the serialised inner list with its parameters
  std::string key_id;
  std::string algorithm;
  int64_t created = 0;
  std::optional<int64_t> expires;
  std::string signature;  // raw HMAC bytes
};

// Parses Signature-Input and Signature (their first member). 401 when absent
// or malformed.
Result<ParsedSignature> ParseSignature(const SignedRequest& request);

// The signature base of RFC 9421 §2.5 for these components.
Result<std::string> SignatureBase(const SignedRequest& request, const ParsedSignature& parsed);

// Checks the policy (components, age, algorithm) and the HMAC, in constant time.
Status VerifySignature(const SignedRequest& request, const ParsedSignature& parsed,
                       std::string_view secret, int64_t now_seconds);

// Checks `Content-Digest: sha-256=:…:` against the body's SHA-256 (raw 32 bytes).
Status VerifyContentDigest(const SignedRequest& request, std::string_view body_sha256);
// The raw SHA-256 a Content-Digest header promises, or an error.
Result<std::string> ExpectedContentSha256(const SignedRequest& request);

// A stable key identifying this signature, for one-time-use bookkeeping.
std::string ReplayKey(const ParsedSignature& parsed);

// Client side (used by tests and documented for integrators): signs a request
// and returns the Signature-Input and Signature header values.
std::pair<std::string, std::string> SignRequest(const SignedRequest& request,
                                                const std::vector<std::string>& components,
                                                const std::string& key_id, std::string_view secret,
                                                int64_t created);

std::string Sha256(std::string_view bytes);
std::string HmacSha256(std::string_view key, std::string_view message);
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace vidmill::accounts
