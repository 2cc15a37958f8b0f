'use strict';
// What users feel, measured on the addon through its public API (in-memory 4-node cluster,
// heartbeat 10 ms, elections 100-200 ms, messages forwarded on the next microtask):
//   - failover after `serviceCrashed` on the leader (leadership hand-off), against a leader
//     that just goes silent (what every raftq 1.0.0 failover is: wait for an election timeout);
//   - replication latency: `replicateData` on the leader until every follower's getData() has it;
//   - bytes on the wire per second with an unchanged 10 KB data value, against the same
//     message count carrying the data every heartbeat (raftq 1.0.0's syncData always does);
//   - cost of one dispatched heartbeat on a follower, against a plain JS event bus like raftq's;
//   - CPU of an idle cluster.
// `node bench/addon.js [dir] [--json]` (dir: the checkout to load, its addon built; default
// this one. RAFTQ_BENCH_RUNS sets the failover runs, default 20). Prints one table, or with
// --json one line of JSON (what bench/guard.js reads).

const path = require('node:path');
const args = process.argv.slice(2);
const JSON_OUT = args.includes('--json');
const DIR = path.resolve(args.find((a) => a !== '--json') || path.join(__dirname, '..'));
const { Raftq } = require(DIR);
const { createMemoryCluster } = require(path.join(DIR, 'examples', 'memory-cluster'));

const RUNS = Number(process.env.RAFTQ_BENCH_RUNS || 20);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const p = (xs, q) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

async function waitFor(cond, timeoutMs) {
  const t0 = now();
  while (now() - t0 < timeoutMs) {
    const v = cond();
    if (v !== undefined && v !== null && v !== false) return v;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out after ${timeoutMs} ms`);
}

function leaderOf(cluster, exclude) {
  const ls = cluster.ids.filter((id) => id !== exclude && cluster.node(id).getRole() === 3);
  return ls.length === 1 ? ls[0] : undefined;
}

async function failover(mode) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const c = createMemoryCluster({ size: 4 });
    await c.start();
    const old = await waitFor(() => leaderOf(c), 2000);
    await delay(30); // let followers ack the leader's first version
    const t0 = now();
    if (mode === 'handoff') {
      await c.node(old).dispatch('serviceCrashed', { reason: 'bench' });
    } else {
      c.isolate(old); // silent: no hand-off, followers must time out
    }
    await waitFor(() => leaderOf(c, old), 3000);
    times.push(now() - t0);
    await c.destroy();
  }
  return times;
}

async function replication() {
  const c = createMemoryCluster({ size: 4 });
  await c.start();
  const leader = await waitFor(() => leaderOf(c), 2000);
  await delay(30);
  const lat = [];
  for (let i = 0; i < 200; i++) {
    const value = { n: i };
    const t0 = now();
    c.node(leader).dispatch('replicateData', value);
    await waitFor(() => c.ids.every((id) => c.node(id).getData().n === i), 1000);
    lat.push(now() - t0);
  }
  await c.destroy();
  return lat;
}

async function wireBytes() {
  const big = { blob: 'x'.repeat(10_000) };
  const bigSize = JSON.stringify(big).length;
  let bytes = 0;
  let syncData = 0;
  let counting = false;
  const c = createMemoryCluster({
    size: 4,
    tap: (event, msg) => {
      if (!counting) return;
      // what a transport like the README's (JSON over HTTP) puts on the wire
      bytes += JSON.stringify(msg).length;
      if (event === 'syncData') syncData++;
    },
  });
  await c.start();
  const leader = await waitFor(() => leaderOf(c), 2000);
  await c.node(leader).dispatch('replicateData', big);
  await delay(100);
  counting = true;
  const t0 = now();
  await delay(1000);
  counting = false;
  const secs = (now() - t0) / 1000;
  await c.destroy();
  // the same messages if every syncData carried the data, as raftq 1.0.0's do
  const always = bytes + syncData * bigSize;
  return { perSec: bytes / secs, alwaysPerSec: always / secs, syncPerSec: syncData / secs };
}

async function dispatchCost() {
  // a follower receiving heartbeats from its leader
  const mk = () =>
    new Raftq({
      heartbeat: 10_000,
      minimumElectionTime: 60_000,
      maximumElectionTime: 60_000,
      persistAgent: { persist: async () => {}, restore: async () => undefined },
    });
  const f = mk();
  const leaderNode = { id: 'L', time: 1 };
  f.dispatch('ackNode', leaderNode);
  await f.dispatch('serviceStarted', { node: { id: 'F', time: 1 } });
  const hb = {
    destination: { id: 'F', time: 1 },
    timeout: 50,
    node: leaderNode,
    term: 1,
    dataTerm: 1,
    dataIndex: 1,
    commitTerm: 0,
    commitIndex: 0,
    data: { a: 1 },
  };
  await f.dispatch('dataReceived', hb);
  delete hb.data;
  const N = 100_000;
  for (let i = 0; i < 10_000; i++) f.dispatch('dataReceived', hb);
  await delay(10);
  let t0 = now();
  for (let i = 0; i < N; i++) f.dispatch('dataReceived', hb);
  await delay(0);
  const ours = ((now() - t0) * 1000) / N;
  await f.destroy();

  // raftq 1.0.0's bus: listeners in a Map, each run in a microtask, Promise.all over them; its
  // dataReceived handler compares terms and sets a few fields
  const listeners = new Map();
  const state = { term: 1, leader: null, data: null, role: 2 };
  listeners.set('dataReceived', [
    async (m) => {
      if (m.term < state.term) return;
      state.term = m.term;
      state.leader = m.node.id;
      state.data = m.data;
    },
  ]);
  const bus = (type, msg) => Promise.all((listeners.get(type) || []).map((l) => Promise.resolve().then(() => l(msg))));
  for (let i = 0; i < 10_000; i++) bus('dataReceived', hb);
  await delay(10);
  t0 = now();
  for (let i = 0; i < N; i++) bus('dataReceived', hb);
  await delay(0);
  const jsBus = ((now() - t0) * 1000) / N;
  return { ours, jsBus };
}

async function idleCpu() {
  const c = createMemoryCluster({ size: 4 });
  await c.start();
  await waitFor(() => leaderOf(c), 2000);
  await delay(100);
  const u0 = process.cpuUsage();
  const t0 = now();
  await delay(3000);
  const u = process.cpuUsage(u0);
  const wall = now() - t0;
  await c.destroy();
  return ((u.user + u.system) / 1000 / wall) * 100;
}

async function main() {
  const handoff = await failover('handoff');
  const silent = await failover('silent');
  const lat = await replication();
  const wire = await wireBytes();
  const cost = await dispatchCost();
  const cpu = await idleCpu();
  if (JSON_OUT) {
    console.log(JSON.stringify({ dir: DIR, handoff: median(handoff), silent: median(silent), replication: median(lat), replicationP90: p(lat, 0.9), dispatch: cost.ours, jsBus: cost.jsBus, cpu }));
    return;
  }
  const f = (x, d = 1) => x.toFixed(d);
  const rows = [
    ['failover, serviceCrashed on the leader (hand-off)', `median ${f(median(handoff))} ms, p90 ${f(p(handoff, 0.9))} ms`, ''],
    ['failover, leader goes silent (election timeout)', `median ${f(median(silent))} ms, p90 ${f(p(silent, 0.9))} ms`, `hand-off is ${f(median(silent) / Math.max(median(handoff), 0.01), 0)}x faster`],
    ['replicateData -> every follower shows it', `median ${f(median(lat), 2)} ms, p90 ${f(p(lat, 0.9), 2)} ms`, 'sent at once, not at the next heartbeat'],
    ['bytes/s on the wire, 10 KB data unchanged', `${f(wire.perSec / 1024)} KiB/s (${f(wire.syncPerSec, 0)} syncData/s)`, `data on every syncData: ${f(wire.alwaysPerSec / 1024)} KiB/s (${f(wire.alwaysPerSec / wire.perSec, 0)}x)`],
    ['one dispatched heartbeat on a follower', `${f(cost.ours, 2)} us`, `plain JS bus + handler: ${f(cost.jsBus, 2)} us`],
    ['CPU of an idle 4-node cluster (one process)', `${f(cpu)} % of one core`, ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(`raftq-native addon benchmark (${RUNS} failover runs each; node ${process.version})`);
  console.log(`${'measure'.padEnd(w0)} | ${'raftq-native'.padEnd(w1)} | comparison`);
  console.log(`${'-'.repeat(w0)}-|-${'-'.repeat(w1)}-|-----------`);
  for (const r of rows) console.log(`${r[0].padEnd(w0)} | ${r[1].padEnd(w1)} | ${r[2]}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
