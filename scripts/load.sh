#!/usr/bin/env bash
# Load test on loopback: bare vs tower-http stack vs sessionscope layer (with and without its
# summary line), JSON tracing on. Each mode runs for a bounded time with wrk and the script
# stops its servers itself.
#   scripts/load.sh [seconds-per-run] [rounds] [sessionscope|fmt]   (the JSON output)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
rounds="${2:-3}"
output="${3:-sessionscope}"
port=39123
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build -q --release --example load_server
server=target/release/examples/load_server

run() { # mode -> "req/s p99"
  "$server" "$1" "$port" "$output" >/dev/null &
  local pid=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  local out
  out=$(wrk -t1 -c32 -d"${seconds}s" --latency -H "x-session-id: load-session-0123456789abcdef" "http://127.0.0.1:$port/r")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$rps $p99"
}

declare -A total
echo "| round | mode | requests/s | p99 latency |"
echo "| --- | --- | ---: | ---: |"
for round in $(seq "$rounds"); do
  # Interleaved, so drift on a noisy machine hits every mode alike.
  for mode in bare tower-http layered layered-no-summary; do
    read -r rps p99 < <(run "$mode")
    total[$mode]=$(awk -v a="${total[$mode]:-0}" -v b="$rps" 'BEGIN {print a + b}')
    echo "| $round | $mode | $rps | $p99 |"
  done
done
echo
for mode in tower-http layered layered-no-summary; do
  awk -v m="$mode" -v x="${total[$mode]}" -v b="${total[bare]}" -v t="${total[tower-http]}" \
    'BEGIN {printf "%s keeps %.1f%% of bare throughput (%.2fx tower-http)\n", m, 100 * x / b, x / t}'
done
