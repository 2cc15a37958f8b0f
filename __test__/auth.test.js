'use strict';
// Optional authentication: options `secret` and `cluster` (src/binding/auth.rs). Clusters here
// are small in-test ones whose nodes can have different options; every message crosses a JSON
// round trip, as over a real transport.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { waitFor, delay } = require('./_helpers');
const { Raftq, RaftRole, NotLeaderError } = require('..');

/** no test may hang the run: each is bounded */
const T = { timeout: 30000 };
const TIMING = { heartbeat: 10, minimumElectionTime: 100, maximumElectionTime: 200 };
/** slower elections where a test asserts that nothing changes: no spurious election under load */
const CALM = { heartbeat: 20, minimumElectionTime: 400, maximumElectionTime: 800 };
const MAPPING = {
  voteRequest: 'voteRequestReceived',
  voteResponse: 'voteResponseReceived',
  syncData: 'dataReceived',
  dataResponse: 'dataResponseReceived',
};
const CHANNEL = { voteRequest: 0, voteResponse: 1, syncData: 2, dataResponse: 3 };
const DROP_LINE = 'raft dropped unauthenticated ';
const HEX64 = /^[0-9a-f]{64}$/;

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
const key = (id) => `${typeof id}:${id}`;

// every cluster and node a test creates is destroyed after it, even when an assertion failed
const cleanups = [];
test.afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/**
 * An in-memory cluster of `ids`, each node with `TIMING`/`timing` plus `optionsFor(id)`.
 * Every outgoing message is cloned through JSON, recorded (while `record` is on), shown to the
 * `taps`, passed through `filter` (which may return a replacement body, or null to drop it) and
 * dispatched on its destination in a microtask. `restored(id)` is what a node restores first.
 */
function makeCluster(ids, optionsFor = () => ({}), { timing = TIMING, restored } = {}) {
  const nodes = new Map();
  const storage = new Map();
  const logs = new Map();
  const sent = [];
  const taps = [];
  let filter = null;
  let closed = false;
  let recording = true;
  for (const id of ids) {
    if (restored) storage.set(key(id), clone(restored(id)));
    const raft = new Raftq({
      ...timing,
      persistAgent: {
        async persist(node, data) {
          storage.set(key(node.id), clone(data));
        },
        async restore(node) {
          return clone(storage.get(key(node.id)));
        },
      },
      ...optionsFor(id),
    });
    nodes.set(key(id), raft);
    logs.set(key(id), []);
    raft.subscribe('log', (m) => logs.get(key(id)).push(m.message));
    for (const [event, incoming] of Object.entries(MAPPING)) {
      raft.subscribe(event, (msg) => {
        if (closed) return;
        const to = msg.destination.id;
        let body = clone(msg);
        if (recording) sent.push({ event, from: id, to, body: clone(body) });
        for (const t of taps) t(event, clone(body), id, to);
        if (filter) {
          body = filter(event, body, id, to);
          if (!body) return;
        }
        queueMicrotask(() => {
          const target = nodes.get(key(to));
          if (target && !closed) target.dispatch(incoming, body);
        });
      });
    }
  }
  const node = (id) => nodes.get(key(id));
  const cluster = {
    ids,
    node,
    sent,
    taps,
    logs: (id) => logs.get(key(id)),
    dropLines: (id) => logs.get(key(id)).filter((l) => l.startsWith(DROP_LINE)),
    storage: (id) => storage.get(key(id)),
    setFilter(fn) {
      filter = fn;
    },
    stopRecording() {
      recording = false;
    },
    async start() {
      for (const id of ids) {
        for (const peer of ids) if (peer !== id) await node(id).dispatch('ackNode', { id: peer, time: 1 });
      }
      await Promise.all(ids.map((id) => node(id).dispatch('serviceStarted', { node: { id, time: 1 } })));
    },
    /** the one leader every node agrees on, or undefined */
    agreedLeader() {
      const ls = ids.filter((id) => node(id).getRole() === RaftRole.LEADER);
      if (ls.length !== 1) return undefined;
      return ids.every((id) => node(id).getLeader() === ls[0]) ? ls[0] : undefined;
    },
    waitForLeader(ms = 3000) {
      return waitFor(() => {
        const l = cluster.agreedLeader();
        return l === undefined ? false : { l };
      }, ms, 'one agreed leader').then((r) => r.l);
    },
    snapshot() {
      return ids.map((id) => {
        const s = node(id).getStatus();
        return { id, role: s.role, term: s.term, leader: s.leader, version: s.version, commit: s.commit, data: JSON.stringify(node(id).getData()) };
      });
    },
    async destroy() {
      closed = true;
      for (const id of ids) await node(id).destroy();
    },
  };
  cleanups.push(() => cluster.destroy());
  return cluster;
}

// ---- the canonical encoding of src/binding/auth.rs, written again from its documentation ----

const FIELD_ORDER = [
  ['term', 'preVote', 'lastTerm', 'lastIndex', 'transfer'],
  ['term', 'granted', 'preVote'],
  ['term', 'dataTerm', 'dataIndex', 'commitTerm', 'commitIndex', 'transfer', 'round'],
  ['term', 'success', 'dataTerm', 'dataIndex', 'round'],
];
const idKey = (id) => (typeof id === 'number' ? `n:${id}` : `s:${id}`);

function expectedTag(secret, cluster, event, from, to, body) {
  const channel = CHANNEL[event];
  const parts = [Buffer.from('raftq-native/auth/v1\0')];
  const str = (s) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  };
  str(cluster || '');
  parts.push(Buffer.from([channel]));
  str(idKey(from));
  str(idKey(to));
  for (const name of FIELD_ORDER[channel]) {
    const v = body[name];
    if (name === 'transfer' && v !== true) continue; // only when set
    if (name === 'round' && !v) continue; // only when not 0 (with check-quorum, every heartbeat starts one)
    parts.push(Buffer.from([name.length]), Buffer.from(name));
    if (typeof v === 'boolean') {
      parts.push(Buffer.from([2, v ? 1 : 0]));
    } else {
      const n = Buffer.alloc(9);
      n[0] = 1;
      n.writeBigUInt64BE(BigInt(v), 1);
      parts.push(n);
    }
  }
  parts.push(Buffer.from([0]));
  if (channel === 2 && body.data !== undefined) {
    parts.push(Buffer.from([1]), crypto.createHash('sha256').update(JSON.stringify(body.data)).digest());
  } else {
    parts.push(Buffer.from([0]));
  }
  if (channel === 2 && body.data !== undefined && Array.isArray(body.members)) {
    // the configuration the version brings, as the core holds it (sorted by id key)
    const keys = body.members.map(idKey).sort();
    const n = Buffer.alloc(4);
    n.writeUInt32BE(keys.length);
    parts.push(Buffer.from([1]), n);
    for (const k of keys) str(k);
  }
  return crypto.createHmac('sha256', secret).update(Buffer.concat(parts)).digest('hex');
}

// ---- tests ----

test('a 3-node cluster with a secret elects and replicates; string, Buffer and Uint8Array secrets agree', T, async () => {
  const secrets = { 1: 'correct horse battery staple', 2: Buffer.from('correct horse battery staple'), 3: new Uint8Array(Buffer.from('correct horse battery staple')) };
  const c = makeCluster([1, 2, 3], (id) => ({ secret: secrets[id], cluster: 'alpha' }));
  await c.start();
  const leader = await c.waitForLeader();
  assert.ok(await c.node(leader).replicate({ hello: 'auth' }), 'replicate commits');
  await waitFor(() => c.ids.every((id) => c.node(id).getData().hello === 'auth'), 3000, 'every node holds the value');
  for (const id of c.ids) {
    const s = c.node(id).getStatus();
    assert.equal(s.unauthenticated, 0, `node ${id} dropped nothing`);
    assert.equal(s.rejected, 0, `node ${id} rejected nothing`);
    assert.deepEqual(c.dropLines(id), []);
  }
  // every message carried a tag, on every channel
  const events = new Set(c.sent.map((m) => m.event));
  assert.deepEqual([...events].sort(), ['dataResponse', 'syncData', 'voteRequest', 'voteResponse']);
  for (const m of c.sent) assert.match(String(m.body.tag), HEX64, `${m.event} ${m.from}->${m.to} carries a tag`);
  // the persisted body names its cluster
  await waitFor(() => c.storage(leader) && c.storage(leader).data && c.storage(leader).data.hello === 'auth', 2000, 'leader persisted');
  assert.equal(c.storage(leader).cluster, 'alpha');
});

test('without a secret nothing changes: no tag on any body, nothing counted', T, async () => {
  const c = makeCluster([1, 2, 3]);
  await c.start();
  const leader = await c.waitForLeader();
  assert.ok(await c.node(leader).replicate({ plain: true }));
  assert.ok(c.sent.length > 0);
  for (const m of c.sent) assert.equal('tag' in m.body, false, `${m.event} has no tag field`);
  for (const id of c.ids) assert.equal(c.node(id).getStatus().unauthenticated, 0);
  assert.equal('cluster' in c.storage(leader), false, 'no cluster field without options.cluster');
});

test('tags are deterministic and cover ids (with their JS type), cluster, channel, every field and the data', T, async () => {
  const secret = 's3cret';
  const ids = [5050, '5050', 'c'];
  const c = makeCluster(ids, () => ({ secret, cluster: 'det' }));
  await c.start();
  const leader = await c.waitForLeader();
  assert.ok(await c.node(leader).replicate({ list: [1, 2, 3], text: 'é ✓', nested: { a: null } }));
  await waitFor(() => ids.every((id) => c.node(id).getData().text === 'é ✓'), 3000, 'replicated');
  // a few unchanged heartbeats
  await waitFor(() => c.sent.filter((m) => m.event === 'syncData' && m.body.data === undefined).length >= 12, 3000, 'heartbeats');
  c.stopRecording();
  const sent = c.sent.slice();
  assert.ok(sent.some((m) => m.event === 'syncData' && m.body.data !== undefined), 'a data-carrying syncData was sent');
  // the documented encoding, computed independently, gives every tag that was sent
  for (const m of sent) {
    assert.equal(m.body.tag, expectedTag(secret, 'det', m.event, m.from, m.to, m.body), `${m.event} ${idKey(m.from)}->${idKey(m.to)}`);
  }
  // deterministic: the same message to the same node has the same tag; another node or id type, another tag
  const hb = sent.filter((m) => m.event === 'syncData' && m.body.data === undefined);
  const byContent = new Map();
  for (const m of hb) {
    const k = JSON.stringify([idKey(m.from), idKey(m.to), m.body.term, m.body.dataTerm, m.body.dataIndex, m.body.commitTerm, m.body.commitIndex, m.body.round]);
    if (byContent.has(k)) assert.equal(m.body.tag, byContent.get(k), 'same message, same tag');
    byContent.set(k, m.body.tag);
  }
  const one = hb[hb.length - 1];
  const other = { ...one.body };
  assert.equal(expectedTag(secret, 'det', 'syncData', one.from, one.to, other), one.body.tag, 'the same message, the same tag');
  assert.ok(one.body.round > 0, 'heartbeats carry a round (the lease counts from it)');
  assert.notEqual(expectedTag(secret, 'det', 'syncData', one.from, one.to, { ...other, round: other.round + 1 }), one.body.tag, 'the round is covered');
  assert.notEqual(expectedTag(secret, 'det', 'syncData', one.from, 5050, other), expectedTag(secret, 'det', 'syncData', one.from, '5050', other));
  assert.notEqual(expectedTag(secret, 'det', 'syncData', one.from, one.to, other), expectedTag(secret, 'other', 'syncData', one.from, one.to, other));
  const withData = sent.find((m) => m.event === 'syncData' && m.body.data !== undefined);
  assert.notEqual(withData.body.tag, expectedTag(secret, 'det', 'syncData', withData.from, withData.to, { ...withData.body, data: { list: [1, 2, 3] } }));
  // the configuration it brings is covered too: another member list, another tag
  assert.deepEqual([...withData.body.members].sort(), [...ids].sort(), 'the version brings its voters');
  assert.notEqual(withData.body.tag, expectedTag(secret, 'det', 'syncData', withData.from, withData.to, { ...withData.body, members: withData.body.members.slice(1) }));
});

for (const attacker of [
  { name: 'a wrong secret', options: { secret: 'not the secret', cluster: 'alpha' } },
  { name: 'another cluster name', options: { secret: 'the secret', cluster: 'beta' } },
  { name: 'no secret', options: {} },
]) {
  test(`nodes with ${attacker.name}, impersonating members with a far higher term, change nothing; drops are counted and reported once`, T, async () => {
    await impersonation(attacker.options, { secret: 'the secret', cluster: 'alpha' }, false);
  });
}

test('control: without a secret the same impersonation takes the cluster over (the check above can fail)', T, async () => {
  await impersonation({}, {}, true);
});

/**
 * A victim cluster [1, 2, 3] with `victimOptions` elects and commits a value; then an attacker
 * cluster with the same ids and `attackerOptions`, restored at term 1000 with its own data,
 * runs, and each of its messages is also delivered to the victim node of the same id: forged
 * vote requests, vote responses, data responses and data-carrying `dataReceived` of a far higher
 * term, all from member ids.
 */
async function impersonation(attackerOptions, victimOptions, expectTakeover) {
  const victim = makeCluster([1, 2, 3], () => victimOptions, { timing: CALM });
  await victim.start();
  const leader = await victim.waitForLeader();
  assert.ok(await victim.node(leader).replicate({ owner: 'victim' }));
  await waitFor(() => victim.ids.every((id) => victim.node(id).getData().owner === 'victim'), 3000, 'victim replicated');
  const settled = () => {
    const v = JSON.stringify(victim.node(leader).getStatus().version);
    return victim.ids.every((id) => JSON.stringify(victim.node(id).getStatus().commit) === v);
  };
  await waitFor(settled, 3000, 'every victim knows the commit');
  const before = victim.snapshot();
  const changes = [];
  for (const id of victim.ids) {
    victim.node(id).subscribe('roleChanged', (r) => changes.push(`${id} role ${r}`));
    victim.node(id).subscribe('dataChanged', (d) => changes.push(`${id} data ${JSON.stringify(d.data)}`));
  }

  const evil = makeCluster([1, 2, 3], () => attackerOptions, {
    restored: () => ({ term: 1000, votedFor: null, data: { owner: 'attacker' }, dataTerm: 1000, dataIndex: 7, commitTerm: 1000, commitIndex: 7 }),
  });
  const delivered = { syncData: 0, withData: 0, voteRequest: 0, voteResponse: 0, dataResponse: 0 };
  evil.taps.push((event, body, from, to) => {
    delivered[event]++;
    if (event === 'syncData' && body.data !== undefined) delivered.withData++;
    queueMicrotask(() => victim.node(to).dispatch(MAPPING[event], body));
  });
  await evil.start();
  const evilLeader = await evil.waitForLeader();
  assert.ok(await evil.node(evilLeader).replicate({ owner: 'attacker', n: 2 }), 'the attacker cluster works');
  // enough forged traffic of every kind reached the victims
  await waitFor(() => delivered.withData >= 2 && delivered.voteRequest >= 2 && delivered.voteResponse >= 1 && delivered.dataResponse >= 2 && delivered.syncData >= 20, 3000, 'forged traffic');
  await evil.destroy();
  await delay(50); // let the last forged messages land

  if (expectTakeover) {
    await waitFor(() => victim.ids.some((id) => victim.node(id).getStatus().term >= 1000), 2000, 'a victim node adopted the forged term');
    for (const id of victim.ids) assert.equal(victim.node(id).getStatus().unauthenticated, 0);
    return;
  }
  assert.deepEqual(victim.snapshot(), before, 'no term, role, leader, version, commit or data changed');
  assert.deepEqual(changes, [], 'no role or data change event');
  for (const id of victim.ids) {
    const s = victim.node(id).getStatus();
    assert.ok(s.unauthenticated >= 5, `node ${id} counted its drops (${s.unauthenticated})`);
    assert.equal(s.rejected, 0, 'drops are not counted as malformed');
    const lines = victim.dropLines(id);
    assert.equal(lines.length, 1, `node ${id}: one report line for ${s.unauthenticated} drops within the interval (${lines.join(' | ')})`);
    assert.match(lines[0], /^raft dropped unauthenticated \w+Received \((no tag|tag does not match)\); 1 dropped since the last report, 1 in all$/);
  }
  // the victim cluster still works
  const l = await victim.waitForLeader();
  assert.ok(await victim.node(l).replicate({ owner: 'victim', n: 2 }));
}

test('tampered data or fields in a correctly tagged syncData are dropped; the real value gets through', T, async () => {
  const c = makeCluster([1, 2, 3], () => ({ secret: 'k' }), { timing: CALM });
  await c.start();
  const leader = await c.waitForLeader();
  const f = c.ids.find((id) => id !== leader);
  const term = c.node(f).getStatus().term;
  const seen = [];
  c.node(f).subscribe('dataChanged', (d) => seen.push(JSON.stringify(d.data)));
  // every syncData to f keeps its tag but not its content: forged data, or a higher term
  c.setFilter((event, body, from, to) => {
    if (event !== 'syncData' || to !== f) return body;
    if (body.data !== undefined) {
      body.data = { v: 'forged' };
    } else {
      body.term += 1;
      body.dataTerm += 1;
    }
    return body;
  });
  assert.ok(await c.node(leader).replicate({ v: 'real' }), 'commits with the other follower');
  await waitFor(() => c.node(f).getStatus().unauthenticated >= 3, 3000, 'tampered bodies dropped');
  assert.equal(c.node(f).getStatus().term, term, 'the follower kept its term');
  assert.ok(!seen.includes(JSON.stringify({ v: 'forged' })), 'the forged value never showed');
  assert.notEqual(c.node(f).getData().v, 'forged');
  assert.equal(c.dropLines(f).length, 1, 'one report line');
  assert.match(c.dropLines(f)[0], /tag does not match/);
  c.setFilter(null);
  await waitFor(() => c.node(f).getData().v === 'real', 5000, 'the real value reaches the follower');
  assert.ok(!seen.includes(JSON.stringify({ v: 'forged' })), 'the forged value never showed');
});

test('a tag replayed to another destination is dropped, even between ids 5050 and "5050"; to its own destination it passes', T, async () => {
  const ids = [5050, '5050', 'c'];
  const c = makeCluster(ids, () => ({ secret: 'k', cluster: 'replay' }), { timing: CALM });
  await c.start();
  let leader = await c.waitForLeader();
  if (leader !== 'c') {
    assert.equal(await c.node(leader).transferLeadership('c'), true);
    leader = await waitFor(() => (c.agreedLeader() === 'c' ? 'c' : false), 3000, 'c leads');
  }
  const captured = [];
  c.taps.push((event, body, from, to) => {
    if (event === 'syncData' && to === 5050 && body.data === undefined) captured.push(body);
  });
  await waitFor(() => captured.length > 0, 2000, 'a heartbeat to 5050');
  const hb = captured[0];
  const victim = c.node('5050');
  const before = victim.getStatus();
  await victim.dispatch('dataReceived', clone(hb));
  await victim.dispatch('dataReceived', { ...clone(hb), destination: { id: '5050', time: 1 } });
  const after = victim.getStatus();
  assert.equal(after.unauthenticated, before.unauthenticated + 2, 'both replays dropped');
  assert.equal(after.term, before.term);
  assert.deepEqual(c.dropLines('5050').length, 1);
  assert.match(c.dropLines('5050')[0], /^raft dropped unauthenticated dataReceived \(tag does not match\)/);
  // the same body to the node it was made for passes the check (replays within a term are not stopped)
  const real = c.node(5050);
  const u = real.getStatus().unauthenticated;
  await real.dispatch('dataReceived', clone(hb));
  assert.equal(real.getStatus().unauthenticated, u);
});

test('each kind of bad tag is dropped with its reason; reports come once per 10 s interval, with the count', { timeout: 40000 }, async () => {
  const agent = () => ({ async persist() {}, async restore() { return undefined; } });
  const quiet = { heartbeat: 1000, minimumElectionTime: 60000, maximumElectionTime: 60000 };
  const forged = (extra) => ({ term: 5, dataTerm: 5, dataIndex: 3, commitTerm: 5, commitIndex: 3, node: { id: 2, time: 1 }, destination: { id: 1, time: 1 }, timeout: 50, ...extra });
  const cases = [
    [{}, 'no tag'],
    [{ tag: 42 }, 'tag must be a string, got number'],
    [{ tag: 'abc' }, 'tag has the wrong length (3 characters, not 64)'],
    [{ tag: 'Z'.repeat(64) }, 'tag is not lowercase hex'],
    [{ tag: 'ab'.repeat(32) }, 'tag does not match'],
    [{ tag: 'ab'.repeat(32), data: { x: 1 } }, 'tag does not match'],
    [{ tag: 'ab'.repeat(32), data: 10n }, 'data is not JSON (no digest of JSON.stringify(data))'],
    [{ tag: 'ab'.repeat(32), term: -1 }, 'malformed: field `term` must be a non-negative safe integer, got -1'],
  ];
  const nodes = [];
  const start = async (extra = {}) => {
    const r = new Raftq({ ...quiet, persistAgent: agent(), secret: 'k', ...extra });
    cleanups.push(() => r.destroy());
    const logs = [];
    r.subscribe('log', (m) => logs.push(m.message));
    await r.dispatch('ackNode', { id: 2, time: 1 });
    await r.dispatch('ackNode', { id: 3, time: 1 });
    await r.dispatch('serviceStarted', { node: { id: 1, time: 1 } });
    return { r, logs };
  };
  for (const [extra, reason] of cases) {
    const n = await start();
    nodes.push(n);
    await n.r.dispatch('dataReceived', forged(extra));
    await delay(0);
    assert.deepEqual(n.logs.filter((l) => l.startsWith(DROP_LINE)), [`${DROP_LINE}dataReceived (${reason}); 1 dropped since the last report, 1 in all`]);
    const s = n.r.getStatus();
    assert.equal(s.unauthenticated, 1);
    assert.equal(s.term, 0, 'the forged term 5 was not taken');
    assert.equal(s.rejected, 0);
  }
  // other channels, and bodies whose shape is wrong, are dropped the same way
  const n = await start({ cluster: 'x' });
  await n.r.dispatch('voteRequestReceived', { term: 9, lastTerm: 0, lastIndex: 0, preVote: false, candidate: { id: 2, time: 1 }, tag: 'cd'.repeat(32) });
  const first = Date.now();
  await n.r.dispatch('voteResponseReceived', { term: 9, granted: true, voter: { id: 3, time: 1 } });
  await n.r.dispatch('dataResponseReceived', { term: 9, success: true, dataTerm: 0, dataIndex: 0, node: { id: 3 }, tag: 'cd'.repeat(32) });
  await n.r.dispatch('dataReceived', null);
  await n.r.dispatch('dataReceived', { term: 9 });
  for (let i = 0; i < 45; i++) await n.r.dispatch('dataReceived', forged({ term: 10 + i, dataTerm: 10 + i }));
  await delay(0);
  const s = n.r.getStatus();
  assert.equal(s.unauthenticated, 50);
  assert.equal(s.term, 0);
  assert.equal(s.role, RaftRole.FOLLOWER);
  assert.equal(s.leader, null);
  let lines = n.logs.filter((l) => l.startsWith(DROP_LINE));
  assert.deepEqual(lines, [`${DROP_LINE}voteRequestReceived (tag does not match); 1 dropped since the last report, 1 in all`]);
  // the next report comes with the next drop once 10 s have passed, and counts what was not reported
  let sentAfter = 0;
  await waitFor(
    async () => {
      sentAfter++;
      await n.r.dispatch('dataResponseReceived', { term: 9, success: true, dataTerm: 0, dataIndex: 0, node: { id: 3, time: 1 } });
      await delay(0);
      return n.logs.filter((l) => l.startsWith(DROP_LINE)).length === 2;
    },
    13000,
    'a second report line',
    250,
  );
  assert.ok(Date.now() - first >= 9500, `not before the interval (${Date.now() - first} ms)`);
  lines = n.logs.filter((l) => l.startsWith(DROP_LINE));
  assert.equal(lines[1], `${DROP_LINE}dataResponseReceived (no tag); ${49 + sentAfter} dropped since the last report, ${50 + sentAfter} in all`);
  assert.equal(n.r.getStatus().unauthenticated, 50 + sentAfter);
});

test('options: secret and cluster are validated with a clear TypeError', T, () => {
  const base = () => ({ heartbeat: 100, minimumElectionTime: 200, maximumElectionTime: 400, persistAgent: { persist() {}, restore() {} } });
  for (const secret of ['', Buffer.alloc(0), new Uint8Array(0), 42, true, {}, [1, 2], new ArrayBuffer(4)]) {
    assert.throws(() => new Raftq({ ...base(), secret }), (e) => e instanceof TypeError && /^Raftq: options\.secret must be a non-empty string, Buffer or Uint8Array$/.test(e.message), `secret ${String(secret)}`);
  }
  for (const cluster of ['', 'x'.repeat(257), 5, {}, true]) {
    assert.throws(() => new Raftq({ ...base(), secret: 'k', cluster }), (e) => e instanceof TypeError && /^Raftq: options\.cluster must be a non-empty string of at most 256 characters$/.test(e.message), `cluster ${String(cluster)}`);
  }
  const ok = [
    { secret: 'k' },
    { secret: Buffer.from([0]) },
    { secret: new Uint8Array([1, 2, 3]) },
    { secret: 'k', cluster: 'x'.repeat(256) },
    { cluster: 'only-a-cluster' },
    { secret: undefined, cluster: undefined },
    { secret: null, cluster: null },
  ];
  for (const extra of ok) {
    const r = new Raftq({ ...base(), ...extra });
    assert.equal(r.getStatus().unauthenticated, 0);
    r.destroy();
  }
});

test('cluster: the persisted body carries it; a restored body of another cluster does not start', T, async () => {
  let stored;
  const agent = {
    async persist(node, data) {
      stored = clone(data);
    },
    async restore() {
      return clone(stored);
    },
  };
  const opts = { heartbeat: 1000, minimumElectionTime: 60000, maximumElectionTime: 60000, persistAgent: agent };
  const startNode = async (extra) => {
    const r = new Raftq({ ...opts, ...extra });
    cleanups.push(() => r.destroy());
    const logs = [];
    r.subscribe('log', (m) => logs.push(m.message));
    await r.dispatch('serviceStarted', { node: { id: 'a', time: 1 } });
    return { r, logs };
  };
  // a raftq 1.0.0 body (no cluster) restores into a node with a cluster, which then writes it
  stored = { term: 4, votedFor: null, data: { v: 1 } };
  const a = await startNode({ secret: 'k', cluster: 'alpha' });
  assert.ok(a.logs.includes('raft started'));
  assert.equal(a.r.getStatus().term, 4);
  await a.r.destroy();
  assert.equal(stored.cluster, 'alpha');
  assert.equal(stored.term, 4);

  for (const extra of [{ secret: 'k', cluster: 'beta' }, {}]) {
    const b = await startNode(extra);
    const expected = `raft not started: restore failed: the persisted state belongs to another cluster ("alpha", this node ${extra.cluster ? 'is in "beta"' : 'has no options.cluster'})`;
    assert.ok(b.logs.includes(expected), `logged: ${b.logs.join(' | ')}`);
    assert.ok(!b.logs.includes('raft started'));
    assert.equal(b.r.getStatus().term, 0, 'not started');
    await assert.rejects(b.r.replicate({ v: 2 }), NotLeaderError, 'not started: NotLeaderError');
    await b.r.destroy();
    assert.equal(stored.cluster, 'alpha', 'the other cluster did not overwrite the state');
    assert.equal(stored.term, 4);
  }
  const again = await startNode({ cluster: 'alpha' });
  assert.ok(again.logs.includes('raft started'), 'the same cluster starts');
  assert.equal(again.r.getStatus().term, 4);
});
