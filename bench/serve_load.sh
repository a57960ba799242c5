#!/usr/bin/env bash
# Load on `cascade serve` over loopback: wrk (Debian's) with 64 connections for 60 s against
# POST /v1/recommend on the MovieLens 100K runs of `cascade quickstart --data ../shared/data/ml-100k` (retrieval
# over 1,682 movies, 100 candidates re-ranked by the DLRM), with a hot reload
# (POST /v1/admin/reload) half-way through. Reports requests/s, p50/p99 latency, errors (socket
# errors, non-2xx answers, 5xx counted by the service itself), the service's resident memory
# every 10 s, and whether the reload happened under load.
#   bench/serve_load.sh [SECONDS] [CONNECTIONS]      # defaults 60 and 64
# Installs wrk with apt-get when it is missing and this runs as root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
connections=${2:-64}
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2
  else
    echo "error: wrk is not installed (as root: apt-get install -y wrk)" >&2
    exit 1
  fi
fi
movielens="$root/../shared/data/ml-100k"
if [ ! -f "$movielens/u.data" ]; then
  echo "error: $movielens is missing; the load runs on the MovieLens 100K runs" >&2
  exit 1
fi
cargo build --release -q -p cascade
cascade=$root/target/release/cascade
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

"$cascade" quickstart --data "$movielens" --out "$work/qs" >/dev/null
"$cascade" serve --retrieval "$work/qs/retrieval" --ranking "$work/qs/ranking" \
  --bind 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 1 600); do
  grep -q listening "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.out")
rss() { awk '/VmRSS/ {print int($2 / 1024) " MiB"}' "/proc/$pid/status"; }
echo "service $url (pid $pid), resident $(rss) before load"

(
  for t in $(seq 10 10 "$seconds"); do
    sleep 10
    echo "  t=${t}s resident $(rss)"
    if [ "$t" = $((seconds / 20 * 10)) ]; then
      reload=$(curl -s -X POST "$url/v1/admin/reload")
      echo "  t=${t}s hot reload: $reload"
    fi
  done
) &
sampler=$!
wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s --latency \
  -s bench/load/recommend.lua "$url" | tee "$work/wrk.txt"
wait "$sampler"

metrics=$(curl -s "$url/metrics")
server_errors=$(echo "$metrics" | awk -F' ' '/^cascade_http_requests_total/ && /status="5/ {n += $2} END {print n + 0}')
version=$(echo "$metrics" | awk '/^cascade_model_version / {print $2}')
rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")
socket=$(grep -o 'Socket errors:.*' "$work/wrk.txt" || true)
echo "summary: ${rps} requests/s, p50 ${p50}, p99 ${p99}, non-2xx ${non2xx:-0}," \
  "service 5xx ${server_errors}, ${socket:-no socket errors}, model version ${version} after the reload"
if [ -n "$non2xx" ] || [ "$server_errors" != 0 ] || [ -n "$socket" ] || [ "$version" != 2 ]; then
  echo "error: requests failed under load, or the reload did not happen" >&2
  exit 1
fi
