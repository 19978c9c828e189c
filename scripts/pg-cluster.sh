#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests and benchmarks, built from Debian's
# postgresql package: initdb into a fresh temp dir (as the postgres user when
# run as root), listening on 127.0.0.1 only, on a free port, trust auth.
#
#   scripts/pg-cluster.sh start    start a cluster (or reuse the running one
#                                  recorded in the state file); prints its URL
#   scripts/pg-cluster.sh url      prints the admin URL of the running cluster
#   scripts/pg-cluster.sh stop     stops the cluster and removes its files
#   scripts/pg-cluster.sh pause    stops the server, keeps its data and port
#   scripts/pg-cluster.sh resume   starts a paused server again (same port)
#   scripts/pg-cluster.sh status   exit 0 when the server is up
#   scripts/pg-cluster.sh freeze   stops its processes (SIGSTOP): connections
#                                  stay open and nothing answers
#   scripts/pg-cluster.sh thaw     lets them run again (SIGCONT)
#
# The state file (VIDMILL_PG_STATE, default build/pg-cluster.state under the
# repository) records the data directory and port, so `stop` cleans up exactly
# what `start` made and two checkouts never share a cluster. The admin URL is
# postgresql://postgres@127.0.0.1:PORT/postgres.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${VIDMILL_PG_STATE:-$repo/build/pg-cluster.state}"
[[ "$state" == /* ]] || state="$PWD/$state"

die() { echo "pg-cluster: $*" >&2; exit 1; }

find_bindir() {
  local dir
  if [[ -n "${VIDMILL_PG_BINDIR:-}" ]]; then echo "$VIDMILL_PG_BINDIR"; return; fi
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$dir" && -x "$dir/initdb" ]]; then echo "$dir"; return; fi
  if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; return; fi
  die "initdb not found: install the postgresql package (scripts/install-deps.sh)"
}

# Runs a command as the cluster owner: postgres refuses to run as root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

load_state() {
  [[ -f "$state" ]] || return 1
  # shellcheck disable=SC1090
  source "$state"
  [[ -n "${PG_DIR:-}" && -n "${PG_PORT:-}" && -n "${PG_BINDIR:-}" ]]
}

url() { echo "postgresql://postgres@127.0.0.1:$PG_PORT/postgres"; }

server_up() {
  [[ -d "$PG_DIR/data" ]] && as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1 &&
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 5
}

start_server() {
  as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT" start >/dev/null
}

stop_server() {
  [[ -f "$PG_DIR/data/postmaster.pid" ]] || return 0
  if ! as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
    local pid
    pid="$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
}

cmd_stop() {
  if ! load_state; then
    rm -f "$state"
    return 0
  fi
  stop_server
  case "$PG_DIR" in
    /tmp/vidmill-pg-*|"${TMPDIR:-/tmp}"/vidmill-pg-*) rm -rf "$PG_DIR" ;;
    *) echo "pg-cluster: not removing unexpected directory $PG_DIR" >&2 ;;
  esac
  rm -f "$state"
}

# Clusters whose state file was lost (say, the build dir was deleted while one
# ran): each cluster dir names the state file that owns it.
sweep_orphans() {
  local dir owner
  for dir in "${TMPDIR:-/tmp}"/vidmill-pg-*; do
    # Another test's cluster may be removed meanwhile (its owner file gone
    # between the test and the read): not ours, and no reason to fail.
    owner="$(cat "$dir/owner" 2>/dev/null)" || continue
    [[ "$owner" == "$state" && "$dir" != "${PG_DIR:-}" ]] || continue
    echo "pg-cluster: removing the orphaned cluster in $dir" >&2
    (
      PG_DIR="$dir"
      PG_BINDIR="$(find_bindir)"
      stop_server
      rm -rf "$dir"
    )
  done
}

cmd_start() {
  if load_state; then
    if server_up; then
      url
      return 0
    fi
    echo "pg-cluster: replacing the stale cluster in $PG_DIR" >&2
    cmd_stop
  fi
  PG_DIR=""
  sweep_orphans
  PG_BINDIR="$(find_bindir)"
  mkdir -p "$(dirname "$state")"
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vidmill-pg-XXXXXX")"
  # Recorded before anything can fail, so `stop` always finds what to remove.
  PG_PORT=0
  write_state
  echo "$state" >"$PG_DIR/owner"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$PG_DIR"; fi
  as_owner "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C \
    --no-sync >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  # Throw-away data: durability off for speed; short deadlock_timeout so tests
  # that provoke deadlocks do not wait a second each.
  cat >>"$PG_DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
max_connections = 300
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
deadlock_timeout = 100ms
log_min_messages = warning
EOF
  # Below the kernel's ephemeral range (32768 by default): a port there is
  # never handed out for a listener on port 0 or a client's source port, so
  # no test beside a paused cluster takes its port before it resumes (a
  # resume had failed so once).
  local low=32768 span attempt
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  span=$((low - 20000))
  ((span >= 1000)) || span=40000
  for attempt in 1 2 3 4 5 6 7 8; do
    PG_PORT=$((20000 + (RANDOM * 32768 + RANDOM) % span))
    port_in_use "$PG_PORT" && continue
    write_state
    if start_server; then
      url
      return 0
    fi
    # Lost a race for the port (or another failure): look at the log, try again.
    tail -n 5 "$PG_DIR/server.log" >&2 || true
  done
  die "could not start PostgreSQL (see $PG_DIR/server.log)"
}

write_state() {
  printf 'PG_DIR=%q\nPG_PORT=%q\nPG_BINDIR=%q\n' "$PG_DIR" "$PG_PORT" "$PG_BINDIR" >"$state"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url)
    load_state || die "no cluster recorded in $state"
    server_up || die "the cluster in $PG_DIR is not running"
    url
    ;;
  status)
    load_state && server_up
    ;;
  pause)
    load_state || die "no cluster recorded in $state"
    as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null
    ;;
  resume)
    load_state || die "no cluster recorded in $state"
    server_up || start_server
    ;;
  freeze | thaw)
    load_state || die "no cluster recorded in $state"
    postmaster=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    signal=$([[ "$1" == freeze ]] && echo STOP || echo CONT)
    # The server and every backend it forked (the children first on freeze).
    kill -s "$signal" $(pgrep -P "$postmaster") "$postmaster"
    ;;
  *) die "usage: $0 start|stop|url|status|pause|resume|freeze|thaw" ;;
esac
