'use strict';
// The in-process half of `npm run bench`, run once per library and measure in a fresh Node
// process (so one library's threads and timers never land in the other's figures):
//
//   node bench/inproc.js <mode> <library path> [json options]   -> one JSON line on stdout
//
// The transport is the one raftq's own TestCluster uses: every outgoing event is dispatched
// to its destination's `...Received` input (no serialization), the persist agent keeps the
// state in a Map. The same code drives both libraries.
//
// modes:
//   cpu       the host process alone for windowMs (CPU and event-loop delay with
//             monitorEventLoopDelay, 1 ms resolution), then a 4-node cluster at the given
//             heartbeat/election timing for windowMs: the library's CPU per node is the
//             difference divided by 4, the event-loop delay added is the p99 difference.
//   dispatch  one follower fed the heartbeat its library's own leader sends (captured from a
//             real 2-node cluster of the same library), as fast as the JS thread can call
//             dispatch: messages per second over `trials` runs of `ms`.
//   scale     for each size: time from serviceStarted to the first LEADER, then once every node follows one leader, the README
//             crash handler's steps on it (removed from every member with time: 0,
//             serviceCrashed, destroy) and the time to the next LEADER; `trials` per size.

const { monitorEventLoopDelay } = require('node:perf_hooks');
const { now, delay, poll } = require('./stats');

const [mode, libPath, json] = process.argv.slice(2);
const opts = json ? JSON.parse(json) : {};
const { Raftq } = require(libPath);

const MAPPING = {
  voteRequest: 'voteRequestReceived',
  voteResponse: 'voteResponseReceived',
  syncData: 'dataReceived',
  dataResponse: 'dataResponseReceived',
};

/** N nodes (ids '1'..'N') wired in memory like raftq's TestCluster. */
function makeCluster(n, timing, tap) {
  const ids = Array.from({ length: n }, (_, i) => String(i + 1));
  const storage = new Map();
  const nodes = new Map();
  const leaderAt = new Map(); // id -> monotonic ms of its latest `roleChanged` to LEADER
  for (const id of ids) {
    const raft = new Raftq({
      ...timing,
      persistAgent: {
        async persist(node, data) {
          storage.set(node.id, JSON.parse(JSON.stringify(data)));
        },
        async restore(node) {
          const d = storage.get(node.id);
          return d === undefined ? undefined : JSON.parse(JSON.stringify(d));
        },
      },
    });
    for (const [event, incoming] of Object.entries(MAPPING)) {
      raft.subscribe(event, (m) => {
        if (tap) tap(event, m, id);
        const target = nodes.get(m.destination.id);
        if (target) target.dispatch(incoming, m);
      });
    }
    raft.subscribe('roleChanged', (role) => {
      if (role === 3) leaderAt.set(id, now());
    });
    nodes.set(id, raft);
  }
  return {
    ids,
    nodes,
    leaderAt,
    async start() {
      const time = Date.now();
      for (const id of ids) {
        for (const peer of ids) if (peer !== id) await nodes.get(id).dispatch('ackNode', { id: peer, time });
      }
      const t0 = now();
      await Promise.all(ids.map((id) => nodes.get(id).dispatch('serviceStarted', { node: { id, time } })));
      return t0;
    },
    /** The one LEADER every other node names as its leader, or null. */
    agreed() {
      const ls = this.leaders();
      if (ls.length !== 1) return null;
      for (const [id, r] of nodes) if (id !== ls[0] && String(r.getLeader()) !== ls[0]) return null;
      return ls[0];
    },
    leaders() {
      return [...nodes.entries()].filter(([, r]) => r.getRole() === 3).map(([id]) => id);
    },
    /** The README crash handler's steps, in-process: leave the cluster, serviceCrashed, destroy. */
    async crash(id) {
      const raft = nodes.get(id);
      raft.getNode().time = 0;
      for (const f of raft.getFollowers()) {
        const peer = nodes.get(String(f.id));
        if (peer) peer.dispatch('ackNode', raft.getNode());
      }
      await raft.dispatch('serviceCrashed', { reason: 'bench' });
      await raft.destroy();
      nodes.delete(id);
    },
    async destroy() {
      const all = [...nodes.values()];
      nodes.clear();
      await Promise.all(all.map((r) => r.destroy()));
    },
  };
}

async function cpu() {
  const { windowMs = 4000, timing } = opts;
  const h = monitorEventLoopDelay({ resolution: 1 });
  const measure = async () => {
    h.reset();
    h.enable();
    const c0 = process.cpuUsage();
    const t0 = now();
    await delay(windowMs);
    const c = process.cpuUsage(c0);
    const wall = now() - t0;
    h.disable();
    return { cpuPct: ((c.user + c.system) / 1000 / wall) * 100, eldP99: h.percentile(99) / 1e6, eldP50: h.percentile(50) / 1e6, eldMax: h.max / 1e6 };
  };
  const base = await measure();
  const c = makeCluster(4, timing);
  await c.start();
  const led = await poll(() => c.leaders().length === 1, 10000, 10);
  await delay(1000);
  const withCluster = await measure();
  const leadersAfter = c.leaders().length;
  await c.destroy();
  return {
    base,
    withCluster,
    elected: Boolean(led),
    leadersAfter,
    libraryCpuPerNodePct: (withCluster.cpuPct - base.cpuPct) / 4,
    eldAddedP99: withCluster.eldP99 - base.eldP99,
  };
}

async function dispatch() {
  const { ms = 1500, trials = 5 } = opts;
  // 1. what this library's leader sends its follower: a real 2-node cluster, tapped
  const sent = { 1: [], 2: [] }; // by sender
  const pair = makeCluster(2, { heartbeat: 20, minimumElectionTime: 50, maximumElectionTime: 100 }, (event, m, from) => {
    if (event === 'syncData') sent[from].push(JSON.parse(JSON.stringify(m)));
  });
  await pair.start();
  const leader = await poll(() => {
    const ls = pair.leaders();
    return ls.length === 1 && sent[ls[0]].length >= 5 ? ls[0] : null;
  }, 20000, 5);
  await pair.destroy();
  if (!leader) throw new Error('no leader in the 2-node cluster within 20 s');
  const follower = leader === '1' ? '2' : '1';
  const bodies = sent[leader];
  const first = bodies.find((m) => m.data !== undefined) || bodies[0]; // the first body with the data
  const heartbeat = bodies[bodies.length - 1]; // a steady-state heartbeat

  // 2. a fresh follower (the same id) whose only member is the leader, timers far away
  const rates = [];
  let replies = 0;
  let failed = 0;
  for (let t = 0; t < trials; t++) {
    const f = new Raftq({
      heartbeat: 10000,
      minimumElectionTime: 60000,
      maximumElectionTime: 60000,
      persistAgent: { persist: async () => {}, restore: async () => undefined },
    });
    f.subscribe('dataResponse', (m) => {
      replies++;
      if (!m.success) failed++;
    });
    await f.dispatch('ackNode', { id: leader, time: 1 });
    await f.dispatch('serviceStarted', { node: { id: follower, time: 1 } });
    await f.dispatch('dataReceived', first);
    await delay(50); // its persist done
    for (let i = 0; i < 10000; i++) f.dispatch('dataReceived', heartbeat); // warm up
    await new Promise((r) => setImmediate(r));
    replies = 0;
    failed = 0;
    let count = 0;
    const t0 = now();
    while (now() - t0 < ms) {
      for (let i = 0; i < 1000; i++) f.dispatch('dataReceived', heartbeat);
      count += 1000;
      await new Promise((r) => setImmediate(r)); // let the microtasks and callbacks run
    }
    const secs = (now() - t0) / 1000;
    rates.push(count / secs);
    await f.destroy();
  }
  return { rates, lastTrial: { replies, failed }, heartbeatBytes: JSON.stringify(heartbeat).length };
}

async function scale() {
  const { sizes = [3, 5, 11, 25, 51], trials = 5, timing, timeoutMs = 10000, deadlineAt = Infinity } = opts;
  const out = {};
  for (const n of sizes) {
    const first = [];
    const next = [];
    let timeouts = 0;
    let noAgreement = 0;
    let ran = 0;
    for (let t = 0; t < trials && now() < deadlineAt; t++) {
      ran++;
      const c = makeCluster(n, timing);
      try {
        const t0 = await c.start();
        const l = await poll(() => (c.leaders().length ? c.leaders()[0] : null), timeoutMs, 2);
        if (!l) {
          timeouts++;
          continue;
        }
        first.push(c.leaderAt.get(l) - t0);
        // crash the leader the whole cluster follows (raftq 1.0.0 may briefly have two)
        const agreed = await poll(() => c.agreed(), timeoutMs, 10);
        if (!agreed) {
          noAgreement++;
          continue;
        }
        await delay(timing.heartbeat * 2);
        const t1 = now();
        await c.crash(agreed);
        const l2 = await poll(() => [...c.leaderAt.entries()].find(([id, at]) => id !== agreed && at > t1), timeoutMs, 2);
        if (!l2) timeouts++;
        else next.push(l2[1] - t1);
      } finally {
        await c.destroy();
      }
    }
    out[n] = { first, next, timeouts, noAgreement, ran };
  }
  return out;
}

const modes = { cpu, dispatch, scale };
if (!modes[mode]) {
  console.error(`usage: node bench/inproc.js <${Object.keys(modes).join('|')}> <library path> [json options]`);
  process.exit(2);
}
modes[mode]()
  .then((r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0); // raftq 1.0.0 leaves timers behind (its lone-node timeout): do not wait for them
  })
  .catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
