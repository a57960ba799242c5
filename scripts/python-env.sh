#!/usr/bin/env bash
# Creates (or reuses) the project's Python virtual environment at .venv with the pinned peer
# packages that interoperability tests and benchmarks compare against. Prints the venv's python.
#   scripts/python-env.sh            # test needs: mosaicml-streaming
#   scripts/python-env.sh bench      # benchmark peers too (torch, faiss-cpu)
#   scripts/python-env.sh torchrec   # TorchRec's peer, in its own .venv-torchrec: its
#                                    # fbgemm-gpu-cpu build needs torch 2.14, the others 2.15
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = torchrec ]; then
  venv="$root/.venv-torchrec"
  exec 9>"$venv.lock"
  flock 9
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  if ! "$venv/bin/python" -c "import torchrec, fbgemm_gpu" >/dev/null 2>&1; then
    # --no-deps: torchrec's metadata asks for the CUDA fbgemm-gpu, which would replace the
    # CPU build the file pins.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
      -r "$root/bench/peers/requirements-torchrec.txt" >&2
  fi
  echo "$venv/bin/python"
  exit 0
fi
venv="$root/.venv"
# Concurrent callers (tests run in parallel) wait here while one creates and fills the venv.
exec 9>"$root/.venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
py="$venv/bin/python"
want=(mosaicml-streaming==0.13.0)
if [ "${1:-}" = bench ]; then
  want+=(torch==2.15.0 faiss-cpu)
fi
missing=()
for req in "${want[@]}"; do
  name=${req%%==*}
  "$py" -m pip show -q "$name" >/dev/null 2>&1 || missing+=("$req")
done
if [ ${#missing[@]} -gt 0 ]; then
  "$py" -m pip install -q --disable-pip-version-check "${missing[@]}" >&2
fi
echo "$py"
