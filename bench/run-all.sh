#!/usr/bin/env bash
# Runs every benchmark under bench/*/run.sh against the given build directory.
# Each prints its own table; bench/README.md records the numbers.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
for script in "$here"/*/run.sh; do
  echo "== $(basename "$(dirname "$script")")"
  bash "$script" "$build"
done
