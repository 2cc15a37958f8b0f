#!/usr/bin/env bash
# Messages stepped per second by the sans-IO core (5-node cluster, no faults).
# RAFTQ_BENCH_MS sets the wall time per scenario (default 1000); an argument filters scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p raftq-core --bench step -- "$@"
