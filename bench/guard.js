'use strict';
// Issue 7's performance guard: what moving the Raftq class into Rust must not make worse, this
// checkout against an earlier one (RAFTQ_BEFORE=<dir>: a checkout with its addon built, e.g.
// `git worktree add /tmp/before b619fb9 && (cd /tmp/before && npm ci)`), measured in one run,
// alternating, each in a fresh process (bench/addon.js, bench/persist-release.js):
//   - one dispatched heartbeat on a follower, against a plain JS bus like raftq's (target 1.3x);
//   - hand-off failover in memory (serviceCrashed on the leader), median;
//   - replication latency to every follower, median;
//   - persist resolving -> the held vote leaving the node, median.
// `node bench/guard.js` (also a section of `npm run bench`). Prints a Markdown table, and with
// --json the rows as one line of JSON. Nothing is asserted.

const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const BEFORE = process.env.RAFTQ_BEFORE ? path.resolve(process.env.RAFTQ_BEFORE) : null;
const ROUNDS = Number(process.env.RAFTQ_GUARD_ROUNDS || 2);

function run(script, dir) {
  const r = spawnSync(process.execPath, [path.join(__dirname, script), dir, '--json'], {
    encoding: 'utf8',
    timeout: 300000,
    env: { ...process.env, RAFTQ_BENCH_RUNS: process.env.RAFTQ_BENCH_RUNS || '20' },
  });
  const line = (r.stdout || '').trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    return { error: `${script} ${dir}: exit ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
  }
}

/** The median of each field over the rounds. */
function merge(list) {
  const ok = list.filter((x) => !x.error);
  if (ok.length === 0) return list[0] || { error: 'no run' };
  const out = {};
  for (const k of Object.keys(ok[0])) {
    const vs = ok.map((x) => x[k]).filter((v) => typeof v === 'number').sort((a, b) => a - b);
    out[k] = vs.length ? vs[Math.floor(vs.length / 2)] : ok[0][k];
  }
  return out;
}

function measure() {
  const dirs = BEFORE ? [BEFORE, ROOT] : [ROOT];
  const res = new Map(dirs.map((d) => [d, { addon: [], persist: [] }]));
  for (let i = 0; i < ROUNDS; i++) {
    for (const d of dirs) {
      process.stderr.write(`[guard] ${d === ROOT ? 'this checkout' : 'before'}: round ${i + 1}/${ROUNDS}\n`);
      res.get(d).addon.push(run('addon.js', d));
      res.get(d).persist.push(run('persist-release.js', d));
    }
  }
  const one = (d) => ({ addon: merge(res.get(d).addon), persist: merge(res.get(d).persist) });
  return { before: BEFORE ? one(BEFORE) : null, after: one(ROOT) };
}

function rows(m) {
  const f = (x, d = 2) => (typeof x === 'number' ? x.toFixed(d) : 'n/a');
  const col = (r) => {
    if (!r) return null;
    if (r.addon.error || r.persist.error) return { error: r.addon.error || r.persist.error };
    return {
      dispatch: `${f(r.addon.dispatch)} us vs ${f(r.addon.jsBus)} us JS bus (${f(r.addon.dispatch / r.addon.jsBus)}x)`,
      handoff: `${f(r.addon.handoff, 2)} ms`,
      replication: `${f(r.addon.replication, 3)} ms`,
      persist: `${f(r.persist.median, 1)} us`,
    };
  };
  const a = col(m.after);
  const b = col(m.before);
  const names = [
    ['dispatch', 'one dispatched heartbeat on a follower', 'within 1.3x of the JS bus'],
    ['handoff', 'hand-off failover in memory, median', 'not worse'],
    ['replication', 'replication to every follower, median', 'not worse'],
    ['persist', 'persist resolved -> held vote leaves, median', 'not worse'],
  ];
  return names.map(([k, measure, target]) => ({
    measure,
    before: b ? (b.error ? b.error : b[k]) : 'RAFTQ_BEFORE unset',
    after: a.error ? a.error : a[k],
    target,
  }));
}

function table(rs) {
  const lines = ['| measure | before | after | target |', '|---|---|---|---|'];
  for (const r of rs) lines.push(`| ${r.measure} | ${r.before} | ${r.after} | ${r.target} |`);
  return lines.join('\n');
}

module.exports = { measure, rows, table };

if (require.main === module) {
  const m = measure();
  const rs = rows(m);
  if (process.argv.includes('--json')) console.log(JSON.stringify({ rows: rs, results: m }));
  else {
    console.log(`issue 7 guard: ${BEFORE ? `before = ${BEFORE}, ` : ''}after = ${ROOT}; ${ROUNDS} alternating rounds, medians`);
    console.log(table(rs));
  }
}
