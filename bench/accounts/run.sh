#!/usr/bin/env bash
# Authenticated GET /accounts/v1/account against the unauthenticated health
# endpoint, same server, same run: wrk, 64 keep-alive connections, 2 threads.
# Usage: bench/accounts/run.sh [build-dir] [seconds]
set -euo pipefail
build=${1:-build}
seconds=${2:-15}
here=$(cd "$(dirname "$0")/../.." && pwd)
binary="$here/$build/vidmill"
command -v wrk >/dev/null || bash "$here/scripts/install-deps.sh" --bench
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$binary" user add --data-dir "$work" --email bench@example.com --password bench-password-1 \
  --team Bench >/dev/null
"$binary" serve --data-dir "$work" --listen 127.0.0.1:0 --workers 0 >"$work/out" 2>"$work/log" &
server=$!
for _ in $(seq 100); do grep -qs "listening on" "$work/out" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/out")
token=$(curl -s -u bench@example.com:bench-password-1 "$url/accounts/v1/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["jwtToken"])')

# The server's CPU time (user + system clock ticks): with wrk on the same
# machine, and other work on it, CPU per request is steadier than requests/s.
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz=$(getconf CLK_TCK)

run() {  # label, wrk args…
  local label=$1; shift
  local before after rps p99 requests
  before=$(ticks)
  wrk -t2 -c64 -d"${seconds}s" --latency "$@" >"$work/$label.txt"
  after=$(ticks)
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$label.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$label.txt")
  requests=$(awk '/requests in/ {print $1}' "$work/$label.txt")
  echo "$label $rps $p99 $(python3 -c "print(round(($after - $before) * 1e6 / $hz / $requests, 1))")"
}

health=$(run health "$url/healthz")
account=$(run account -H "Authorization: Bearer $token" "$url/accounts/v1/account")
read -r _ health_rps health_p99 health_cpu <<<"$health"
read -r _ account_rps account_p99 account_cpu <<<"$account"
errors=$(grep -h "Non-2xx" "$work"/*.txt || true)
printf '%-28s %12s %10s %22s\n' endpoint requests/s p99 "server CPU µs/request"
printf '%-28s %12s %10s %22s\n' "GET /healthz" "$health_rps" "$health_p99" "$health_cpu"
printf '%-28s %12s %10s %22s\n' "GET /accounts/v1/account" "$account_rps" "$account_p99" "$account_cpu"
python3 -c "print('authenticated / health = %.2f' % ($account_rps / $health_rps))"
[[ -z "$errors" ]] || echo "WARNING: $errors"
