'use strict';
// Four processes of examples/http-cluster.js on loopback: elections, SIGINT failover (the
// demo's crash handler), kill -9 failover and restart from the persisted file.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { waitFor, withTimeout, freePorts, tempDir, spawnLogged, killAll, canResolve, postData, fetchStatus, ROOT } = require('./_helpers');

const EXAMPLE = path.join(ROOT, 'examples', 'http-cluster.js');
const TIMING = { RAFTQ_HEARTBEAT: '50', RAFTQ_MIN_ELECTION: '150', RAFTQ_MAX_ELECTION: '300' };
// Bounds for conditions to be reached, generous enough for a machine whose cores are busy with
// other work (scripts/test-under-load.sh): elections of 150-300 ms churn there, and a status
// request may take a second. They bound the wait; they are not latencies under test.
const LEADER_WAIT = 30000;
const DATA_WAIT = 20000;
const EXIT_WAIT = 15000;
const missing = ['express', 'axios'].filter((m) => !canResolve(m));
const skip = missing.length ? `devDependencies not installed: ${missing.join(', ')}` : false;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const allProcs = [];
const allDirs = [];
test.after(async () => {
  await killAll(allProcs);
  for (const d of allDirs) fs.rmSync(d, { recursive: true, force: true });
});

const status = (port) => fetchStatus(port);

/**
 * Write `body` (POST /data) through the agreed leader of `c` (other than port `not`), until a
 * write there commits: { l, w }. On a loaded machine elections churn, and a write may reach a
 * node just as it stops leading (409): then it is tried again where the leader now is.
 */
function writeThroughLeader(c, body, what, not) {
  return waitFor(
    async () => {
      const l = await c.agreedLeader();
      if (!l || l.port === not) return false;
      const w = await postData(l.port, body);
      return w.code === 200 && w.body.ok === true ? { l, w } : false;
    },
    LEADER_WAIT,
    what,
    50,
  ).catch((err) => {
    throw new Error(`${err.message}\n${c.describe()}`);
  });
}

/** A cluster of example processes; `ports` is the whole configured cluster. */
function httpCluster(ports, dir) {
  const procs = new Map();
  function start(port) {
    const p = spawnLogged(process.execPath, [EXAMPLE], {
      cwd: ROOT,
      env: { ...process.env, ...TIMING, RAFTQ_PORTS: ports.join(','), RAFTQ_PORT: String(port), RAFTQ_DIR: dir },
    });
    allProcs.push(p);
    procs.set(port, p);
    return p.waitForLine(new RegExp(`running express on ${port}`), 30000).then(() => p);
  }
  const alive = () => [...procs.entries()].filter(([, p]) => !p.exitInfo).map(([port]) => port);
  /** all alive nodes answer, exactly one is LEADER and everyone names it, all in one term */
  async function agreedLeader(among = alive()) {
    const sts = await Promise.all(among.map((port) => status(port)));
    const leaders = sts.filter((s) => s.role === 3);
    if (leaders.length !== 1) return false;
    const id = leaders[0].status.id;
    if (!sts.every((s) => s.leader === id && s.status.term === leaders[0].status.term)) return false;
    return { port: Number(id), id, term: leaders[0].status.term, statuses: sts };
  }
  const describe = () => alive().map((port) => `${port}:\n${procs.get(port).output().split('\n').slice(-8).join('\n')}`).join('\n');
  return { procs, start, alive, agreedLeader, describe };
}

test('4 processes: one leader; SIGINT the leader twice, the rest keep electing one leader', { skip, timeout: 240000 }, async () => {
  const ports = await freePorts(4);
  const dir = tempDir('raftq-http-');
  allDirs.push(dir);
  const c = httpCluster(ports, dir);
  for (const port of ports) await c.start(port);

  let l1;
  try {
    l1 = await waitFor(() => c.agreedLeader(), LEADER_WAIT, 'one agreed leader among 4 processes', 50);
  } catch (err) {
    throw new Error(`${err.message}\n${c.describe()}`);
  }
  assert.equal(typeof l1.id, 'string', 'ids are the ports as strings, as in the README');
  const written = await writeThroughLeader(c, { step: 1 }, 'a write through the leader');
  l1 = written.l;
  assert.deepEqual(written.w, { code: 200, body: { ok: true, leader: l1.id } });
  await waitFor(async () => (await Promise.all(ports.map(status))).every((s) => same(s.data, { step: 1 })), DATA_WAIT, 'data on all 4', 50);
  // a node that follows the same leader before and after the write refuses it
  const refused = await waitFor(
    async () => {
      const a = await c.agreedLeader();
      if (!a) return false;
      const r = await postData(ports.find((p) => p !== a.port), { nope: true });
      const b = await c.agreedLeader();
      return b && b.port === a.port && b.term === a.term ? r : false;
    },
    LEADER_WAIT,
    'a write to a follower while the leader stays',
    50,
  );
  assert.equal(refused.code, 409, 'a follower refuses writes');
  l1 = await waitFor(() => c.agreedLeader(), LEADER_WAIT, 'the agreed leader', 50);

  // SIGINT: the README's crash handler acks time 0 to the others, crashes, destroys, exits(1)
  const p1 = c.procs.get(l1.port);
  p1.kill('SIGINT');
  const exit1 = await withTimeout(p1.exited, EXIT_WAIT);
  assert.ok(exit1, `leader ${l1.port} did not exit within ${EXIT_WAIT} ms after SIGINT:\n${p1.output()}`);
  assert.equal(exit1.code, 1, 'the crash handler exits with 1');
  assert.ok(p1.lines.some((l) => /raft crashed: SIGINT/.test(l.text)), `"raft crashed: SIGINT" logged:\n${p1.output()}`);

  let l2;
  try {
    l2 = await waitFor(async () => {
      const l = await c.agreedLeader();
      return l && l.port !== l1.port ? l : false;
    }, LEADER_WAIT, 'a new agreed leader among 3', 50);
  } catch (err) {
    throw new Error(`${err.message}\n${c.describe()}`);
  }
  assert.ok(l2.term > l1.term, 'new term');
  assert.deepEqual(l2.statuses.find((s) => s.status.id === l2.id).data, { step: 1 }, 'committed data survived');
  await waitFor(async () => (await Promise.all(c.alive().map(status))).every((s) => !s.followers.some((f) => f.id === l1.id)), DATA_WAIT, 'the SIGINTed node to leave every member list', 50);

  const p2 = c.procs.get(l2.port);
  p2.kill('SIGINT');
  const exit2 = await withTimeout(p2.exited, EXIT_WAIT);
  assert.ok(exit2, `leader ${l2.port} did not exit within ${EXIT_WAIT} ms after SIGINT`);
  assert.equal(c.alive().length, 2);

  try {
    const l3 = await waitFor(async () => {
      const l = await c.agreedLeader();
      return l && l.port !== l2.port ? l : false;
    }, LEADER_WAIT, 'a leader among the last 2', 50);
    assert.ok(c.alive().includes(l3.port));
    const w3 = await writeThroughLeader(c, { step: 3 }, 'a write committed by the last 2');
    assert.equal(w3.w.body.ok, true, 'two remaining nodes still commit');
  } catch (err) {
    throw new Error(`${err.message}\n${c.describe()}`);
  }
  await killAll([...c.procs.values()]);
});

test('kill -9 the leader: another leader; the killed node restarts from its file and rejoins', { skip, timeout: 240000 }, async () => {
  const ports = await freePorts(4);
  const dir = tempDir('raftq-http-');
  allDirs.push(dir);
  const c = httpCluster(ports, dir);
  for (const port of ports) await c.start(port);

  let l1 = await waitFor(() => c.agreedLeader(), LEADER_WAIT, 'one agreed leader among 4 processes', 50).catch((err) => {
    throw new Error(`${err.message}\n${c.describe()}`);
  });
  l1 = (await writeThroughLeader(c, { v: 1 }, 'a write through the leader')).l;
  await waitFor(async () => (await Promise.all(ports.map(status))).every((s) => same(s.data, { v: 1 })), DATA_WAIT, 'data on all 4', 50);
  const killedTerm = (await status(l1.port)).status.term;

  const victim = c.procs.get(l1.port);
  victim.kill('SIGKILL');
  await victim.exited;
  const file = path.join(dir, `${l1.port}.json`);
  assert.ok(fs.existsSync(file), `the killed leader persisted ${file} before the kill`);
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.ok(saved.term >= killedTerm, `persisted term ${saved.term} < ${killedTerm}`);
  assert.deepEqual(saved.data, { v: 1 }, 'persisted data');

  const l2 = await waitFor(async () => {
    const l = await c.agreedLeader();
    return l && l.port !== l1.port ? l : false;
  }, LEADER_WAIT, 'a new leader among the 3 survivors', 50).catch((err) => {
    throw new Error(`${err.message}\n${c.describe()}`);
  });
  assert.ok(l2.term > killedTerm);
  assert.equal((await writeThroughLeader(c, { v: 2 }, 'a write committed by the 3 survivors', l1.port)).w.body.ok, true, '3 of 4 commit');

  // restart the killed node from its file
  await c.start(l1.port);
  await c.procs.get(l1.port).waitForLine(/raft started/, LEADER_WAIT);
  const first = await waitFor(() => status(l1.port), DATA_WAIT, 'the restarted node to answer', 20);
  assert.ok(first.status.term >= saved.term, `restarted with term ${first.status.term} < persisted ${saved.term}`);
  const joined = await waitFor(async () => {
    const l = await c.agreedLeader();
    if (!l) return false;
    const s = l.statuses.find((x) => x.status.id === String(l1.port));
    return s && same(s.data, { v: 2 }) ? l : false;
  }, LEADER_WAIT, 'the restarted node to follow and catch up', 50).catch((err) => {
    throw new Error(`${err.message}\n${c.describe()}`);
  });
  assert.equal(c.alive().length, 4);
  assert.ok(joined.term >= l2.term);
  await killAll([...c.procs.values()]);
});

test('join flow with members only: 4 processes started at once, or in reverse port order with gaps, all join one cluster and replicate', { skip, timeout: 240000 }, async () => {
  // raftq's join: a new node acks itself on the others (they add it), then acks them; a node
  // listens to members only, so a node the others never added would stay out for good
  for (const order of ['at once', 'reverse, one by one']) {
    const ports = await freePorts(4);
    const dir = tempDir('raftq-join-');
    allDirs.push(dir);
    const c = httpCluster(ports, dir);
    try {
      if (order === 'at once') await Promise.all(ports.map((port) => c.start(port)));
      else {
        for (const port of [...ports].reverse()) {
          await c.start(port);
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      // the join completes: one agreed leader, and every node lists every other one
      const l = await waitFor(
        async () => {
          const a = await c.agreedLeader();
          if (!a) return false;
          const complete = a.statuses.every((s) => same(s.status.members.map(String).sort(), ports.map(String).filter((p) => p !== String(s.status.id)).sort()));
          return complete ? a : false;
        },
        LEADER_WAIT,
        `one agreed leader, every node knowing every other (${order})`,
        50,
      ).catch((err) => {
        throw new Error(`${err.message}\n${c.describe()}`);
      });
      for (const s of l.statuses) {
        const members = s.status.members.map(String).sort();
        const others = ports.map(String).filter((p) => p !== String(s.status.id)).sort();
        assert.deepEqual(members, others, `${order}: ${s.status.id} knows every other node`);
        assert.equal(s.status.strangers, 0, `${order}: ${s.status.id} ignored messages of a node it never added`);
      }
      const { w } = await writeThroughLeader(c, { order }, `${order}: a write through the leader`);
      assert.equal(w.code, 200);
      assert.equal(w.body.ok, true, `${order}: the write committed`);
      await waitFor(async () => (await Promise.all(ports.map(status))).every((s) => same(s.data, { order })), DATA_WAIT, `${order}: data on all 4`, 50);
    } finally {
      await killAll([...c.procs.values()]);
    }
  }
});
