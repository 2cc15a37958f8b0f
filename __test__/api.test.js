'use strict';
// API surface of raftq-native: everything raftq 1.0.0 exposes (COMPAT.md) plus the extras.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { execFile } = require('node:child_process');
const { waitFor, tempDir, ROOT } = require('./_helpers');
const { Raftq, RaftRole, NotLeaderError } = require('..');
const { createMemoryCluster } = require('../examples/memory-cluster');

/** no test may hang the run: each is bounded */
const T = { timeout: 20000 };

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** A persist agent that keeps everything in memory and records every call. */
function memoryAgent(restored) {
  const agent = {
    calls: [], // { node, data, finishedAt }
    restores: [],
    stored: clone(restored),
    async persist(node, data) {
      const rec = { node, data: clone(data), finished: false };
      agent.calls.push(rec);
      agent.stored = clone(data);
      rec.finished = true;
    },
    async restore(node) {
      agent.restores.push(node);
      return clone(agent.stored);
    },
  };
  return agent;
}

// every node a test creates is destroyed after it, even when an assertion failed: a started
// node's timers would otherwise keep the test process alive
const created = [];
test.afterEach(async () => {
  await Promise.all(created.splice(0).map((r) => r.destroy()));
});

/** A Raftq whose election never fires during a test (unless `opts` says otherwise). */
function quietRaft(opts = {}) {
  const persistAgent = opts.persistAgent || memoryAgent(opts.restored);
  const raft = new Raftq({
    heartbeat: opts.heartbeat || 1000,
    minimumElectionTime: opts.minimumElectionTime || 20000,
    maximumElectionTime: opts.maximumElectionTime || 30000,
    persistAgent,
  });
  created.push(raft);
  return { raft, agent: persistAgent };
}

const EVENTS = ['voteRequest', 'voteResponse', 'syncData', 'dataResponse', 'roleChanged', 'log', 'dataChanged', 'leaderChanged'];

/** Subscribe to every output event; returns { event: [messages] }. */
function record(raft, events = EVENTS) {
  const rec = {};
  for (const e of events) {
    rec[e] = [];
    raft.subscribe(e, (m) => rec[e].push(m));
  }
  return rec;
}

const logTexts = (rec) => rec.log.map((l) => l.message);
const hasLog = (rec, text) => logTexts(rec).includes(text);
const outgoingCount = (rec) => rec.voteRequest.length + rec.voteResponse.length + rec.syncData.length + rec.dataResponse.length;

function validOptions() {
  return {
    heartbeat: 100,
    minimumElectionTime: 200,
    maximumElectionTime: 800,
    persistAgent: { async persist() {}, async restore() { return undefined; } },
  };
}

test('exports Raftq and RaftRole with numeric values and reverse mapping', T, () => {
  assert.equal(typeof Raftq, 'function');
  assert.equal(RaftRole.CANDIDATE, 1);
  assert.equal(RaftRole.FOLLOWER, 2);
  assert.equal(RaftRole.LEADER, 3);
  assert.equal(RaftRole[1], 'CANDIDATE');
  assert.equal(RaftRole[2], 'FOLLOWER');
  assert.equal(RaftRole[3], 'LEADER');
});

test('an instance has every raftq method plus the extras', T, async () => {
  const { raft } = quietRaft();
  for (const m of ['getLeader', 'getRole', 'getNode', 'getFollowers', 'getData', 'dispatch', 'subscribe', 'destroy', 'getStatus', 'transferLeadership', 'replicate']) {
    assert.equal(typeof raft[m], 'function', `raft.${m} should be a function`);
  }
  const p = raft.destroy();
  assert.ok(p && typeof p.then === 'function', 'destroy() returns a Promise');
  await p;
});

test('constructor accepts the README options and rejects invalid ones with a TypeError', T, async () => {
  const ok = new Raftq(validOptions());
  await ok.destroy();
  const fn = async () => {};
  const agent = { persist: fn, restore: fn };
  const base = { heartbeat: 100, minimumElectionTime: 200, maximumElectionTime: 800, persistAgent: agent };
  const bad = [
    ['heartbeat 0', { ...base, heartbeat: 0 }, /heartbeat/],
    ['heartbeat negative', { ...base, heartbeat: -5 }, /heartbeat/],
    ['heartbeat NaN', { ...base, heartbeat: NaN }, /heartbeat/],
    ['heartbeat string', { ...base, heartbeat: '100' }, /heartbeat/],
    ['heartbeat missing', { ...base, heartbeat: undefined }, /heartbeat/],
    ['minimumElectionTime 0', { ...base, minimumElectionTime: 0 }, /minimumElectionTime/],
    ['minimumElectionTime string', { ...base, minimumElectionTime: 'x' }, /minimumElectionTime/],
    ['maximumElectionTime negative', { ...base, maximumElectionTime: -1 }, /maximumElectionTime/],
    ['minimum > maximum', { ...base, minimumElectionTime: 900, maximumElectionTime: 800 }, /ElectionTime/],
    ['persistAgent missing', { ...base, persistAgent: undefined }, /persistAgent/],
    ['persistAgent not an object', { ...base, persistAgent: 5 }, /persistAgent/],
    ['persist not a function', { ...base, persistAgent: { persist: 'x', restore: fn } }, /persist/],
    ['restore missing', { ...base, persistAgent: { persist: fn } }, /restore/],
  ];
  for (const [name, opts, re] of bad) {
    assert.throws(
      () => new Raftq(opts),
      (err) => err instanceof TypeError && re.test(err.message),
      `${name}: expected a TypeError mentioning ${re}`,
    );
  }
  assert.throws(() => new Raftq(), TypeError, 'no options');
  assert.throws(() => new Raftq(null), TypeError, 'null options');
});

test('before serviceStarted: FOLLOWER, no leader, no followers; ackNode already works', T, async () => {
  const { raft } = quietRaft();
  const rec = record(raft);
  assert.equal(raft.getRole(), RaftRole.FOLLOWER);
  assert.equal(raft.getLeader(), null);
  assert.deepEqual(raft.getFollowers(), []);

  await raft.dispatch('ackNode', { id: 'a', time: 1, zone: 'eu' });
  await raft.dispatch('ackNode', { id: 2, time: 1 });
  await raft.dispatch('ackNode', { id: '2', time: 1 }); // === comparison: '2' is not 2
  const byKey = (list) => [...list].sort((x, y) => `${typeof x.id}${x.id}`.localeCompare(`${typeof y.id}${y.id}`));
  assert.deepEqual(byKey(raft.getFollowers()), byKey([{ id: 'a', time: 1, zone: 'eu' }, { id: 2, time: 1 }, { id: '2', time: 1 }]));
  await waitFor(() => hasLog(rec, 'raft node added: a') && hasLog(rec, 'raft node added: 2'), 1000, '"raft node added" logs');

  // an update keeps one entry and takes the new fields
  await raft.dispatch('ackNode', { id: 'a', time: 5, zone: 'us' });
  const a = raft.getFollowers().filter((n) => n.id === 'a');
  assert.equal(a.length, 1);
  assert.equal(a[0].time, 5);
  assert.equal(a[0].zone, 'us');
  assert.equal(raft.getFollowers().length, 3);

  // time 0 removes
  await raft.dispatch('ackNode', { id: 'a', time: 0 });
  assert.deepEqual(raft.getFollowers().map((n) => n.id).sort(), [2, '2'].sort());
  assert.ok(raft.getFollowers().some((n) => n.id === 2 && typeof n.id === 'number'), 'numeric id stays a number');
  await waitFor(() => hasLog(rec, 'raft node destroyed: a'), 1000, '"raft node destroyed: a" log');
  await raft.destroy();
});

test('serviceStarted: getNode() is the very object given, restore is called, "raft started" is logged', T, async () => {
  const { raft, agent } = quietRaft();
  const rec = record(raft);
  const me = { id: 'me', time: 123, extra: { rack: 7 } };
  await raft.dispatch('serviceStarted', { node: me });
  assert.equal(raft.getNode(), me, 'getNode() returns the same object');
  assert.equal(raft.getNode(), raft.getNode());
  me.time = 0;
  assert.equal(raft.getNode().time, 0, 'mutations of the node are visible');
  raft.getNode().extra.rack = 9;
  assert.equal(me.extra.rack, 9);
  assert.equal(agent.restores.length, 1, 'restore called once');
  assert.equal(agent.restores[0].id, 'me');
  await waitFor(() => hasLog(rec, 'raft started'), 1000, '"raft started" log');
  assert.equal(raft.getRole(), RaftRole.FOLLOWER);
  assert.deepEqual(raft.getData(), {}, 'a fresh node has {} as data');
  const st = raft.getStatus();
  assert.equal(st.id, 'me');
  assert.equal(st.term, 0);
  await raft.destroy();
});

test('getStatus() has the documented shape', T, async () => {
  const { raft } = quietRaft();
  await raft.dispatch('ackNode', { id: 7, time: 1 });
  await raft.dispatch('serviceStarted', { node: { id: 3, time: 1 } });
  const st = raft.getStatus();
  assert.equal(st.id, 3);
  assert.equal(st.role, RaftRole.FOLLOWER);
  assert.equal(typeof st.preCandidate, 'boolean');
  assert.equal(st.term, 0);
  assert.equal(st.votedFor, null);
  assert.equal(st.leader, null);
  assert.deepEqual(st.version, { term: 0, index: 0 });
  assert.deepEqual(st.commit, { term: 0, index: 0 });
  assert.ok(Array.isArray(st.members), 'members is an array');
  assert.ok(st.members.includes(7), `members include the acked peer 7 as a number: ${JSON.stringify(st.members)}`);
  assert.equal(typeof st.persist.requested, 'number');
  assert.equal(typeof st.persist.done, 'number');
  assert.equal(st.rejected, 0);
  await raft.destroy();
});

test('subscribe returns a working unsubscribe; any event name works; dispatch never rejects', T, async () => {
  const { raft } = quietRaft();
  const got = [];
  const unsub = raft.subscribe('myCustomEvent', (m) => got.push(m));
  assert.equal(typeof unsub, 'function');
  const p = raft.dispatch('myCustomEvent', { n: 1 });
  assert.ok(p && typeof p.then === 'function', 'dispatch returns a Promise');
  await p;
  assert.deepEqual(got, [{ n: 1 }]);

  // async listeners are awaited
  let finished = false;
  raft.subscribe('slowEvent', () => new Promise((r) => setTimeout(() => { finished = true; r(); }, 20)));
  await raft.dispatch('slowEvent', {});
  assert.ok(finished, 'dispatch resolves after async listeners finished');

  unsub();
  unsub(); // twice is harmless
  await raft.dispatch('myCustomEvent', { n: 2 });
  assert.deepEqual(got, [{ n: 1 }], 'no call after unsubscribe');

  // unknown names, listeners that throw or reject: dispatch still resolves
  await raft.dispatch('noSuchEvent', { x: 1 });
  await raft.dispatch('noSuchEvent');
  raft.subscribe('throwing', () => { throw new Error('listener failure (expected in test)'); });
  raft.subscribe('rejecting', async () => { throw new Error('async listener failure (expected in test)'); });
  await raft.dispatch('throwing', {});
  await raft.dispatch('rejecting', {});
  await raft.destroy();
});

test('ids keep their JS type: numbers stay numbers, strings stay strings', T, async (t) => {
  for (const ids of [[0, 1, 2], ['5050', '5051', '5052']]) {
    const type = typeof ids[0];
    const seen = [];
    const cluster = createMemoryCluster({
      ids,
      heartbeat: 10,
      minimumElectionTime: 50,
      maximumElectionTime: 100,
      tap: (event, msg) => seen.push([event, msg]),
    });
    try {
      await cluster.start();
      const leader = await cluster.waitForLeader(3000);
      assert.equal(typeof leader, type);
      for (const id of ids) {
        const raft = cluster.node(id);
        assert.equal(raft.getLeader(), leader, `node ${id} names the leader with the right type`);
        assert.equal(typeof raft.getLeader(), type);
        for (const f of raft.getFollowers()) assert.equal(typeof f.id, type, 'follower ids keep their type');
        assert.equal(typeof raft.getStatus().id, type);
        assert.equal(typeof raft.getStatus().leader, type);
      }
      await waitFor(() => seen.some(([e]) => e === 'dataResponse'), 1000, 'a dataResponse');
      for (const [event, msg] of seen) {
        assert.equal(typeof msg.destination.id, type, `${event}.destination.id`);
        const sender = msg.candidate || msg.voter || msg.node;
        assert.equal(typeof sender.id, type, `${event} sender id`);
      }
      // a node's own RaftNode object travels as the sender
      const lm = seen.find(([e, m]) => e === 'syncData' && m.node.id === leader);
      assert.ok(lm, 'leader sent syncData');
    } finally {
      await cluster.destroy();
    }
  }
});

test('events and message fields (raftq fields kept, extras added, data only when needed)', T, async () => {
  const seen = [];
  const recs = new Map();
  const cluster = createMemoryCluster({
    ids: ['n1', 'n2', 'n3'],
    heartbeat: 10,
    minimumElectionTime: 60,
    maximumElectionTime: 120,
    tap: (event, msg, from) => seen.push({ event, msg, from, at: seen.length }),
  });
  for (const id of cluster.ids) recs.set(id, record(cluster.node(id), ['roleChanged', 'log', 'dataChanged', 'leaderChanged']));
  try {
    await cluster.start();
    const leader = await cluster.waitForLeader(3000);
    const value = { list: [1, 2, 3], nested: { ok: true }, s: 'x' };
    await cluster.node(leader).dispatch('replicateData', value);
    assert.deepEqual(cluster.node(leader).getData(), value, 'leader getData() after replicateData resolved');
    await waitFor(() => cluster.ids.every((id) => JSON.stringify(cluster.node(id).getData()) === JSON.stringify(value)), 2000, 'data on every node');
    const convergedAt = seen.length;

    const byEvent = (e) => seen.filter((s) => s.event === e);
    assert.ok(byEvent('voteRequest').length > 0 && byEvent('voteResponse').length > 0, 'votes were exchanged');

    for (const { event, msg, from } of seen) {
      assert.equal(typeof msg.destination, 'object', `${event}.destination`);
      assert.ok(cluster.ids.includes(msg.destination.id), `${event}.destination.id`);
      assert.notEqual(msg.destination.id, from, `${event} not sent to self`);
      assert.equal(msg.destination.name, `node-${msg.destination.id}`, `${event}.destination is the member as acked (extra fields kept)`);
      assert.equal(msg.timeout, 30, `${event}.timeout = minimumElectionTime / 2`);
      assert.equal(typeof msg.term, 'number', `${event}.term`);
      if (event === 'voteRequest') {
        assert.equal(msg.candidate.id, from);
        assert.equal(typeof msg.preVote, 'boolean');
        assert.equal(typeof msg.lastTerm, 'number');
        assert.equal(typeof msg.lastIndex, 'number');
      } else if (event === 'voteResponse') {
        assert.equal(msg.voter.id, from);
        assert.equal(typeof msg.granted, 'boolean');
      } else if (event === 'syncData') {
        assert.equal(msg.node.id, from);
        for (const f of ['dataTerm', 'dataIndex', 'commitTerm', 'commitIndex']) assert.equal(typeof msg[f], 'number', `syncData.${f}`);
      } else if (event === 'dataResponse') {
        assert.equal(msg.node.id, from);
        assert.equal(typeof msg.success, 'boolean');
      }
    }
    assert.ok(byEvent('syncData').some((s) => JSON.stringify(s.msg.data) === JSON.stringify(value)), 'some syncData carried the new data');
    assert.ok(byEvent('dataResponse').some((s) => s.msg.success === true), 'some dataResponse succeeded');

    // heartbeats after convergence carry no data
    await waitFor(() => seen.slice(convergedAt).filter((s) => s.event === 'syncData').length >= 12, 2000, '12 more heartbeats');
    const later = seen.slice(convergedAt).filter((s) => s.event === 'syncData');
    // the very first ones may still be in flight from before convergence; skip one round
    for (const s of later.slice(4)) assert.equal(s.msg.data, undefined, 'heartbeat to an up-to-date follower carries no data');

    // roleChanged: numbers, only on real changes; the leader ends as LEADER
    for (const id of cluster.ids) {
      const roles = recs.get(id).roleChanged;
      for (const r of roles) assert.ok([1, 2, 3].includes(r), `roleChanged value ${r}`);
      for (let i = 1; i < roles.length; i++) assert.notEqual(roles[i], roles[i - 1], `node ${id} roleChanged repeated ${roles[i]}`);
    }
    const lr = recs.get(leader);
    assert.equal(lr.roleChanged.at(-1), RaftRole.LEADER);
    assert.ok(lr.roleChanged.includes(RaftRole.CANDIDATE), 'leader was CANDIDATE first');
    assert.ok(hasLog(lr, 'node become LEADER') && hasLog(lr, 'node become CANDIDATE'), `leader logs: ${logTexts(lr)}`);
    for (const id of cluster.ids) {
      const r = recs.get(id);
      for (const l of r.log) assert.equal(typeof l.message, 'string');
      assert.equal(r.leaderChanged.at(-1).leader, leader, `node ${id} leaderChanged`);
      assert.equal(r.leaderChanged.at(-1).term, cluster.node(id).getTerm(), `node ${id} leaderChanged term`);
      assert.ok(r.dataChanged.some((d) => JSON.stringify(d.data) === JSON.stringify(value) && d.term >= 1 && d.index >= 1), `node ${id} dataChanged with the value and its version`);
    }

    const st = cluster.node(leader).getStatus();
    assert.equal(st.role, RaftRole.LEADER);
    assert.equal(st.leader, leader);
    assert.ok(st.version.index >= 1);
    assert.deepEqual(st.commit, st.version, 'leader committed its latest version');
  } finally {
    await cluster.destroy();
  }
});

test('malformed messages are logged, counted and change nothing; dispatch resolves', T, async () => {
  const { raft, agent } = quietRaft();
  const rec = record(raft);
  await raft.dispatch('ackNode', { id: 'p', time: 1 });
  await raft.dispatch('serviceStarted', { node: { id: 'me', time: 1 } });
  const snapshot = () => {
    const { rejected, persist, ...rest } = raft.getStatus();
    return JSON.stringify({ rest, data: raft.getData(), followers: raft.getFollowers(), role: raft.getRole(), leader: raft.getLeader() });
  };
  const before = snapshot();
  const p = { id: 'p', time: 1 };
  const vr = { candidate: p, term: 9, lastTerm: 0, lastIndex: 0 };
  const sd = { node: p, term: 9, dataTerm: 9, dataIndex: 1, commitTerm: 9, commitIndex: 1, data: { evil: true } };
  const dr = { node: p, term: 9, success: true, dataTerm: 0, dataIndex: 0 };
  const cases = [
    ['voteRequestReceived', { ...vr, term: undefined }, 'term'],
    ['voteRequestReceived', { ...vr, term: '9' }, 'term'],
    ['voteRequestReceived', { ...vr, term: -1 }, 'term'],
    ['voteRequestReceived', { ...vr, term: 1.5 }, 'term'],
    ['voteRequestReceived', { ...vr, term: NaN }, 'term'],
    ['voteRequestReceived', { ...vr, term: 2 ** 60 }, 'term'],
    ['voteRequestReceived', { ...vr, lastTerm: 10 }, 'lastTerm'],
    ['voteRequestReceived', { ...vr, candidate: undefined }, 'candidate'],
    ['voteRequestReceived', { ...vr, candidate: {} }, 'id'],
    ['voteResponseReceived', { voter: p, term: 9 }, 'granted'],
    ['voteResponseReceived', { voter: p, term: 9, granted: 'yes' }, 'granted'],
    ['dataReceived', { ...sd, term: '9' }, 'term'],
    ['dataReceived', { ...sd, dataTerm: undefined }, 'dataTerm'],
    ['dataReceived', { ...sd, commitIndex: 5 }, 'commitIndex'],
    ['dataReceived', { ...sd, node: null }, 'node'],
    ['dataResponseReceived', { ...dr, success: 1 }, 'success'],
    ['dataResponseReceived', { ...dr, term: -3 }, 'term'],
  ];
  let expected = 0;
  for (const [event, body, field] of cases) {
    const label = `${event} ${JSON.stringify(body)}`;
    const logsBefore = rec.log.length;
    const out = outgoingCount(rec);
    await raft.dispatch(event, body);
    expected++;
    const line = await waitFor(
      () => rec.log.slice(logsBefore).map((l) => l.message).find((m) => m.startsWith(`raft rejected ${event}: `)),
      1000,
      `"raft rejected ${event}: ..." for ${label}`,
    );
    if (field) assert.match(line, new RegExp(field), `${label}: the reason names the field (${line})`);
    assert.equal(raft.getStatus().rejected, expected, `${label}: counted in getStatus().rejected`);
    assert.equal(snapshot(), before, `${label}: state unchanged`);
    assert.equal(outgoingCount(rec), out, `${label}: nothing sent`);
  }
  assert.equal(agent.calls.filter((c) => c.data.term !== 0).length, 0, 'no higher term persisted');
  await raft.destroy();
});

test('non-object bodies (null, undefined, a number, a string) are logged, counted and change nothing', T, async () => {
  const { raft } = quietRaft();
  const rec = record(raft);
  await raft.dispatch('ackNode', { id: 'p', time: 1 });
  await raft.dispatch('serviceStarted', { node: { id: 'me', time: 1 } });
  const term = raft.getStatus().term;
  let expected = 0;
  for (const event of ['voteRequestReceived', 'voteResponseReceived', 'dataReceived', 'dataResponseReceived']) {
    for (const body of [null, undefined, 42, 'str']) {
      const logsBefore = rec.log.length;
      await raft.dispatch(event, body);
      expected++;
      await waitFor(
        () => rec.log.slice(logsBefore).some((l) => l.message.startsWith(`raft rejected ${event}: `)),
        1000,
        `"raft rejected ${event}: ..." for ${String(body)}`,
      );
      assert.equal(raft.getStatus().rejected, expected, `${event} ${String(body)}: counted in getStatus().rejected`);
    }
  }
  assert.equal(raft.getStatus().term, term);
  assert.equal(outgoingCount(rec), 0);
  await raft.destroy();
});

test('messages before serviceStarted and after destroy are ignored', T, async () => {
  const { raft } = quietRaft();
  const rec = record(raft);
  await raft.dispatch('ackNode', { id: 'p', time: 1 });
  await raft.dispatch('voteRequestReceived', { candidate: { id: 'p', time: 1 }, term: 5, lastTerm: 0, lastIndex: 0 });
  await raft.dispatch('dataReceived', { node: { id: 'p', time: 1 }, term: 5, dataTerm: 5, dataIndex: 1, commitTerm: 5, commitIndex: 1, data: { x: 1 } });
  await raft.dispatch('replicateData', { y: 1 });
  assert.equal(raft.getStatus().term, 0);
  assert.equal(raft.getLeader(), null);
  assert.equal(outgoingCount(rec), 0);

  await raft.dispatch('serviceStarted', { node: { id: 'me', time: 1 } });
  await raft.destroy();
  const logsAfterDestroy = rec.log.length;
  const after = [];
  raft.subscribe('voteResponse', (m) => after.push(m));
  await raft.dispatch('voteRequestReceived', { candidate: { id: 'p', time: 1 }, term: 7, lastTerm: 0, lastIndex: 0 });
  assert.equal(after.length, 0, 'no vote after destroy');
  assert.equal(raft.getStatus().term, 0, 'term unchanged after destroy');
  assert.equal(rec.log.length, logsAfterDestroy, 'listeners were removed by destroy');
});

test('destroy() persists, emits a log, removes every listener', T, async () => {
  const { raft, agent } = quietRaft();
  const rec = record(raft);
  const custom = [];
  raft.subscribe('custom', (m) => custom.push(m));
  await raft.dispatch('serviceStarted', { node: { id: 'd', time: 1 } });
  const callsBefore = agent.calls.length;
  const logsBefore = rec.log.length;
  await raft.destroy();
  assert.ok(agent.calls.length > callsBefore, 'persist called by destroy');
  assert.ok(rec.log.length > logsBefore, 'destroy logged something');
  await raft.dispatch('custom', 1);
  assert.deepEqual(custom, [], 'user listener removed');
  await raft.destroy(); // twice is harmless
});

test('serviceCrashed logs "raft crashed: <reason>" and leaves a FOLLOWER without leader; a second serviceStarted restarts', T, async () => {
  const { raft, agent } = quietRaft({ minimumElectionTime: 20, maximumElectionTime: 40, heartbeat: 10 });
  const rec = record(raft);
  const me = { id: 'solo', time: 1 };
  await raft.dispatch('serviceStarted', { node: me });
  await waitFor(() => raft.getRole() === RaftRole.LEADER, 2000, 'lone node to lead');
  const term = raft.getStatus().term;
  const callsBefore = agent.calls.length;
  await raft.dispatch('serviceCrashed', { reason: 'boom' });
  await waitFor(() => hasLog(rec, 'raft crashed: boom'), 1000, '"raft crashed: boom"');
  assert.equal(raft.getRole(), RaftRole.FOLLOWER);
  assert.equal(raft.getLeader(), null);
  await waitFor(() => agent.calls.slice(callsBefore).some((c) => c.data.term >= term), 1000, 'persist after crash');

  await raft.dispatch('serviceStarted', { node: me });
  assert.equal(agent.restores.length, 2, 'restore called again');
  assert.equal(raft.getNode(), me);
  assert.ok(logTexts(rec).filter((m) => m === 'raft started').length >= 2, 'started twice');
  assert.ok(raft.getStatus().term >= term, 'term survives a restart');
  await waitFor(() => raft.getRole() === RaftRole.LEADER, 2000, 'lone node to lead again');
  await raft.destroy();
});

test('a lone leader: replicateData/replicate commit; transferLeadership/replicate on a follower resolve false', T, async () => {
  const { raft } = quietRaft({ minimumElectionTime: 20, maximumElectionTime: 40, heartbeat: 10 });
  await assert.rejects(raft.replicate({ a: 1 }), (e) => e instanceof NotLeaderError && e.leader === null, 'replicate before start');
  assert.equal(await raft.transferLeadership(), false, 'transfer before start');
  assert.equal(await raft.transferLeadership('nobody'), false, 'transfer to unknown');
  await raft.dispatch('serviceStarted', { node: { id: 1, time: 1 } });
  await waitFor(() => raft.getRole() === RaftRole.LEADER, 2000, 'lone node to lead');
  await raft.dispatch('replicateData', { a: 1 });
  assert.deepEqual(raft.getData(), { a: 1 });
  assert.ok(await raft.replicate([1, 'two', null]));
  assert.deepEqual(raft.getData(), [1, 'two', null]);
  assert.equal(await raft.transferLeadership(), false, 'no one to transfer to');
  await raft.destroy();
});

test('persist calls never overlap, coalesce, and votes wait for them', T, async () => {
  let active = 0;
  let maxActive = 0;
  const completed = []; // data of finished persists, in order
  const calls = [];
  const agent = {
    async persist(node, data) {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push(clone(data));
      await new Promise((r) => setTimeout(r, 15));
      completed.push(clone(data));
      active--;
    },
    async restore() {
      return undefined;
    },
  };
  const { raft } = quietRaft({ persistAgent: agent });
  const responses = [];
  raft.subscribe('voteResponse', (m) => responses.push({ m: clone({ ...m, destination: m.destination.id, voter: m.voter.id }), persisted: completed.map((c) => c.term) }));
  await raft.dispatch('ackNode', { id: 'c', time: 1 });
  await raft.dispatch('serviceStarted', { node: { id: 'me', time: 1 } });
  const N = 20;
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      raft.dispatch('voteRequestReceived', { candidate: { id: 'c', time: 1 }, term: i + 1, preVote: false, lastTerm: 0, lastIndex: 0 }),
    ),
  );
  await waitFor(() => {
    const s = raft.getStatus().persist;
    return s.requested === s.done && active === 0 && responses.some((r) => r.m.term === N);
  }, 3000, 'persistence to settle and the term-20 vote');
  assert.equal(maxActive, 1, 'persist calls overlapped');
  assert.ok(calls.length < N, `persist calls were not coalesced (${calls.length} calls for ${N} term changes)`);
  const last = completed.at(-1);
  assert.equal(last.term, N);
  assert.equal(last.votedFor, 'c');
  assert.equal(raft.getStatus().term, N);
  assert.equal(raft.getStatus().votedFor, 'c');
  const granted = responses.filter((r) => r.m.granted);
  assert.ok(granted.some((r) => r.m.term === N), 'the latest request was granted');
  const perTerm = new Map();
  for (const r of granted) {
    perTerm.set(r.m.term, (perTerm.get(r.m.term) || 0) + 1);
    assert.ok(r.persisted.some((t) => t >= r.m.term), `vote for term ${r.m.term} sent before its term was persisted (persisted: ${r.persisted})`);
  }
  for (const [t, n] of perTerm) assert.equal(n, 1, `${n} votes granted in term ${t}`);
  await raft.destroy();
  assert.equal(maxActive, 1, 'persist on destroy overlapped');
});

test('a raftq 1.0.0 file {term, votedFor, data} restores; the new body has the extra fields and round-trips', T, async () => {
  const { raft, agent } = quietRaft({ restored: { term: 7, votedFor: 'x', data: { a: 1 } } });
  await raft.dispatch('ackNode', { id: 'x', time: 1 });
  await raft.dispatch('serviceStarted', { node: { id: 'r', time: 1 } });
  let st = raft.getStatus();
  assert.equal(st.term, 7);
  assert.equal(st.votedFor, 'x');
  assert.deepEqual(raft.getData(), { a: 1 });
  await raft.destroy();
  const body = agent.calls.at(-1).data;
  for (const k of ['term', 'votedFor', 'data', 'dataTerm', 'dataIndex', 'commitTerm', 'commitIndex']) assert.ok(k in body, `persisted body has ${k}: ${JSON.stringify(body)}`);
  assert.equal(body.term, 7);
  assert.equal(body.votedFor, 'x');
  assert.deepEqual(body.data, { a: 1 });

  // the new body restores into a fresh instance
  const again = quietRaft({ restored: body });
  await again.raft.dispatch('serviceStarted', { node: { id: 'r', time: 1 } });
  st = again.raft.getStatus();
  assert.equal(st.term, 7);
  assert.deepEqual(again.raft.getData(), { a: 1 });
  await again.raft.destroy();

  // a numeric votedFor keeps its type through persistence
  const num = quietRaft({ restored: { term: 3, votedFor: 0, data: [] } });
  await num.raft.dispatch('serviceStarted', { node: { id: 1, time: 1 } });
  assert.equal(num.raft.getStatus().votedFor, 0);
  await num.raft.destroy();
  assert.equal(num.agent.calls.at(-1).data.votedFor, 0);
});

test('ESM: named exports through import()', T, async () => {
  const mod = await import(pathToFileURL(require.resolve('..')).href);
  assert.equal(mod.Raftq, Raftq);
  assert.equal(mod.RaftRole, RaftRole);
  assert.equal(mod.RaftRole.LEADER, 3);

  // as a consumer would: import { Raftq } from 'raftq-native' in an .mjs file
  const dir = tempDir('raftq-esm-');
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'raftq-native'), 'dir');
    fs.writeFileSync(
      path.join(dir, 'main.mjs'),
      `import { Raftq, RaftRole } from 'raftq-native';
const r = new Raftq({ heartbeat: 10, minimumElectionTime: 20, maximumElectionTime: 40, persistAgent: { async persist() {}, async restore() {} } });
await r.dispatch('serviceStarted', { node: { id: 'esm' } });
console.log(typeof Raftq, RaftRole[3], r.getNode().id);
await r.destroy();
`,
    );
    const out = await new Promise((resolve, reject) =>
      execFile(process.execPath, [path.join(dir, 'main.mjs')], { timeout: 10000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    assert.equal(out.trim(), 'function LEADER esm');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
