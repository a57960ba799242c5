#!/usr/bin/env bash
# Installs what cascade-dist's `mpi` feature needs to build and run, from Debian's packages:
#   libopenmpi-dev  Open MPI's headers and libraries (the `mpi` crate links against them)
#   openmpi-bin     mpirun / mpiexec, which launch the ranks
#   libclang-dev    libclang, with which the `mpi-sys` crate generates its bindings (bindgen)
# Idempotent and quick when everything is installed (it only asks dpkg). Installing needs root
# (apt-get); as another user it names the missing packages and exits 1. Prints the path of
# `mpirun` on success.
set -euo pipefail
packages=(libopenmpi-dev openmpi-bin libclang-dev)

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "install them as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "error: missing ${missing[*]} and no apt-get to install them with (Debian/Ubuntu only)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

mpirun=$(command -v mpirun || true)
if [ -z "$mpirun" ]; then
  echo "error: openmpi-bin is installed but mpirun is not on PATH" >&2
  exit 1
fi
echo "$mpirun"
