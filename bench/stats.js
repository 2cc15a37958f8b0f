'use strict';
// Small shared helpers of the bench: percentiles, the shared monotonic clock, bounded waits.

/** ms on CLOCK_MONOTONIC (process.hrtime): the same clock in every process of the machine. */
const now = () => Number(process.hrtime.bigint()) / 1e6;
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile (q in 0..1) of the finite numbers of `xs`, or null if none. */
function pct(xs, q) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const rank = Math.max(1, Math.ceil(q * s.length));
  return s[Math.min(s.length, rank) - 1];
}
const median = (xs) => pct(xs, 0.5);

/** { n, p50, p90, p99, min, max } of a sample. */
function summary(xs) {
  const f = xs.filter((x) => Number.isFinite(x));
  return {
    n: f.length,
    p50: pct(f, 0.5),
    p90: pct(f, 0.9),
    p99: pct(f, 0.99),
    min: f.length ? Math.min(...f) : null,
    max: f.length ? Math.max(...f) : null,
  };
}

/** Poll `cond` (sync or async) until truthy, at most `timeoutMs`; resolves to its value or null. */
async function poll(cond, timeoutMs, intervalMs = 20) {
  const t0 = now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (now() - t0 >= timeoutMs) return null;
    await delay(intervalMs);
  }
}

module.exports = { now, delay, pct, median, summary, poll };
