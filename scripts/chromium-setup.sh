#!/usr/bin/env bash
# Installs Debian's chromium (the headless browser of scripts/report-screenshot.sh) when it is
# missing and this runs as root; otherwise, when it is missing, says how to install it and
# exits 1. Quick when it is installed.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium" >&2
  apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2
else
  echo "error: chromium is not installed (as root: apt-get install -y chromium)" >&2
  exit 1
fi
