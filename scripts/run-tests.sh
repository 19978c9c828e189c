#!/usr/bin/env bash
# Runs every test: all of them on SQLite, then the store and integration tests
# again on a throw-away PostgreSQL cluster that this script starts and stops.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
parallel=${VIDMILL_TEST_JOBS:-$(( $(nproc) + 2 ))}

echo "== tests on SQLite"
ctest --test-dir "$build" -j"$parallel" --output-on-failure --timeout 600

if [[ -x "$here/scripts/pg-cluster.sh" && -z "${VIDMILL_SKIP_POSTGRES:-}" ]]; then
  echo "== store and integration tests on PostgreSQL"
  # One cluster per build directory, so parallel checkouts never share one.
  export VIDMILL_PG_STATE="$(cd "$build" && pwd)/pg-cluster.state"
  admin_url=$("$here/scripts/pg-cluster.sh" start)
  trap '"$here/scripts/pg-cluster.sh" stop >/dev/null 2>&1 || true' EXIT
  VIDMILL_TEST_POSTGRES="$admin_url" ctest --test-dir "$build" -j"$parallel" \
    --output-on-failure --timeout 600 -L postgres
fi
