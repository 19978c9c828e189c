#!/usr/bin/env bash
# Media throughput: upload and download of one large file (2 GiB by default)
# over loopback with curl, Vidmill against nginx on the same file in the same
# run, plus Vidmill's resident memory during the upload.
#
#   vidmill download   GET /media/v1/download/original/{id}     (Range-capable, streamed)
#   nginx download     GET of the same bytes as a static file   (sendfile on)
#   vidmill upload     POST /media/v1/upload/{id}, multipart/form-data (curl -F):
#                      parsed as it streams, SHA-256 on the way, fsync + rename at the end
#   nginx upload       WebDAV PUT (curl -T), no fsync
#   RSS                VmRSS of the server idle (after start-up and login), sampled every
#                      50 ms during the upload, and VmHWM afterwards
#
#   bash bench/media/run.sh [build-dir]
#     MEDIA_BENCH_BYTES   file size (default 2147483648)
#     MEDIA_BENCH_RUNS    runs of each transfer (default 3; the best is reported)
#     MEDIA_BENCH_DIR     scratch directory (default: a new dir under /tmp, removed after)
#
# nginx comes from Debian (nginx-light, installed by scripts/install-deps.sh --bench)
# and is configured by this script on a free loopback port; nothing is installed or
# started system-wide. Both servers write into the same filesystem.
set -euo pipefail
build=${1:-build}
repo=$(cd "$(dirname "$0")/../.." && pwd)
[[ "$build" == /* ]] || build="$PWD/$build"
vidmill="$build/vidmill"
[[ -x "$vidmill" ]] || { echo "media: $vidmill is not built" >&2; exit 1; }
command -v nginx >/dev/null || { echo "media: nginx missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
bytes=${MEDIA_BENCH_BYTES:-2147483648}
runs=${MEDIA_BENCH_RUNS:-3}
if [[ -n "${MEDIA_BENCH_DIR:-}" ]]; then
  work=$MEDIA_BENCH_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/vidmill-media-bench-XXXXXX)
fi

server_pid=""
nginx_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  [[ -z "${MEDIA_BENCH_DIR:-}" ]] && rm -rf "$work"
  return 0
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
mib_s() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.0f", b / t / 1048576 }'; }
best() { sort -g | head -1; }
kib() { awk '/^'"$2"':/ { print $2 }' "/proc/$1/status"; }

# --- the file -----------------------------------------------------------------
src="$work/source.bin"
if [[ ! -s "$src" || $(stat -c %s "$src") -ne $bytes ]]; then
  echo "making a $bytes-byte pseudo-random file…" >&2
  # openssl dies of SIGPIPE when head has enough: not an error here.
  { openssl enc -aes-128-ctr -nosalt -pass pass:vidmill -in /dev/zero 2>/dev/null || true; } \
    | head -c "$bytes" >"$src"
fi
src_sha=$(sha256sum "$src" | cut -d' ' -f1)
cat "$src" >/dev/null  # both servers then read it from the page cache
sync  # a freshly made file's writeback would otherwise overlap the first runs

echo "file: $bytes bytes, sha256 $src_sha"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ { print $2 }') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: $(curl --version | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3)"

# --- vidmill ------------------------------------------------------------------
data="$work/vidmill-data"
rm -rf "$data"
mkdir -p "$data"
"$vidmill" serve --listen 127.0.0.1:0 --data-dir "$data" --workers 0 \
  --max-upload-bytes $((bytes * 2)) >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$work/serve.out")
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { cat "$work/serve.err" >&2; exit 1; }
base="http://127.0.0.1:$port"
"$vidmill" user add --email bench@example.com --password "bench password 1" --team bench \
  --data-dir "$data" >/dev/null
token=$(curl -sf -u "bench@example.com:bench password 1" "$base/accounts/v1/token" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["jwtToken"])')
auth="Authorization: Bearer $token"
new_video() {
  curl -sf -X PUT -H "$auth" -H 'Content-Type: application/json' -d '{"name":"bench"}' \
    "$base/videos/v1/video" | python3 -c 'import json, sys; print(json.load(sys.stdin)["videoId"])'
}
sleep 0.5
idle_rss=$(kib "$server_pid" VmRSS)
idle_hwm=$(kib "$server_pid" VmHWM)  # includes start-up and the login's Argon2id

# --- nginx --------------------------------------------------------------------
nginx_root="$work/nginx"
rm -rf "$nginx_root"
mkdir -p "$nginx_root/www/dav" "$nginx_root/tmp" "$nginx_root/logs"
ln "$src" "$nginx_root/www/source.bin" 2>/dev/null || cp "$src" "$nginx_root/www/source.bin"
nport=$(free_port)
cat >"$nginx_root/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $nginx_root/nginx.pid;
error_log $nginx_root/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $nginx_root/tmp;
  proxy_temp_path $nginx_root/tmp;
  fastcgi_temp_path $nginx_root/tmp;
  uwsgi_temp_path $nginx_root/tmp;
  scgi_temp_path $nginx_root/tmp;
  types { application/octet-stream bin; }
  server {
    listen 127.0.0.1:$nport;
    root $nginx_root/www;
    location /dav/ {
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 0;
    }
  }
}
EOF
nginx -p "$nginx_root" -c "$nginx_root/nginx.conf" -e "$nginx_root/logs/error.log" &
nginx_pid=$!
for _ in $(seq 1 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$nport/source.bin" -r 0-0 && break
  sleep 0.1
done
# --- the runs ---------------------------------------------------------------
# Interleaved (vidmill, nginx, vidmill, …) and each upload deleted before the
# next, so both servers see the same machine state. On this VM, page cache
# in guest memory the host has not backed (never used, or freed and handed
# back by the balloon's free page reporting a few seconds later) costs several
# times more to fill than recently freed memory; so right before every upload
# a file the size of the upload is written and deleted, and whichever server
# follows finds the same amount of freshly freed, backed memory.
warm_page_cache() {
  cat "$src" >"$work/warm.bin"
  rm -f "$work/warm.bin"
}
rss_samples="$work/rss"
: >"$rss_samples"
vid_up=()
ngx_up=()
for run in $(seq 1 "$runs"); do
  video=$(new_video)
  warm_page_cache
  if [[ $run -eq 1 ]]; then
    # VmRSS of the server while the first upload runs.
    ( while kill -0 "$server_pid" 2>/dev/null; do kib "$server_pid" VmRSS >>"$rss_samples"; sleep 0.05; done ) &
    sampler=$!
  fi
  vid_up+=("$(curl -sf -o "$work/upload.json" -w '%{time_total}' -H "$auth" \
    -F "file=@$src;type=application/octet-stream" "$base/media/v1/upload/$video")")
  if [[ $run -eq 1 ]]; then
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    hwm=$(kib "$server_pid" VmHWM)
    peak=$(sort -g "$rss_samples" | tail -1)
  fi
  if [[ $run -lt $runs ]]; then
    curl -sf -o /dev/null -X DELETE -H "$auth" "$base/videos/v1/video/$video"
  fi
  last_video=$video
  warm_page_cache
  ngx_up+=("$(curl -sf -o /dev/null -w '%{time_total}' -T "$src" "http://127.0.0.1:$nport/dav/up.bin")")
  rm -f "$nginx_root/www/dav/up.bin"
done
etag=$(curl -sfI -H "$auth" "$base/media/v1/download/original/$last_video" | tr -d '\r' \
  | awk 'tolower($1) == "etag:" { gsub("\"", "", $2); print $2 }')
[[ "$etag" == "$src_sha" ]] || { echo "media: ETag $etag does not match sha256 $src_sha" >&2; exit 1; }

vid_down=()
ngx_down=()
for run in $(seq 1 "$runs"); do
  vid_down+=("$(curl -sf -o /dev/null -w '%{time_total}' -H "$auth" \
    "$base/media/v1/download/original/$last_video")")
  ngx_down+=("$(curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$nport/source.bin")")
done
got=$(curl -sf -H "$auth" "$base/media/v1/download/original/$last_video" | sha256sum | cut -d' ' -f1)
[[ "$got" == "$src_sha" ]] || { echo "media: download is not byte-exact" >&2; exit 1; }
grep -o 'fsync [0-9]* ms' "$work/serve.err" | tr '\n' ' ' | sed 's/^/vidmill upload fsyncs: /; s/ $/\n/' || true

# --- report -------------------------------------------------------------------
vd=$(printf '%s\n' "${vid_down[@]}" | best)
nd=$(printf '%s\n' "${ngx_down[@]}" | best)
vu=$(printf '%s\n' "${vid_up[@]}" | best)
nu=$(printf '%s\n' "${ngx_up[@]}" | best)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", b / a * 100 }'; }
echo
echo "best of $runs runs (seconds; MiB/s)     vidmill            nginx       vidmill/nginx"
printf 'download                        %6.2f s %5s MiB/s  %6.2f s %5s MiB/s   %s\n' \
  "$vd" "$(mib_s "$vd")" "$nd" "$(mib_s "$nd")" "$(ratio "$vd" "$nd")"
printf 'upload                          %6.2f s %5s MiB/s  %6.2f s %5s MiB/s   %s\n' \
  "$vu" "$(mib_s "$vu")" "$nu" "$(mib_s "$nu")" "$(ratio "$vu" "$nu")"
echo "all runs: vidmill down ${vid_down[*]} | nginx down ${ngx_down[*]} | vidmill up ${vid_up[*]} | nginx up ${ngx_up[*]}"
echo "vidmill RSS: idle $((idle_rss / 1024)) MiB, sampled peak during the first upload" \
  "$((peak / 1024)) MiB → growth $(((peak - idle_rss) / 1024)) MiB (goal < 64);" \
  "VmHWM $((idle_hwm / 1024)) MiB before, $((hwm / 1024)) MiB after"
