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
  echo "scaleout: $bench is not built (cmake --build $build --target scaleout_queue_bench)" >&2
  exit 1
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
