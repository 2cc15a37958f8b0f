'use strict';
// Issue 15, items 1-2: what one immutable value per version costs, on a 1 MB value. Readers
// (getData(), dataChanged, read()) must get a value a local edit cannot change: either the node
// freezes each value once, where it enters (what the addon does), or it hands every reader a
// copy. `node bench/values.js` prints a table; nothing is asserted.
//   - normalise: JSON.parse(JSON.stringify(v)), what the leader stores (Date -> string, ...);
//   - deep freeze: the addon's walk (src/binding/js.rs VALUES), once per version;
//   - a copy per read: structuredClone / JSON round trip, at every getData() instead;
//   - getData() / read() on a 1 MB value through the addon (a one-node cluster).
const { Raftq } = require('..');
const { now, summary } = require('./stats');

function freeze(root) {
  // the same walk as the addon's (iterative; already-frozen children not walked again)
  if (root === null || typeof root !== 'object') return root;
  const stack = [root];
  while (stack.length !== 0) {
    const o = stack.pop();
    Object.freeze(o);
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) {
        const c = o[i];
        if (c !== null && typeof c === 'object' && !Object.isFrozen(c)) stack.push(c);
      }
    } else {
      for (const k in o) {
        const c = o[k];
        if (c !== null && typeof c === 'object' && !Object.isFrozen(c)) stack.push(c);
      }
    }
  }
  return root;
}

/** about 1 MB of JSON: 13,000 small records */
function value() {
  const items = [];
  for (let i = 0; i < 13000; i++) items.push({ id: i, name: `item-${i}`, tags: ['a', 'b'], at: { t: i * 1000, ok: i % 2 === 0 } });
  return { items };
}

function time(n, f) {
  const xs = [];
  for (let i = 0; i < n; i++) {
    const v = value();
    const t0 = now();
    f(v);
    xs.push(now() - t0);
  }
  return summary(xs);
}

async function main() {
  const bytes = JSON.stringify(value()).length;
  const N = 30;
  const rows = [
    ['normalise (JSON.parse(JSON.stringify(v))), once per version on the leader', time(N, (v) => JSON.parse(JSON.stringify(v)))],
    ['deep freeze, once per version (every node)', time(N, freeze)],
    ['structuredClone, per read (the alternative)', time(N, (v) => structuredClone(v))],
    ['JSON round trip, per read (the alternative)', time(N, (v) => JSON.parse(JSON.stringify(v)))],
  ];
  // through the addon: a one-node cluster
  const raft = new Raftq({ heartbeat: 10, minimumElectionTime: 50, maximumElectionTime: 60, persistAgent: { async persist() {}, async restore() {} } });
  await raft.dispatch('serviceStarted', { node: { id: 1, time: Date.now() } });
  const t0 = now();
  while (raft.getRole() !== 3 && now() - t0 < 10000) await new Promise((r) => setTimeout(r, 5));
  const rep = [];
  for (let i = 0; i < N; i++) {
    const v = value();
    const t = now();
    await raft.replicate(v);
    rep.push(now() - t);
  }
  rows.push(['replicate() of it (normalise + freeze + commit, one node)', summary(rep)]);
  const gets = [];
  for (let i = 0; i < 1000; i++) {
    const t = now();
    raft.getData();
    gets.push(now() - t);
  }
  rows.push(['getData() of it (frozen: no copy)', summary(gets)]);
  const reads = [];
  for (let i = 0; i < 200; i++) {
    const t = now();
    await raft.read();
    reads.push(now() - t);
  }
  rows.push(['read() of it (one node)', summary(reads)]);
  await raft.destroy();
  console.log(`a ${(bytes / 1e6).toFixed(2)} MB value (${N} samples; getData() 1000)\n`);
  console.log('| operation | median | p90 |\n|---|---|---|');
  for (const [what, s] of rows) console.log(`| ${what} | ${s.p50.toFixed(3)} ms | ${s.p90.toFixed(3)} ms |`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
