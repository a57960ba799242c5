# Sourced by the scripts that start local servers for tests (mlflow-server.sh,
# postgres-server.sh): a Python venv holding one pinned package, and a free loopback port.

# pinned_venv VENV PACKAGE==VERSION: creates or reuses VENV with exactly that version of
# PACKAGE installed and prints its python. Tests start servers concurrently: one process at a
# time (a lock beside the venv) creates and fills it, the others wait and then find it complete.
pinned_venv() {
  local venv=$1 pinned=$2
  exec 9>"$venv.lock"
  flock 9
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
  fi
  local py="$venv/bin/python"
  if [ "$("$py" -c "import importlib.metadata as m; print(m.version('${pinned%%==*}'))" 2>/dev/null)" != "${pinned#*==}" ]; then
    "$py" -m pip install -q --disable-pip-version-check "$pinned" >&2
  fi
  flock -u 9
  exec 9>&-
  echo "$py"
}

# free_port PYTHON: a TCP port free on 127.0.0.1 right now.
free_port() {
  "$1" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
