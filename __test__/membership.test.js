'use strict';
// Membership is Raft's, with the README demo's own flows: processes of examples/dashboard/node.js
// (the README's Express app: every new process POSTs ackNode with itself to every peer and acks
// those that answered; the crash handler POSTs ackNode with time 0 to its followers before
// serviceCrashed), unmodified, on loopback. Each test is one way raftq's out-of-band membership
// loses data or elects two leaders; each checks one leader per term, no acknowledged write lost,
// and convergence.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { waitFor, freePorts, tempDir, spawnLogged, killAll, canResolve, postData, fetchStatus, delay, ROOT } = require('./_helpers');

const NODE = path.join(ROOT, 'examples', 'dashboard', 'node.js');
const TIMING = { RAFTQ_HEARTBEAT: '20', RAFTQ_MIN_ELECTION: '150', RAFTQ_MAX_ELECTION: '300' };
const MAX_ELECTION = 300;
const missing = ['express', 'axios'].filter((m) => !canResolve(m));
const skip = missing.length ? `devDependencies not installed: ${missing.join(', ')}` : false;
const T = { skip, timeout: 120000 };

const allProcs = [];
const allDirs = [];
test.after(async () => {
  await killAll(allProcs);
  for (const d of allDirs) fs.rmSync(d, { recursive: true, force: true });
});

const status = (port) => fetchStatus(port, 2000);

async function post(port, route, body) {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(2000),
  });
  return res.status;
}

/** A node's committed voters (a build without replicated membership: itself and its members,
 * so that this file shows what such a build does rather than failing on a missing field). */
const committedVoters = (s) =>
  s.status.configuration ? s.status.configuration.committed || [] : [s.status.id, ...s.status.members];
const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

/** Processes of the demo node for `ports`, state in one temp dir; watches leaders per term. */
function demoCluster(ports, extraEnv = {}) {
  const dir = tempDir('raftq-members-');
  allDirs.push(dir);
  const procs = new Map();
  const leadersByTerm = new Map(); // term -> Set of ports seen leading it
  let watching = true;
  const spawnNode = (port) => {
    const p = spawnLogged(process.execPath, [NODE], {
      cwd: ROOT,
      env: { ...process.env, ...TIMING, ...extraEnv, RAFTQ_PORTS: ports.join(','), RAFTQ_PORT: String(port), RAFTQ_DIR: dir },
    });
    allProcs.push(p);
    procs.set(port, p);
    return p;
  };
  const start = async (port) => {
    const p = spawnNode(port);
    await p.waitForLine(/raft started|"type":"started"/, 20000);
    return p;
  };
  const alive = () => [...procs.entries()].filter(([, p]) => !p.exitInfo).map(([port]) => port);
  const statuses = async (among = alive()) => {
    const out = [];
    for (const port of among) {
      try {
        out.push({ port, ...(await status(port)) });
      } catch {
        /* not listening (yet, or any more) */
      }
    }
    return out;
  };
  // leaders per term, sampled (the processes also log every role change: see `twoLeaders`)
  const watcher = (async () => {
    while (watching) {
      for (const s of await statuses()) {
        if (s.role === 3) {
          const set = leadersByTerm.get(s.status.term) || new Set();
          set.add(s.port);
          leadersByTerm.set(s.status.term, set);
        }
      }
      await delay(15);
    }
  })();
  const twoLeaders = () => [...leadersByTerm.entries()].filter(([, set]) => set.size > 1);
  /** one leader among `among`, named by all, one term, every node's committed configuration = `voters` */
  const converged = async (among, voters = among) => {
    const sts = await statuses(among);
    if (sts.length !== among.length) return false;
    const leaders = sts.filter((s) => s.role === 3);
    if (leaders.length !== 1) return false;
    const l = leaders[0];
    const ok = sts.every(
      (s) =>
        String(s.leader) === String(l.status.id) &&
        s.status.term === l.status.term &&
        sameSet(committedVoters(s).map(String), voters.map(String)) &&
        JSON.stringify(s.data) === JSON.stringify(l.data),
    );
    return ok ? { leader: Number(l.port), statuses: sts, data: l.data } : false;
  };
  const waitConverged = (among, voters, ms = 30000) =>
    waitFor(() => converged(among, voters), ms, `one leader among ${among} with voters ${voters || among} (${describe()})`, 50);
  /** write `body` through the current leader (redirects followed), `{code}` of the last try */
  const write = async (body, ms = 10000) => {
    const deadline = Date.now() + ms;
    let last = { code: 0 };
    while (Date.now() < deadline) {
      const sts = await statuses();
      const l = sts.find((s) => s.role === 3);
      if (l) {
        last = await postData(l.port, body, 5000).catch(() => ({ code: 0 }));
        if (last.code === 200) return last;
      }
      await delay(50);
    }
    return last;
  };
  const describe = () =>
    [...procs.entries()]
      .map(([port, p]) => `${port}${p.exitInfo ? ' (exited)' : ''}:\n${p.output().split('\n').slice(-6).join('\n')}`)
      .join('\n');
  const stop = async () => {
    watching = false;
    await watcher;
  };
  return { dir, procs, start, spawnNode, alive, statuses, converged, waitConverged, write, twoLeaders, stop, describe };
}

/** Start `ports` one after the other (the demo's way) and wait for one leader over all. */
async function startInOrder(c, ports) {
  for (const port of ports) await c.start(port);
  return c.waitConverged(ports);
}

test('1: a power cut (kill -9 of all) and the node with the oldest file first: it acknowledges nothing alone, the committed write survives', T, async () => {
  const ports = await freePorts(3);
  const c = demoCluster(ports);
  try {
    const { leader } = await startInOrder(c, ports);
    const stale = ports.find((p) => p !== leader);
    // the stale node misses the write: its file is the oldest
    assert.equal(await post(stale, '/demo/cut', { cut: true }), 200);
    const w = await c.write({ committed: 'before the power cut' });
    assert.equal(w.code, 200, 'the write is committed by the other two');
    for (const p of ports) c.procs.get(p).kill('SIGKILL');
    await Promise.all(ports.map((p) => c.procs.get(p).exited));
    // it comes back first: no peer answers its ackNode POSTs
    await c.start(stale);
    await delay(6 * MAX_ELECTION);
    const s = await status(stale);
    assert.notEqual(s.role, 3, `alone it is no majority (it holds the configuration ${JSON.stringify(s.status.configuration)})`);
    const alone = await postData(stale, { alone: true }, 3000).catch(() => ({ code: 0 }));
    assert.notEqual(alone.code, 200, 'a write is not acknowledged by one node of three');
    // the others return: the committed write is everywhere, nothing went back
    for (const p of ports.filter((p) => p !== stale)) await c.start(p);
    const done = await c.waitConverged(ports);
    assert.deepEqual(done.data, { committed: 'before the power cut' });
    assert.deepEqual(c.twoLeaders(), [], 'one leader per term');
  } finally {
    await c.stop();
    await killAll([...c.procs.values()]);
  }
});

test('2: a node restarted while its peers are unreachable does not lead alone; no two leaders in one term', T, async () => {
  const ports = await freePorts(3);
  const c = demoCluster(ports);
  try {
    await startInOrder(c, ports);
    const restarted = ports[0];
    const peers = ports.slice(1);
    // a brief partition: the peers answer nothing (their ackNode route fails too)
    for (const p of peers) assert.equal(await post(p, '/demo/cut', { cut: true }), 200);
    c.procs.get(restarted).kill('SIGKILL');
    await c.procs.get(restarted).exited;
    await c.start(restarted);
    await delay(6 * MAX_ELECTION);
    assert.notEqual((await status(restarted)).role, 3, 'it holds the configuration of three: one vote is no majority');
    for (const p of peers) assert.equal(await post(p, '/demo/cut', { cut: false }), 200);
    await c.waitConverged(ports);
    assert.equal((await c.write({ after: 'healing' })).code, 200);
    await c.waitConverged(ports);
    assert.deepEqual(c.twoLeaders(), [], 'one leader per term');
  } finally {
    await c.stop();
    await killAll([...c.procs.values()]);
  }
});

test('3: processes started at about the same moment with bootstrapExpect: none leads before it knows them all, then one leader over all', T, async () => {
  const ports = await freePorts(3);
  const c = demoCluster(ports, { RAFTQ_BOOTSTRAP_EXPECT: '3' });
  try {
    // the first process finds no peer listening yet (its ackNode POSTs are refused)
    const first = c.spawnNode(ports[0]);
    await first.waitForLine(/raft started/, 20000);
    await delay(6 * MAX_ELECTION);
    assert.notEqual((await status(ports[0])).role, 3, 'a majority of one is no cluster');
    const alone = await postData(ports[0], { alone: true }, 3000).catch(() => ({ code: 0 }));
    assert.notEqual(alone.code, 200, 'nothing acknowledged before the cluster exists');
    // the others start at once (docker-compose style)
    const rest = ports.slice(1).map((p) => c.spawnNode(p));
    await Promise.all(rest.map((p) => p.waitForLine(/raft started/, 20000)));
    const done = await c.waitConverged(ports);
    assert.equal((await c.write({ fresh: true })).code, 200);
    await c.waitConverged(ports);
    assert.deepEqual(c.twoLeaders(), [], 'one leader per term');
    for (const s of done.statuses) assert.deepEqual(committedVoters(s).map(String).sort(), ports.map(String).sort());
  } finally {
    await c.stop();
    await killAll([...c.procs.values()]);
  }
});

test('4: a crash handler whose removal POST is lost on one node: the views do not split; 4 -> 3 after the crash, 4 again after the restart', T, async () => {
  const ports = await freePorts(4);
  const c = demoCluster(ports);
  try {
    const { leader } = await startInOrder(c, ports);
    const [crashing, deaf] = ports.filter((p) => p !== leader);
    // the deaf node refuses everything for a moment: the crash handler's POST to it is lost
    assert.equal(await post(deaf, '/demo/cut', { cut: true }), 200);
    c.procs.get(crashing).kill('SIGINT');
    await c.procs.get(crashing).exited;
    assert.equal(await post(deaf, '/demo/cut', { cut: false }), 200);
    const rest = ports.filter((p) => p !== crashing);
    // the leader got the intent and removed it: every node holds the same configuration,
    // although one never heard of the removal
    await c.waitConverged(rest, rest);
    assert.equal((await c.write({ three: true })).code, 200);
    // restarted, it joins again (its ackNode POSTs reach everyone)
    await c.start(crashing);
    await c.waitConverged(ports, ports);
    assert.equal((await c.write({ four: true })).code, 200);
    const done = await c.waitConverged(ports, ports);
    assert.deepEqual(done.data, { four: true });
    assert.deepEqual(c.twoLeaders(), [], 'one leader per term');
  } finally {
    await c.stop();
    await killAll([...c.procs.values()]);
  }
});

for (const guarded of [true, false]) {
  const title = guarded
    ? '5: with a secret and ackNode taken only with its token, removals POSTed by anyone change no membership; one leader per term, every acknowledged write kept'
    : "5b: raftq's any-action route (ackNode open to anyone): removals POSTed by anyone to every node shrink the configuration but split nothing; one leader per term, every acknowledged write kept";
  test(title, T, async () => {
    const ports = await freePorts(3);
    const c = demoCluster(ports, guarded ? { RAFTQ_SECRET: 'membership test secret, 32 bytes+' } : {});
    try {
      await startInOrder(c, ports);
      // the attacker: ackNode with time 0, for every node, on every node
      const codes = [];
      for (const target of ports) for (const victim of ports) codes.push(await post(target, '/raft/action/ackNode', { id: String(victim), time: 0 }));
      if (guarded) assert.ok(codes.every((code) => code === 403), `unauthenticated ackNode refused: ${codes}`);
      else assert.ok(codes.every((code) => code === 200), `the open route takes them: ${codes}`);
      // every node is asked to write; the acknowledged ones must all be on one history
      const acked = [];
      const deadline = Date.now() + 4000;
      let seq = 0;
      while (Date.now() < deadline) {
        for (const p of ports) {
          const r = await postData(p, { seq: ++seq, via: p }, 2000).catch(() => ({ code: 0 }));
          if (r.code === 200) acked.push(seq);
        }
        await delay(20);
      }
      assert.ok(acked.length > 0, 'the cluster still takes writes');
      assert.deepEqual(c.twoLeaders(), [], 'one leader per term');
      const sts = await c.statuses();
      const leaders = sts.filter((s) => s.role === 3);
      assert.equal(leaders.length, 1, 'one node leads');
      // the newest acknowledged write (or a later one) is what the cluster holds: no node
      // acknowledged a write of a history of its own
      const l = leaders[0];
      assert.ok(l.data.seq >= Math.max(...acked), `the leader holds the newest acknowledged write or a later one (${describeAcks(acked)}; holds ${l.data.seq})`);
      if (guarded) for (const s of sts) assert.deepEqual(committedVoters(s).map(String).sort(), ports.map(String).sort(), 'membership unchanged');
    } finally {
      await c.stop();
      await killAll([...c.procs.values()]);
    }
  });
}

function describeAcks(acked) {
  return `${acked.length} acknowledged, last ${acked.slice(-3).join(',')}`;
}

test('a rolling restart under writes (each node SIGINTed and restarted in turn): no acknowledged write lost, one leader per term', T, async () => {
  const ports = await freePorts(3);
  const c = demoCluster(ports);
  try {
    await startInOrder(c, ports);
    let seq = 0;
    let maxAcked = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const s = ++seq;
        const r = await c.write({ seq: s }, 3000);
        if (r.code === 200) maxAcked = Math.max(maxAcked, s);
      }
    })();
    for (const p of ports) {
      c.procs.get(p).kill('SIGINT');
      await c.procs.get(p).exited;
      await c.start(p);
      await c.waitConverged(ports, ports);
    }
    writing = false;
    await writer;
    assert.ok(maxAcked > 0, 'writes went through during the restarts');
    const done = await c.waitConverged(ports, ports);
    assert.ok(done.data.seq >= maxAcked, `the cluster holds ${done.data.seq}, at least the newest acknowledged ${maxAcked}`);
    assert.deepEqual(c.twoLeaders(), [], 'one leader per term');
  } finally {
    await c.stop();
    await killAll([...c.procs.values()]);
  }
});
