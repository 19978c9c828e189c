#!/usr/bin/env bash
# Queue overhead on SQLite and PostgreSQL: jobs per minute for 1, 2 and 4
# worker processes on a backlog of no-op jobs (the real worker loop; the work
# itself is free), and how long an idle worker takes to pick up a new job.
# PostgreSQL is a throw-away local cluster (scripts/pg-cluster.sh, durability
# off); SQLite is a file in /tmp (WAL, synchronous=NORMAL).
#
#   bash bench/scaleout/run.sh [build-dir]      SCALEOUT_JOBS=2000 by default
set -euo pipefail
build=${1:-build}
repo=$(cd "$(dirname "$0")/../.." && pwd)
[[ "$build" == /* ]] || build="$PWD/$build"
bench="$build/bench/scaleout/scaleout_queue_bench"
if [[ ! -x "$bench" ]]; then
  echo "scaleout: skipped, $bench is not built (the top-level CMakeLists.txt needs" \
    "add_subdirectory(bench/scaleout))" >&2
  exit 0
fi
jobs=${SCALEOUT_JOBS:-2000}
tmp=$(mktemp -d /tmp/vidmill-scaleout-XXXXXX)
export VIDMILL_PG_STATE="$build/bench-pg-cluster.state"
cleanup() {
  "$repo/scripts/pg-cluster.sh" stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
admin=$("$repo/scripts/pg-cluster.sh" start)

echo "queue overhead: $jobs no-op jobs, poll 200 ms; pickup = enqueue → done while idle"
printf "%-8s %7s %6s %8s %10s %10s %10s\n" backend workers jobs seconds jobs/min \
  pickup_p50 pickup_max
for workers in 1 2 4; do
  "$bench" --database "$tmp/sqlite-$workers.db" --workers "$workers" --jobs "$jobs"
  db="scaleout_$workers"
  PGOPTIONS="-c client_min_messages=warning" psql "$admin" -qAtc "DROP DATABASE IF EXISTS $db" \
    -c "CREATE DATABASE $db" >/dev/null
  "$bench" --database "${admin%/postgres}/$db" --workers "$workers" --jobs "$jobs"
done

# GET /videos/v1/video/{id} throughput: one API node (no workers), one video,
# wrk with 2 threads and 32 connections for WRK_SECONDS (10) after a warm-up.
vidmill="$build/vidmill"
wrk_seconds=${WRK_SECONDS:-10}
if [[ ! -x "$vidmill" ]] || ! command -v wrk >/dev/null; then
  echo "scaleout: skipping the HTTP benchmark (needs $vidmill and wrk: install-deps.sh --bench)"
  exit 0
fi
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap 'stop_server; cleanup' EXIT

# Starts `vidmill serve` on $1 (database URL) with data in $2; sets $port.
start_server() {
  mkdir -p "$2"
  "$vidmill" serve --listen 127.0.0.1:0 --workers 0 --database "$1" --data-dir "$2" \
    >"$2/stdout" 2>"$2/server.log" &
  server_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$2/stdout")
    [[ -n "$port" ]] && return 0
    sleep 0.1
  done
  echo "scaleout: the server did not start:" >&2
  cat "$2/server.log" >&2
  exit 1
}

json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

bench_get() {  # $1 = label, $2 = database URL, $3 = data dir
  start_server "$2" "$3"
  "$vidmill" user add --email bench@example.com --password "bench password 1" --team bench \
    --database "$2" --data-dir "$3" >/dev/null
  local base="http://127.0.0.1:$port" token id out
  token=$(curl -sf -u "bench@example.com:bench password 1" "$base/accounts/v1/token" |
    json_field jwtToken)
  id=$(curl -sf -X PUT -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
    -d '{"name":"bench"}' "$base/videos/v1/video" | json_field videoId)
  if [[ -z "$id" ]]; then
    echo "scaleout: could not create a video to read" >&2
    exit 1
  fi
  wrk -t2 -c32 -d2s -H "Authorization: Bearer $token" "$base/videos/v1/video/$id" >/dev/null
  out=$(wrk -t2 -c32 -d"${wrk_seconds}s" --latency -H "Authorization: Bearer $token" \
    "$base/videos/v1/video/$id")
  local failed
  failed=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf "%-8s %10s %10s %10s %8s\n" "$1" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1 == "50%" {print $2}')" \
    "$(echo "$out" | awk '$1 == "99%" {print $2}')" "${failed:-0}"
  stop_server
}

echo
echo "GET /videos/v1/video/{id}: wrk -t2 -c32 -d${wrk_seconds}s against one API node"
printf "%-8s %10s %10s %10s %8s\n" backend req/s p50 p99 non-2xx
bench_get sqlite "$tmp/http-sqlite/vidmill.db" "$tmp/http-sqlite"
PGOPTIONS="-c client_min_messages=warning" psql "$admin" -qAtc "DROP DATABASE IF EXISTS scaleout_http" \
  -c "CREATE DATABASE scaleout_http" >/dev/null
bench_get postgres "${admin%/postgres}/scaleout_http?pool_max_conns=16" "$tmp/http-postgres"
