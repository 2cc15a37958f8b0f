'use strict';
// Issue 15: data and reads you can trust. One immutable value per version (frozen, as JSON
// holds it, the same on every node and on disk), a linearizable read() (ReadIndex), the
// leader's dataChanged at commit, and the smaller fixes (restore of data JSON cannot hold,
// replicate() during a transfer). In-memory clusters (heartbeat 10 ms, elections 100-200 ms).
const test = require('node:test');
const assert = require('node:assert/strict');
const { waitFor, waitForAgreedLeader } = require('./_helpers');
const { createMemoryCluster } = require('../examples/memory-cluster');
const { Raftq, NotLeaderError, TimeoutError, DestroyedError } = require('..');

const T = { timeout: 30000 };

const newer = (a, b) => a.term > b.term || (a.term === b.term && a.index >= b.index);

test('item 1: what getData(), dataChanged and read() hand out is frozen: a local edit never becomes committed', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    const changes = [];
    for (const id of c.ids) c.node(id).subscribe('dataChanged', (d) => changes.push(d.data));
    await c.start();
    const leader = await c.waitForLeader();
    await c.node(leader).replicate({ list: [1, 2], nested: { a: 1 } });
    const f = c.ids.find((id) => id !== leader);
    await waitFor(() => c.node(f).getData().nested, 3000, 'the follower holds the value');
    // the recipe of the bug: a follower edits what getData() returned, never replicating it
    const mine = c.node(f).getData();
    assert.ok(Object.isFrozen(mine) && Object.isFrozen(mine.list) && Object.isFrozen(mine.nested));
    assert.throws(() => { mine.local = 'edit'; }, TypeError);
    assert.throws(() => { mine.nested.a = 2; }, TypeError);
    assert.throws(() => mine.list.push(3), TypeError);
    await waitFor(() => changes.some((d) => d && d.nested), 3000, 'dataChanged with the value');
    for (const d of changes) assert.ok(Object.isFrozen(d), 'dataChanged data is frozen');
    // the follower becomes leader: what it re-proposes is the value as replicated
    assert.equal(await c.node(leader).transferLeadership(f), true);
    await waitForAgreedLeader(c, 3000, { not: leader });
    const r = await c.node(f).read();
    assert.ok(Object.isFrozen(r.data), 'read() data is frozen');
    assert.deepEqual(r.data, { list: [1, 2], nested: { a: 1 } });
    for (const id of c.ids) {
      await waitFor(() => c.node(id).getData().nested, 3000, `node ${id} holds data`);
      assert.deepEqual(c.node(id).getData(), { list: [1, 2], nested: { a: 1 } }, `node ${id}`);
    }
  } finally {
    await c.destroy();
  }
});

test('item 2: one version, one value: the leader stores what JSON holds (Date -> string, Set -> {}, NaN -> null), as followers and disks do', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const v = await c.node(leader).replicate({ when: new Date(0), tags: new Set([1]), ratio: NaN, n: 1 });
    const want = { when: '1970-01-01T00:00:00.000Z', tags: {}, ratio: null, n: 1 };
    assert.deepEqual(c.node(leader).getData(), want, 'the leader shows what JSON holds');
    for (const id of c.ids) {
      await waitFor(() => c.node(id).getData().n === 1, 3000, `node ${id} holds the version`);
      assert.deepEqual(c.node(id).getData(), want, `node ${id}`);
      const disk = await waitFor(() => {
        const s = c.storage(id);
        return s && s.dataIndex >= v.index && s;
      }, 3000, `node ${id} persisted it`);
      assert.deepEqual(disk.data, want, `node ${id} on disk`);
    }
  } finally {
    await c.destroy();
  }
});

test('item 3: read() resolves { data, term, index } with the committed value, and every write committed before it', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    for (let i = 1; i <= 5; i++) {
      const v = await c.node(leader).replicate({ i });
      const r = await c.node(leader).read();
      assert.deepEqual(Object.keys(r).sort(), ['data', 'index', 'term']);
      assert.ok(newer(r, v), `read ${JSON.stringify(r)} covers write ${JSON.stringify(v)}`);
      assert.equal(r.data.i, i);
    }
    // concurrent reads share rounds and all resolve
    const all = await Promise.all([1, 2, 3, 4].map(() => c.node(leader).read()));
    for (const r of all) assert.equal(r.data.i, 5);
    // a lease read on a healthy leader answers the same
    await waitFor(() => c.node(leader).getStatus().leaseValid, 3000, 'the lease');
    assert.equal((await c.node(leader).read({ lease: true })).data.i, 5);
    // on a follower: NotLeaderError naming the leader, at once
    const f = c.ids.find((id) => id !== leader);
    const e = await c.node(f).read().then(() => null, (err) => err);
    assert.ok(e instanceof NotLeaderError, String(e));
    assert.equal(e.code, 'NOT_LEADER');
    assert.equal(e.leader, leader);
    const bad = await c.node(leader).read({ lease: 'yes' }).then(() => null, (err) => err);
    assert.ok(bad instanceof TypeError, String(bad));
  } finally {
    await c.destroy();
  }
});

test('item 3: the dirty read of confirmLeadership() + getData() is not what read() answers: a cut-off leader\'s uncommitted write', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    await c.node(leader).replicate({ v: 'committed' });
    // cut off (it does not know yet): its next write reaches no one and cannot commit
    c.isolate(leader);
    const lost = c.node(leader).replicate({ v: 'dirty' }).then(() => null, (err) => err);
    assert.equal(c.node(leader).getData().v, 'dirty', 'getData() on the leader: its latest, uncommitted write');
    const r = await c.node(leader).read().then((x) => x, (err) => err);
    assert.ok(r instanceof TimeoutError || r instanceof NotLeaderError, `read() rejects, got ${JSON.stringify(r)}`);
    const others = c.ids.filter((id) => id !== leader);
    const next = await waitForAgreedLeader(c, 5000, { among: others });
    const after = await c.node(next).read();
    assert.equal(after.data.v, 'committed', 'the dirty write was never committed');
    c.heal();
    assert.ok((await lost) instanceof Error, 'replicate() of the dirty write rejected');
  } finally {
    await c.destroy();
  }
});

test('item 3: read() rejects with DestroyedError after destroy(), and a pending read when destroyed', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    c.isolate(leader);
    const pending = c.node(leader).read().then(() => null, (err) => err);
    await c.destroyNode(leader);
    const e = await pending;
    assert.ok(e instanceof DestroyedError, String(e));
    const e2 = await c.node(leader).read().then(() => null, (err) => err);
    assert.ok(e2 instanceof DestroyedError, String(e2));
  } finally {
    await c.destroy();
  }
});

test('item 4: the leader\'s dataChanged fires when its write commits, not when it is proposed', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const seen = [];
    c.node(leader).subscribe('dataChanged', (d) => seen.push({ d, commit: c.node(leader).getStatus().commit }));
    for (let i = 0; i < 5; i++) await c.node(leader).replicate({ i });
    await waitFor(() => seen.some((s) => s.d.data.i === 4), 3000, 'dataChanged of the last write');
    for (const { d, commit } of seen) {
      assert.ok(newer(commit, d), `dataChanged ${d.term}:${d.index} while the commit point was ${commit.term}:${commit.index}`);
    }
    // getData() keeps raftq's meaning on the leader: the latest write, at once
    const p = c.node(leader).replicate({ i: 'latest' });
    assert.equal(c.node(leader).getData().i, 'latest');
    await p;
    await waitFor(() => seen.some((s) => s.d.data.i === 'latest'), 3000, 'dataChanged once committed');
  } finally {
    await c.destroy();
  }
});

test('item 6: restore() data JSON cannot hold (a BigInt from a reviver) is refused at restore, with a clear log', T, async () => {
  const logs = [];
  const raft = new Raftq({
    heartbeat: 10,
    minimumElectionTime: 100,
    maximumElectionTime: 200,
    persistAgent: {
      async persist() {},
      async restore() {
        return { term: 1, votedFor: null, data: { big: 10n } };
      },
    },
  });
  try {
    raft.subscribe('log', (m) => logs.push(m.message));
    await raft.dispatch('serviceStarted', { node: { id: 1, time: Date.now() } });
    const line = await waitFor(() => logs.find((l) => l.startsWith('raft not started')), 3000, 'the refusal');
    assert.match(line, /restored `data` must be a JSON value/);
    assert.match(line, /BigInt/i);
    assert.equal(raft.getTerm(), 0, 'the restored term was not taken');
  } finally {
    await raft.destroy();
  }
});

test('item 6: replicate() during a transfer rejects with a NotLeaderError that does not name the node itself', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const to = c.ids.find((id) => id !== leader);
    const moved = c.node(leader).transferLeadership(to);
    const e = await c.node(leader).replicate({ during: 'transfer' }).then(() => null, (err) => err);
    assert.ok(e instanceof NotLeaderError, String(e));
    assert.notEqual(e.leader, leader, 'not "the leader is me"');
    assert.match(e.message, /transfer/);
    assert.equal(await moved, true);
  } finally {
    await c.destroy();
  }
});

test('item 6: every leaderChanged, a restart\'s included, is { leader, term }', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    const events = [];
    for (const id of c.ids) c.node(id).subscribe('leaderChanged', (e) => events.push(e));
    await c.start();
    const leader = await c.waitForLeader();
    await c.node(leader).dispatch('serviceStarted', { node: c.raftNode(leader) });
    await waitFor(() => events.some((e) => e && e.leader === null), 3000, 'the restart forgets the leader');
    await waitForAgreedLeader(c, 5000);
    for (const e of events) {
      assert.equal(typeof e, 'object');
      assert.notEqual(e, null);
      assert.deepEqual(Object.keys(e).sort(), ['leader', 'term']);
      assert.equal(typeof e.term, 'number');
    }
  } finally {
    await c.destroy();
  }
});
