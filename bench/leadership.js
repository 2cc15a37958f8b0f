'use strict';
// Issue 8's benchmark, in memory (examples/memory-cluster.js: 4 nodes in one process, heartbeat
// 10 ms, elections 100-200 ms, messages forwarded on the next microtask):
//   - replicate() on the leader -> `dataChanged` with that version on every follower;
//   - replicate() -> its Promise resolving { term, index } on the leader (commit);
//   - confirmLeadership() -> true (one heartbeat round to a majority).
// `node bench/leadership.js [--json]` (RAFTQ_BENCH_WRITES sets the rounds, default 200). Prints
// a table, or one line of JSON (what `npm run bench` reads). Nothing is asserted.

const { createMemoryCluster } = require('../examples/memory-cluster');
const { now, summary } = require('./stats');

const N = Number(process.env.RAFTQ_BENCH_WRITES || 200);

async function waitFor(cond, ms) {
  const t0 = now();
  while (now() - t0 < ms) {
    const v = cond();
    if (v) return v;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out after ${ms} ms`);
}

async function main() {
  const c = createMemoryCluster({ size: 4 });
  await c.start();
  const leaderOf = () => {
    const ls = c.ids.filter((id) => c.node(id).getRole() === 3);
    return ls.length === 1 ? ls[0] : undefined;
  };
  const leader = await waitFor(leaderOf, 3000);
  const followers = c.ids.filter((id) => id !== leader);
  // the newest version each follower announced on dataChanged
  const seen = new Map();
  for (const id of followers) c.node(id).subscribe('dataChanged', (e) => seen.set(id, e));
  const raft = c.node(leader);
  await raft.replicate({ warm: true });
  const toFollowers = [];
  const toCommit = [];
  for (let i = 0; i < N; i++) {
    const t0 = now();
    let committedAt = 0;
    const p = raft.replicate({ n: i }).then((v) => {
      committedAt = now();
      return v;
    });
    const v = await p;
    await waitFor(() => followers.every((id) => {
      const e = seen.get(id);
      return e && e.term === v.term && e.index >= v.index;
    }), 2000);
    toFollowers.push(now() - t0);
    toCommit.push(committedAt - t0);
  }
  const confirm = [];
  for (let i = 0; i < N; i++) {
    const t0 = now();
    const ok = await raft.confirmLeadership();
    if (ok !== true) throw new Error('confirmLeadership() on a healthy leader answered false');
    confirm.push(now() - t0);
  }
  await c.destroy();
  return { toFollowers: summary(toFollowers), toCommit: summary(toCommit), confirm: summary(confirm), rounds: N };
}

main()
  .then((r) => {
    if (process.argv.includes('--json')) return console.log(JSON.stringify(r));
    const f = (s) => `median ${s.p50.toFixed(3)} ms, p90 ${s.p90.toFixed(3)} ms`;
    console.log(`issue 8, in memory (4 nodes, ${r.rounds} rounds each)`);
    console.log('| measure | latency |\n|---|---|');
    console.log(`| replicate() -> dataChanged on every follower | ${f(r.toFollowers)} |`);
    console.log(`| replicate() -> resolved { term, index } on the leader | ${f(r.toCommit)} |`);
    console.log(`| confirmLeadership() -> true | ${f(r.confirm)} |`);
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
