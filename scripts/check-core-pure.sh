#!/usr/bin/env bash
# The core must stay sans-IO: no napi, no tokio (nor anything else) among its normal
# dependencies, and no use of them in its source. Fails loudly if either creeps in.
set -euo pipefail
cd "$(dirname "$0")/.."
deps=$(cargo tree -p raftq-core -e normal --prefix none --offline 2>/dev/null || cargo tree -p raftq-core -e normal --prefix none)
extra=$(printf '%s\n' "$deps" | grep -v '^raftq-core ' | grep -v '^$' || true)
if [ -n "$extra" ]; then
  echo "core purity: raftq-core has normal dependencies:" >&2
  printf '%s\n' "$extra" >&2
  exit 1
fi
if grep -rnE '\b(napi|tokio|std::time::(Instant|SystemTime)|thread_rng|std::thread)\b' core/src; then
  echo "core purity: raftq-core source mentions napi/tokio/clock/threads (above)" >&2
  exit 1
fi
echo "core purity: raftq-core has no dependencies and no napi/tokio/clock/thread use"
