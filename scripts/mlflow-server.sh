#!/usr/bin/env bash
# A real MLflow tracking server for the experiment-tracking tests and for local use.
#   scripts/mlflow-server.sh python             # create/reuse the venv; print its python
#   scripts/mlflow-server.sh start DIR [PORT]   # start a server storing into DIR; print its URL
#   scripts/mlflow-server.sh stop DIR           # stop the server started for DIR
# The server keeps its runs in DIR/mlflow.db (SQLite) and its artifacts in DIR/artifacts, serves
# artifacts through its proxy, listens on 127.0.0.1 only, and logs to DIR/server.log. Starting
# again on the same DIR and PORT reopens the same store; starting a DIR whose server still runs
# prints that server's URL. PORT defaults to a free port.
# The venv is .venv-mlflow at the repository root, separate from the project's other venv
# because MLflow pins many packages of its own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/pinned-venv.sh
source "$root/scripts/lib/pinned-venv.sh"
venv="$root/.venv-mlflow"
pinned=mlflow==3.17.2

python_env() {
  pinned_venv "$venv" "$pinned"
}

start() {
  local dir=$1 port=${2:-}
  local py
  py=$(python_env)
  mkdir -p "$dir/artifacts"
  dir=$(cd "$dir" && pwd)
  # Reuse a server already running for this store (on the asked port, if one was asked).
  if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
    local running
    running=$(cat "$dir/server.port")
    if [ -z "$port" ] || [ "$port" = "$running" ]; then
      echo "http://127.0.0.1:$running"
      return 0
    fi
    echo "error: a server for $dir already runs on port $running; stop it first" >&2
    return 1
  fi
  if [ -z "$port" ]; then
    port=$(free_port "$py")
  fi
  local url="http://127.0.0.1:$port"
  # Detached in its own session so that the caller's exit does not take the server down.
  setsid "$venv/bin/mlflow" server --host 127.0.0.1 --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$dir/mlflow.db" \
    --artifacts-destination "$dir/artifacts" \
    >>"$dir/server.log" 2>&1 </dev/null &
  echo $! >"$dir/server.pid"
  echo "$port" >"$dir/server.port"
  # The first start migrates a fresh database, which takes a while: wait up to three minutes.
  for _ in $(seq 1 360); do
    if "$py" -c "import urllib.request,sys; urllib.request.urlopen('$url/health', timeout=2)" 2>/dev/null; then
      echo "$url"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
      echo "error: the MLflow server exited; see $dir/server.log:" >&2
      tail -n 20 "$dir/server.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "error: the MLflow server did not answer $url/health within 180 s; see $dir/server.log" >&2
  stop "$dir"
  return 1
}

stop() {
  local dir=$1
  [ -f "$dir/server.pid" ] || return 0
  local pid
  pid=$(cat "$dir/server.pid")
  # The server runs in its own session (started with setsid) led by this pid: end that group,
  # which holds the server and its workers and nothing else.
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$dir/server.pid"
}

case "${1:-}" in
python) python_env ;;
start) start "${2:?usage: $0 start DIR [PORT]}" "${3:-}" ;;
stop) stop "${2:?usage: $0 stop DIR}" ;;
*)
  echo "usage: $0 python | start DIR [PORT] | stop DIR" >&2
  exit 2
  ;;
esac
