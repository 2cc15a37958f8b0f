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
    return p.waitForLine(new RegExp(`running express on ${port}`), 10000).then(() => p);
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

test('4 processes: one leader; SIGINT the leader twice, the rest keep electing one leader', { skip, timeout: 90000 }, async () => {
  const ports = await freePorts(4);
  const dir = tempDir('raftq-http-');
  allDirs.push(dir);
  const c = httpCluster(ports, dir);
  for (const port of ports) await c.start(port);

  let l1;
  try {
    l1 = await waitFor(() => c.agreedLeader(), 10000, 'one agreed leader among 4 processes', 50);
  } catch (err) {
    throw new Error(`${err.message}\n${c.describe()}`);
  }
  assert.equal(typeof l1.id, 'string', 'ids are the ports as strings, as in the README');
  const w = await postData(l1.port, { step: 1 });
  assert.deepEqual(w, { code: 200, body: { ok: true, leader: l1.id } });
  await waitFor(async () => (await Promise.all(ports.map(status))).every((s) => same(s.data, { step: 1 })), 5000, 'data on all 4', 50);
  const follower = ports.find((p) => p !== l1.port);
  assert.equal((await postData(follower, { nope: true })).code, 409, 'a follower refuses writes');

  // SIGINT: the README's crash handler acks time 0 to the others, crashes, destroys, exits(1)
  const p1 = c.procs.get(l1.port);
  p1.kill('SIGINT');
  const exit1 = await withTimeout(p1.exited, 5000);
  assert.ok(exit1, `leader ${l1.port} did not exit within 5 s after SIGINT:\n${p1.output()}`);
  assert.equal(exit1.code, 1, 'the crash handler exits with 1');
  assert.ok(p1.lines.some((l) => /raft crashed: SIGINT/.test(l.text)), `"raft crashed: SIGINT" logged:\n${p1.output()}`);

  let l2;
  try {
    l2 = await waitFor(async () => {
      const l = await c.agreedLeader();
      return l && l.port !== l1.port ? l : false;
    }, 5000, 'a new agreed leader among 3', 50);
  } catch (err) {
    throw new Error(`${err.message}\n${c.describe()}`);
  }
  assert.ok(l2.term > l1.term, 'new term');
  assert.deepEqual(l2.statuses.find((s) => s.status.id === l2.id).data, { step: 1 }, 'committed data survived');
  await waitFor(async () => (await Promise.all(c.alive().map(status))).every((s) => !s.followers.some((f) => f.id === l1.id)), 3000, 'the SIGINTed node to leave every member list', 50);

  const p2 = c.procs.get(l2.port);
  p2.kill('SIGINT');
  const exit2 = await withTimeout(p2.exited, 5000);
  assert.ok(exit2, `leader ${l2.port} did not exit within 5 s after SIGINT`);
  assert.equal(c.alive().length, 2);

  try {
    const l3 = await waitFor(async () => {
      const l = await c.agreedLeader();
      return l && l.port !== l2.port ? l : false;
    }, 5000, 'a leader among the last 2', 50);
    assert.ok(c.alive().includes(l3.port));
    const w3 = await postData(l3.port, { step: 3 });
    assert.equal(w3.body.ok, true, 'two remaining nodes still commit');
  } catch (err) {
    throw new Error(`${err.message}\n${c.describe()}`);
  }
  await killAll([...c.procs.values()]);
});

test('kill -9 the leader: another leader; the killed node restarts from its file and rejoins', { skip, timeout: 90000 }, async () => {
  const ports = await freePorts(4);
  const dir = tempDir('raftq-http-');
  allDirs.push(dir);
  const c = httpCluster(ports, dir);
  for (const port of ports) await c.start(port);

  const l1 = await waitFor(() => c.agreedLeader(), 10000, 'one agreed leader among 4 processes', 50).catch((err) => {
    throw new Error(`${err.message}\n${c.describe()}`);
  });
  assert.equal((await postData(l1.port, { v: 1 })).body.ok, true);
  await waitFor(async () => (await Promise.all(ports.map(status))).every((s) => same(s.data, { v: 1 })), 5000, 'data on all 4', 50);
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
  }, 5000, 'a new leader among the 3 survivors', 50).catch((err) => {
    throw new Error(`${err.message}\n${c.describe()}`);
  });
  assert.ok(l2.term > killedTerm);
  assert.equal((await postData(l2.port, { v: 2 })).body.ok, true, '3 of 4 commit');

  // restart the killed node from its file
  await c.start(l1.port);
  await c.procs.get(l1.port).waitForLine(/raft started/, 5000);
  const first = await waitFor(() => status(l1.port), 3000, 'the restarted node to answer', 20);
  assert.ok(first.status.term >= saved.term, `restarted with term ${first.status.term} < persisted ${saved.term}`);
  const joined = await waitFor(async () => {
    const l = await c.agreedLeader();
    if (!l) return false;
    const s = l.statuses.find((x) => x.status.id === String(l1.port));
    return s && same(s.data, { v: 2 }) ? l : false;
  }, 5000, 'the restarted node to follow and catch up', 50).catch((err) => {
    throw new Error(`${err.message}\n${c.describe()}`);
  });
  assert.equal(c.alive().length, 4);
  assert.ok(joined.term >= l2.term);
  await killAll([...c.procs.values()]);
});

test('join flow with members only: 4 processes started at once, or in reverse port order with gaps, all join one cluster and replicate', { skip, timeout: 90000 }, async () => {
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
      const l = await waitFor(() => c.agreedLeader(), 10000, `one agreed leader (${order})`, 50).catch((err) => {
        throw new Error(`${err.message}\n${c.describe()}`);
      });
      for (const s of l.statuses) {
        const members = s.status.members.map(String).sort();
        const others = ports.map(String).filter((p) => p !== String(s.status.id)).sort();
        assert.deepEqual(members, others, `${order}: ${s.status.id} knows every other node`);
        assert.equal(s.status.strangers, 0, `${order}: ${s.status.id} ignored messages of a node it never added`);
      }
      const w = await postData(l.port, { order });
      assert.equal(w.code, 200);
      assert.equal(w.body.ok, true, `${order}: the write committed`);
      await waitFor(async () => (await Promise.all(ports.map(status))).every((s) => same(s.data, { order })), 5000, `${order}: data on all 4`, 50);
    } finally {
      await killAll([...c.procs.values()]);
    }
  }
});
