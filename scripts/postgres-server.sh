#!/usr/bin/env bash
# A real PostgreSQL server with the pgvector extension, for the cascade-pgvector tests and for
# local use.
#   scripts/postgres-server.sh bin              # create/reuse the venv; print the server's bin dir
#   scripts/postgres-server.sh start DIR [PORT] # start a server storing into DIR; print its URL
#   scripts/postgres-server.sh stop DIR         # stop the server started for DIR
# Debian bookworm has no pgvector package, so the server comes from PyPI: the pinned pgserver
# wheel bundles PostgreSQL 16 and pgvector 0.6. Its binaries are used directly (not its Python
# API). The cluster lives in DIR/data, the server listens on 127.0.0.1 only (its unix socket is in
# DIR too), trusts loopback connections (a server for tests and local work, never expose it), and
# logs to DIR/server.log. The superuser and database are both "postgres"; the printed URL is
# postgres://postgres@127.0.0.1:PORT/postgres and the `vector` extension is already created in it.
# Starting again on the same DIR and PORT reopens the same cluster; starting a DIR whose server
# still runs prints that server's URL. PORT defaults to a free port.
# PostgreSQL refuses to run as root: run as root, the script runs the server as the `postgres`
# system user (creating it if missing) and hands DIR to that user.
# The venv is .venv-pg at the repository root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/pinned-venv.sh
source "$root/scripts/lib/pinned-venv.sh"
venv="$root/.venv-pg"
pinned=pgserver==0.1.4

python_env() {
  pinned_venv "$venv" "$pinned"
}

# The bin directory of the bundled PostgreSQL.
pg_bin() {
  local py bin
  py=$(python_env)
  # Found without importing pgserver, whose import starts work of its own.
  bin=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/pgserver/pginstall/bin
  if [ ! -x "$bin/postgres" ]; then
    echo "error: the pgserver wheel has no PostgreSQL binaries at $bin" >&2
    return 1
  fi
  echo "$bin"
}

# Runs a command as the user owning the cluster: ourselves, or `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

ensure_owner() {
  local dir=$1
  [ "$(id -u)" = 0 ] || return 0
  if ! getent passwd postgres >/dev/null; then
    # Several starts may race to create the user: serialise on the venv lock.
    exec 8>"$root/.venv-pg.lock"
    flock 8
    getent passwd postgres >/dev/null ||
      useradd --system --user-group --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
    flock -u 8
    exec 8>&-
  fi
  chown -R postgres: "$dir"
  # The server must reach its binaries (inside the venv) and DIR; grant traversal of the parents.
  local d
  for d in "$(dirname "$dir")" "$venv"; do
    while [ "$d" != / ]; do
      setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$d" || chmod o+x "$d"
      d=$(dirname "$d")
    done
  done
}

start() {
  local dir=$1 port=${2:-}
  local py bin
  py=$(python_env)
  bin=$(pg_bin)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # Reuse a server already running for this cluster (on the asked port, if one was asked).
  if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
    local running
    running=$(cat "$dir/server.port")
    if [ -z "$port" ] || [ "$port" = "$running" ]; then
      echo "postgres://postgres@127.0.0.1:$running/postgres"
      return 0
    fi
    echo "error: a server for $dir already runs on port $running; stop it first" >&2
    return 1
  fi
  ensure_owner "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir/data"
    if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C >>"$dir/server.log" 2>&1; then
      echo "error: initdb failed for $dir/data; see $dir/server.log:" >&2
      tail -n 20 "$dir/server.log" >&2
      return 1
    fi
  fi
  if [ -z "$port" ]; then
    port=$(free_port "$py")
  fi
  local url="postgres://postgres@127.0.0.1:$port/postgres"
  # Detached in its own session so that the caller's exit does not take the server down; setpriv
  # execs, so the recorded pid is the postmaster's own.
  setsid bash -c 'if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else exec "$@"; fi' \
    postgres "$bin/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$dir" \
    >>"$dir/server.log" 2>&1 </dev/null &
  echo $! >"$dir/server.pid"
  echo "$port" >"$dir/server.port"
  for _ in $(seq 1 120); do
    if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
      echo "error: the PostgreSQL server exited; see $dir/server.log:" >&2
      tail -n 20 "$dir/server.log" >&2
      return 1
    fi
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres 2>/dev/null; then
      # Another server may hold the port (a PORT given twice, or taken since it was found free):
      # make sure the one answering is ours.
      local served
      served=$("$bin/psql" -q -X -t -A -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c 'SHOW data_directory' 2>/dev/null || true)
      if [ "$served" != "$dir/data" ]; then
        echo "error: port $port is served by another PostgreSQL (data directory ${served:-unknown}), not the one for $dir" >&2
        stop "$dir"
        return 1
      fi
      if ! "$bin/psql" -q -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c 'CREATE EXTENSION IF NOT EXISTS vector' >>"$dir/server.log" 2>&1; then
        echo "error: could not create the vector extension on $url; see $dir/server.log:" >&2
        tail -n 20 "$dir/server.log" >&2
        stop "$dir"
        return 1
      fi
      echo "$url"
      return 0
    fi
    sleep 0.5
  done
  echo "error: the PostgreSQL server did not accept connections on $url within 60 s; see $dir/server.log:" >&2
  tail -n 20 "$dir/server.log" >&2
  stop "$dir"
  return 1
}

stop() {
  local dir=$1
  [ -f "$dir/server.pid" ] || return 0
  local pid
  pid=$(cat "$dir/server.pid")
  # SIGINT is PostgreSQL's fast shutdown: it ends the sessions and stops cleanly.
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # The server runs in its own session (started with setsid) led by this pid: end whatever of
  # that group is left, which holds the server and its workers and nothing else.
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$dir/server.pid"
}

case "${1:-}" in
bin) pg_bin ;;
start) start "${2:?usage: $0 start DIR [PORT]}" "${3:-}" ;;
stop) stop "${2:?usage: $0 stop DIR}" ;;
*)
  echo "usage: $0 bin | start DIR [PORT] | stop DIR" >&2
  exit 2
  ;;
esac
