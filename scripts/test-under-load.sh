#!/usr/bin/env bash
# `npm test` on a loaded machine: a CPU hog keeps every core busy (stress-ng --cpu N, installed
# from Debian when apt-get is there, else N busy Node processes) while the suite runs twice in
# a row. Prints the load average before and after each run; the hog is always stopped (trap).
#
#   scripts/test-under-load.sh            # npm test, twice
#   RUNS=1 scripts/test-under-load.sh node --test __test__/http.test.js
#
# Exit status: 0 when every run passed, else the status of the last failing run.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-2}"
CPUS="${CPUS:-$(nproc 2>/dev/null || echo 2)}"
if [ "$#" -gt 0 ]; then CMD=("$@"); else CMD=(npm test); fi

hog_pids=()
stop_hog() {
  for p in "${hog_pids[@]}"; do
    kill "$p" 2>/dev/null
  done
  for p in "${hog_pids[@]}"; do
    wait "$p" 2>/dev/null
  done
  hog_pids=()
}
trap stop_hog EXIT
trap 'stop_hog; exit 130' INT TERM

if ! command -v stress-ng >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
  echo "test-under-load: installing stress-ng"
  { $SUDO apt-get install -y -qq stress-ng || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq stress-ng; }; } >/dev/null 2>&1 ||
    echo "test-under-load: could not install stress-ng; busy Node processes instead"
fi

if command -v stress-ng >/dev/null 2>&1; then
  echo "test-under-load: stress-ng --cpu $CPUS"
  stress-ng --cpu "$CPUS" --quiet &
  hog_pids+=($!)
else
  echo "test-under-load: $CPUS busy Node processes"
  for _ in $(seq "$CPUS"); do
    node -e 'for (;;) {}' &
    hog_pids+=($!)
  done
fi
# let the load average climb before the first run
sleep "${WARMUP:-20}"

status=0
for run in $(seq "$RUNS"); do
  echo "test-under-load: run $run of $RUNS: ${CMD[*]}  (load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime))"
  start=$(date +%s)
  "${CMD[@]}"
  rc=$?
  echo "test-under-load: run $run of $RUNS ended with status $rc after $(($(date +%s) - start)) s (load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime))"
  if [ "$rc" -ne 0 ]; then status=$rc; fi
done
stop_hog
echo "test-under-load: $([ "$status" -eq 0 ] && echo "all $RUNS runs passed" || echo "a run failed (status $status)")"
exit "$status"
