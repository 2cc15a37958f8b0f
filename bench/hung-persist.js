'use strict';
// A persist that never settles, under load: a follower whose persistAgent.persist() never
// resolves receives RAFTQ_HEARTBEATS (default 1,000,000) heartbeats from its leader, dispatched
// as fast as the event loop takes them. Every heartbeat's reply must wait for that persist (it
// acknowledges state not yet on disk), so what the node holds meanwhile is what is measured:
// RSS and getStatus().held before and after, then how long destroy() takes with the persist
// still hung. `node --expose-gc bench/hung-persist.js` (prints one table).

const { Raftq } = require('..');

const N = Number(process.env.RAFTQ_HEARTBEATS || 1e6);
const BATCH = 10000;
const GIVE_UP_MS = 10000;
const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
const gc = () => {
  if (global.gc) global.gc();
};

(async () => {
  let persistCalls = 0;
  const raft = new Raftq({
    heartbeat: 500,
    minimumElectionTime: 1500,
    maximumElectionTime: 2000,
    persistAgent: {
      persist: () => {
        persistCalls++;
        return new Promise(() => {}); // never settles
      },
      restore: async () => undefined,
    },
  });
  const logs = [];
  raft.subscribe('log', (l) => logs.push(l.message));
  const leader = { id: 'leader', time: 1 };
  await raft.dispatch('ackNode', leader);
  await raft.dispatch('serviceStarted', { node: { id: 'me', time: 1 } });
  gc();
  const rss0 = process.memoryUsage().rss;
  // a heartbeat of term 1 for a version the follower lacks (no data): the first one raises the
  // term (a persist, which hangs), every one gets a reply that waits for it
  const body = { node: leader, term: 1, dataTerm: 1, dataIndex: 1, commitTerm: 0, commitIndex: 0, timeout: 10000, destination: { id: 'me' } };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += BATCH) {
    const n = Math.min(BATCH, N - i);
    for (let j = 0; j < n; j++) raft.dispatch('dataReceived', body);
    await new Promise((r) => setImmediate(r));
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  gc();
  const rss1 = process.memoryUsage().rss;
  const st = raft.getStatus();
  const rows = [
    ['heartbeats dispatched', N.toLocaleString('en-US')],
    ['dispatch time', `${secs.toFixed(2)} s (${((secs / N) * 1e6).toFixed(2)} µs each)`],
    ['RSS before', mb(rss0)],
    ['RSS after', `${mb(rss1)} (+${mb(rss1 - rss0)})`],
    ['getStatus().held after', st.held === undefined ? 'n/a (no such field)' : String(st.held)],
    ['term, persist requested/done', `${st.term}, ${st.persist.requested}/${st.persist.done}`],
    ['persist calls', String(persistCalls)],
  ];
  const w = 34;
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  // destroy() with the persist still hung: bounded by max(1 s, maximumElectionTime)
  const d0 = Date.now();
  let timer;
  const resolved = await Promise.race([
    raft.destroy().then(() => true),
    new Promise((r) => {
      timer = setTimeout(r, GIVE_UP_MS, false);
    }),
  ]);
  clearTimeout(timer);
  const destroyMs = Date.now() - d0;
  console.log(`${'destroy() with the persist hung'.padEnd(w)}  ${resolved ? `${destroyMs} ms` : `not resolved after ${destroyMs} ms (gave up)`}`);
  const notable = logs.filter((m) => /persist|held|replies/.test(m));
  if (notable.length) console.log(`log lines about it:\n  ${notable.slice(0, 6).join('\n  ')}`);
})().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
