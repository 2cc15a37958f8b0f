'use strict';
// In-memory clusters (examples/memory-cluster.js): elections, failover, replication,
// partitions, transfer. raftq's own suite used 4 nodes, heartbeat 10 ms, elections 100–200 ms.
const test = require('node:test');
const assert = require('node:assert/strict');
const { waitFor, waitForAgreedLeader, withTimeout, delay } = require('./_helpers');
const { Raftq, RaftRole, NotLeaderError } = require('..');
const { createMemoryCluster } = require('../examples/memory-cluster');

const TIMING = { heartbeat: 10, minimumElectionTime: 100, maximumElectionTime: 200 };
/** Slack on every timing bound: this runs on loaded 2-core machines (the measured times are
 * printed as diagnostics; `npm run bench` measures them properly). */
const SLACK = 400;
/** An election: at most two rounds of the longest timeout (a split vote), plus slack. */
const ELECTED_WITHIN = 2 * TIMING.maximumElectionTime + SLACK;
const REPEAT = 20;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Election safety watcher: records every (node, term) that became LEADER and
 * fails if two different nodes led in the same term.
 */
function watchLeaders(cluster) {
  const byTerm = new Map();
  const violations = [];
  for (const id of cluster.ids) {
    cluster.node(id).subscribe('roleChanged', (role) => {
      if (role !== RaftRole.LEADER) return;
      const term = cluster.node(id).getStatus().term;
      const prev = byTerm.get(term);
      if (prev !== undefined && prev !== id) violations.push(`term ${term}: ${String(prev)} and ${String(id)}`);
      byTerm.set(term, id);
    });
  }
  return {
    byTerm,
    check() {
      assert.deepEqual(violations, [], 'two leaders in one term');
    },
  };
}

function describeRoles(cluster) {
  return cluster.ids.map((id) => `${String(id)}:${RaftRole[cluster.node(id).getRole()]}/t${cluster.node(id).getStatus().term}`).join(' ');
}

test(`(a) a leader within ${ELECTED_WITHIN} ms of start, exactly one, ${REPEAT} times`, { timeout: 60000 }, async (t) => {
  const times = [];
  for (let i = 0; i < REPEAT; i++) {
    const cluster = createMemoryCluster({ size: 4, ...TIMING });
    const watch = watchLeaders(cluster);
    try {
      const t0 = Date.now();
      await cluster.start();
      let leader;
      try {
        leader = await waitForAgreedLeader(cluster, ELECTED_WITHIN - (Date.now() - t0));
      } catch (err) {
        throw new Error(`run ${i}: ${err.message}; ${describeRoles(cluster)}`);
      }
      times.push(Date.now() - t0);
      assert.deepEqual(cluster.leaders(), [leader], `run ${i}: exactly one node has role LEADER`);
      // it stays the only leader over a few heartbeats
      const term = cluster.node(leader).getStatus().term;
      await waitFor(() => cluster.node(leader).getStatus().commit.term === term, 500, 'leader to commit in its term');
      assert.deepEqual(cluster.leaders(), [leader]);
      watch.check();
    } finally {
      await cluster.destroy();
    }
  }
  t.diagnostic(`election times (ms): ${times.join(' ')}`);
});

test(`(b) after serviceCrashed on the leader, a different leader within ${TIMING.maximumElectionTime + SLACK} ms, ${REPEAT} times; the crash persisted`, { timeout: 60000 }, async (t) => {
  const times = [];
  for (let i = 0; i < REPEAT; i++) {
    const cluster = createMemoryCluster({ size: 4, ...TIMING });
    const watch = watchLeaders(cluster);
    try {
      await cluster.start();
      const old = await waitForAgreedLeader(cluster, 1000);
      const termAtCrash = cluster.node(old).getStatus().term;
      const persistMark = cluster.persistCalls.length;
      const t0 = Date.now();
      await cluster.crash(old, `test run ${i}`);
      let next;
      try {
        next = await waitForAgreedLeader(cluster, TIMING.maximumElectionTime + SLACK - (Date.now() - t0), { not: old });
      } catch (err) {
        throw new Error(`run ${i}: ${err.message}; ${describeRoles(cluster)}`);
      }
      times.push(Date.now() - t0);
      assert.notEqual(next, old);
      assert.notEqual(cluster.node(old).getRole(), RaftRole.LEADER, 'the crashed node no longer leads');
      assert.deepEqual(cluster.leaders(), [next], 'exactly one leader');
      const persisted = cluster.persistCalls.slice(persistMark).filter((c) => c.id === old);
      assert.ok(persisted.length > 0, `run ${i}: the crashed node persisted after serviceCrashed`);
      assert.ok(persisted.some((c) => c.data.term >= termAtCrash), `run ${i}: persisted term ${persisted.map((c) => c.data.term)} < ${termAtCrash}`);
      watch.check();
    } finally {
      await cluster.destroy();
    }
  }
  t.diagnostic(`failover times (ms): ${times.join(' ')}`);
});

test('(c) replicateData on the leader commits and every node converges; a follower\'s replicateData does nothing; committed data survives failover', { timeout: 30000 }, async () => {
  const cluster = createMemoryCluster({ size: 4, ...TIMING });
  const watch = watchLeaders(cluster);
  const changes = new Map(cluster.ids.map((id) => [id, []]));
  for (const id of cluster.ids) cluster.node(id).subscribe('dataChanged', (d) => changes.get(id).push(JSON.stringify(d.data)));
  try {
    await cluster.start();
    const leader = await waitForAgreedLeader(cluster, 1000);
    const v1 = { hello: 'world', n: [1, 2, 3] };
    const t0 = Date.now();
    await cluster.node(leader).dispatch('replicateData', v1);
    assert.ok(Date.now() - t0 <= TIMING.maximumElectionTime + SLACK, 'replicateData resolved within an election timeout');
    assert.deepEqual(cluster.node(leader).getData(), v1, 'leader getData() after replicateData resolved');
    const st = cluster.node(leader).getStatus();
    assert.deepEqual(st.commit, st.version, 'resolved once committed');
    await waitFor(() => cluster.ids.every((id) => same(cluster.node(id).getData(), v1)), 1000, 'every node to hold v1');

    // a follower's replicateData is ignored
    const follower = cluster.ids.find((id) => id !== leader);
    const bogus = { fromFollower: true };
    await cluster.node(follower).dispatch('replicateData', bogus);
    assert.deepEqual(cluster.node(follower).getData(), v1, 'follower data unchanged');
    const v2 = { hello: 'again' };
    await cluster.node(leader).dispatch('replicateData', v2);
    await waitFor(() => cluster.ids.every((id) => same(cluster.node(id).getData(), v2)), 1000, 'every node to hold v2');
    for (const id of cluster.ids) assert.ok(!changes.get(id).includes(JSON.stringify(bogus)), `node ${id} never saw the follower's value`);

    // a burst of concurrent updates: the last one wins everywhere
    const burst = Array.from({ length: 10 }, (_, i) => ({ seq: i }));
    await Promise.all(burst.map((v) => cluster.node(leader).dispatch('replicateData', v)));
    assert.deepEqual(cluster.node(leader).getData(), burst.at(-1));
    await waitFor(() => cluster.ids.every((id) => same(cluster.node(id).getData(), burst.at(-1))), 1000, 'every node to hold the last of the burst');

    // replicate() reports success
    assert.ok(await cluster.node(leader).replicate({ via: 'replicate' }));
    await assert.rejects(cluster.node(follower).replicate({ via: 'follower' }), (e) => e instanceof NotLeaderError && e.leader === leader);
    assert.deepEqual(cluster.node(leader).getData(), { via: 'replicate' });

    // committed data survives the leader's crash
    await cluster.crash(leader, 'failover with data');
    const next = await waitForAgreedLeader(cluster, 1000, { not: leader });
    assert.deepEqual(cluster.node(next).getData(), { via: 'replicate' }, 'new leader holds the committed data');
    await waitFor(() => cluster.ids.every((id) => same(cluster.node(id).getData(), { via: 'replicate' })), 1000, 'all nodes keep the committed data');
    watch.check();
  } finally {
    await cluster.destroy();
  }
});

test('(d) a partitioned-then-healed follower does not depose the healthy leader (pre-vote)', { timeout: 30000 }, async () => {
  const preVotes = [];
  const cluster = createMemoryCluster({
    size: 4,
    ...TIMING,
    tap: (event, msg, from) => {
      if (event === 'voteRequest') preVotes.push({ from, preVote: msg.preVote, term: msg.term });
    },
  });
  const watch = watchLeaders(cluster);
  try {
    await cluster.start();
    const leader = await waitForAgreedLeader(cluster, 1000);
    await cluster.node(leader).dispatch('replicateData', { before: 'partition' });
    const leaderRoles = [];
    cluster.node(leader).subscribe('roleChanged', (r) => leaderRoles.push(r));
    const term = cluster.node(leader).getStatus().term;
    const lonely = cluster.ids.find((id) => id !== leader);
    const lonelyTerm = cluster.node(lonely).getStatus().term;
    const mark = preVotes.length;

    cluster.isolate(lonely);
    // let the isolated node's election timer fire at least twice
    await waitFor(() => new Set(preVotes.slice(mark).filter((v) => v.from === lonely).map((v) => `${v.term}/${v.preVote}`)).size >= 1 &&
      preVotes.slice(mark).filter((v) => v.from === lonely).length >= 2 * (cluster.ids.length - 1), 2000, 'two election attempts by the isolated node');
    const attempts = preVotes.slice(mark).filter((v) => v.from === lonely);
    assert.ok(attempts.every((v) => v.preVote === true), 'an isolated node only sends pre-votes');
    assert.equal(cluster.node(lonely).getStatus().term, lonelyTerm, 'pre-vote keeps the isolated node\'s term');
    assert.equal(cluster.agreedLeader(cluster.ids.filter((id) => id !== lonely)), leader, 'the majority keeps its leader');
    await cluster.node(leader).dispatch('replicateData', { during: 'partition' });

    cluster.heal();
    await waitFor(() => cluster.node(lonely).getLeader() === leader && same(cluster.node(lonely).getData(), { during: 'partition' }), 1000, 'the healed node to follow the leader and catch up');
    assert.equal(cluster.node(leader).getRole(), RaftRole.LEADER, 'leader still leads');
    assert.equal(cluster.node(leader).getStatus().term, term, 'term unchanged after heal');
    assert.deepEqual(leaderRoles, [], 'the leader never changed role');
    assert.deepEqual(cluster.leaders(), [leader]);
    watch.check();
  } finally {
    await cluster.destroy();
  }
});

test('(d2) a leader cut off from its majority steps down; the majority elects another; healing leaves one leader', { timeout: 30000 }, async () => {
  const cluster = createMemoryCluster({ size: 4, ...TIMING });
  const watch = watchLeaders(cluster);
  try {
    await cluster.start();
    const old = await waitForAgreedLeader(cluster, 1000);
    await cluster.node(old).dispatch('replicateData', { v: 'before' });
    const oldTerm = cluster.node(old).getStatus().term;
    cluster.isolate(old);
    const others = cluster.ids.filter((id) => id !== old);
    const next = await waitForAgreedLeader(cluster, 1500, { among: others });
    assert.notEqual(next, old);
    await waitFor(() => cluster.node(old).getRole() !== RaftRole.LEADER, 2 * TIMING.maximumElectionTime + 200, 'the isolated leader to step down (check quorum)');
    // the isolated old leader cannot commit anything
    const stale = await withTimeout(cluster.node(old).replicate({ v: 'lost' }).then(() => true, () => false), 1000, 'timeout');
    assert.notEqual(stale, true, 'a minority cannot commit');
    await cluster.node(next).dispatch('replicateData', { v: 'after' });
    cluster.heal();
    await waitFor(() => cluster.agreedLeader() === next && cluster.ids.every((id) => same(cluster.node(id).getData(), { v: 'after' })), 1500, 'one leader and converged data after heal');
    assert.ok(cluster.node(next).getStatus().term > oldTerm);
    watch.check();
  } finally {
    await cluster.destroy();
  }
});

test('replicate on a leader that lost its majority rejects within replicateTimeout, replicateData resolves within an election timeout; the new majority\'s history wins', { timeout: 30000 }, async () => {
  const cluster = createMemoryCluster({ size: 4, ...TIMING });
  const watch = watchLeaders(cluster);
  try {
    await cluster.start();
    const old = await waitForAgreedLeader(cluster, 1000);
    await cluster.node(old).dispatch('replicateData', { v: 'committed' });
    cluster.isolate(old);
    const t0 = Date.now();
    const ok = await withTimeout(cluster.node(old).replicate({ v: 'lost' }).then(() => true, () => false), 2000, 'hung');
    const elapsed = Date.now() - t0;
    assert.equal(ok, false, 'not committed without a majority');
    // replicate(): TimeoutError after replicateTimeout (default 5 x maximumElectionTime)
    assert.ok(elapsed <= 5 * TIMING.maximumElectionTime + SLACK, `resolved after ${elapsed} ms`);
    const t1 = Date.now();
    await withTimeout(cluster.node(old).dispatch('replicateData', { v: 'lost too' }), 2000, 'hung');
    assert.ok(Date.now() - t1 <= TIMING.maximumElectionTime + SLACK, 'replicateData resolved within an election timeout');
    const others = cluster.ids.filter((id) => id !== old);
    const next = await waitForAgreedLeader(cluster, 1500, { among: others });
    cluster.heal();
    await waitFor(() => cluster.agreedLeader() === next, 1000, 'the old leader to follow the new one');
    await waitFor(() => cluster.ids.every((id) => same(cluster.node(id).getData(), { v: 'committed' })), 1000, 'every node on the last committed value');
    watch.check();
  } finally {
    await cluster.destroy();
  }
});

test('(e) a lone node becomes leader after its election timeout, not before', { timeout: 30000 }, async () => {
  for (let i = 0; i < 3; i++) {
    const raft = new Raftq({ ...TIMING, persistAgent: { async persist() {}, async restore() {} } });
    const roles = [];
    raft.subscribe('roleChanged', (r) => roles.push(r));
    try {
      const t0 = Date.now();
      await raft.dispatch('serviceStarted', { node: { id: 'alone', time: Date.now() } });
      assert.equal(raft.getRole(), RaftRole.FOLLOWER, 'starts as FOLLOWER');
      await waitFor(() => raft.getRole() === RaftRole.LEADER, 1000, 'the lone node to lead', 1);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= TIMING.minimumElectionTime - 5, `became leader after ${elapsed} ms, before the minimum election time`);
      assert.ok(elapsed <= TIMING.maximumElectionTime + SLACK, `became leader after ${elapsed} ms`);
      assert.equal(raft.getLeader(), 'alone');
      assert.ok(raft.getStatus().term >= 1, 'an election happened (term >= 1)');
      assert.equal(roles.at(-1), RaftRole.LEADER);
      await raft.dispatch('replicateData', { lone: true });
      assert.deepEqual(raft.getData(), { lone: true });
    } finally {
      await raft.destroy();
    }
  }
});

test('(f) transferLeadership moves leadership to the named node, or to an up-to-date one', { timeout: 30000 }, async () => {
  const cluster = createMemoryCluster({ size: 4, ...TIMING });
  const watch = watchLeaders(cluster);
  try {
    await cluster.start();
    const leader = await waitForAgreedLeader(cluster, 1000);
    await cluster.node(leader).dispatch('replicateData', { moved: false });
    const target = cluster.ids.find((id) => id !== leader);
    const targetLog = [];
    cluster.node(target).subscribe('log', ({ message }) => targetLog.push(message));
    const ok = await cluster.node(leader).transferLeadership(target);
    assert.equal(ok, true, 'transferLeadership(target) resolves true');
    const now = await waitForAgreedLeader(cluster, 500 + SLACK, { not: leader });
    assert.equal(now, target, 'the named node leads');
    // it stood because the leader told it to (TimeoutNow), not after an election timeout
    assert.ok(targetLog.includes('leadership transfer: campaigning at once'), targetLog.join('; '));
    assert.deepEqual(cluster.node(target).getData(), { moved: false });

    // no id: the leader picks an up-to-date follower
    const ok2 = await cluster.node(target).transferLeadership();
    assert.equal(ok2, true);
    const third = await waitForAgreedLeader(cluster, 500 + SLACK, { not: target });
    assert.notEqual(third, target);

    // from a follower, or to a non-member: false, never a rejection
    const follower = cluster.ids.find((id) => id !== third);
    assert.equal(await cluster.node(follower).transferLeadership(third), false);
    assert.equal(await cluster.node(third).transferLeadership('nobody'), false);
    assert.equal(cluster.agreedLeader(), third);
    watch.check();
  } finally {
    await cluster.destroy();
  }
});

test('lossy network (20% drops, setImmediate delivery): one leader per term, data converges', { timeout: 30000 }, async () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const cluster = createMemoryCluster({ size: 5, ...TIMING, delivery: 'immediate' });
  const watch = watchLeaders(cluster);
  cluster.setFilter(() => rand() >= 0.2);
  try {
    await cluster.start();
    await waitForAgreedLeader(cluster, 3000);
    let committed = false;
    let finalValue;
    for (let i = 0; i < 10 && !committed; i++) {
      const l = await waitForAgreedLeader(cluster, 3000);
      committed = await cluster.node(l).replicate({ final: i }).then(() => true, () => false);
      if (committed) finalValue = { final: i };
    }
    assert.ok(committed, 'a value was committed within 10 attempts');
    await waitFor(() => cluster.ids.every((id) => same(cluster.node(id).getData(), finalValue)), 3000, 'convergence on the committed value');
    watch.check();
  } finally {
    cluster.setFilter(null);
    await cluster.destroy();
  }
});

test('slow persistence (5 ms per call): calls never overlap per node, elections and commits still work', { timeout: 30000 }, async () => {
  const active = new Map();
  let maxActive = 0;
  const stores = new Map();
  const cluster = createMemoryCluster({
    size: 3,
    ...TIMING,
    persistAgent: (id) => ({
      async persist(node, data) {
        const n = (active.get(id) || 0) + 1;
        active.set(id, n);
        maxActive = Math.max(maxActive, n);
        await new Promise((r) => setTimeout(r, 5));
        stores.set(id, JSON.parse(JSON.stringify(data)));
        active.set(id, n - 1);
      },
      async restore() {
        return stores.get(id);
      },
    }),
  });
  const watch = watchLeaders(cluster);
  try {
    await cluster.start();
    const leader = await waitForAgreedLeader(cluster, 1500);
    await Promise.all(Array.from({ length: 20 }, (_, i) => cluster.node(leader).dispatch('replicateData', { i })));
    assert.deepEqual(cluster.node(leader).getData(), { i: 19 });
    await waitFor(() => cluster.ids.every((id) => same(cluster.node(id).getData(), { i: 19 })), 1000, 'convergence');
    // committed data is on a majority's storage
    await waitFor(() => cluster.ids.filter((id) => stores.has(id) && same(stores.get(id).data, { i: 19 })).length >= 2, 1000, 'a persisted majority');
    assert.equal(maxActive, 1, 'persist calls overlapped on one node');
    watch.check();
  } finally {
    await cluster.destroy();
  }
});

test('chaos: duplicated, delayed, reordered and dropped messages plus leader crashes; one leader per term, committed data never lost', { timeout: 60000 }, async () => {
  const MAP = { voteRequest: 'voteRequestReceived', voteResponse: 'voteResponseReceived', syncData: 'dataReceived', dataResponse: 'dataResponseReceived' };
  let seed = 20240607;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const ids = [0, 1, 2, 3, 4];
  const nodes = ids.map(() => new Raftq({ ...TIMING, persistAgent: { async persist() {}, async restore() {} } }));
  const pending = new Set();
  let stopped = false;
  const byTerm = new Map();
  const violations = [];
  try {
    for (const id of ids) {
      const n = nodes[id];
      for (const [event, incoming] of Object.entries(MAP)) {
        n.subscribe(event, (m) => {
          if (stopped) return;
          const copies = rand() < 0.1 ? 0 : rand() < 0.3 ? 2 : 1;
          for (let k = 0; k < copies; k++) {
            const snapshot = { ...m };
            const timer = setTimeout(() => {
              pending.delete(timer);
              if (!stopped) nodes[m.destination.id].dispatch(incoming, snapshot);
            }, Math.floor(rand() * 40));
            pending.add(timer);
          }
        });
      }
      n.subscribe('roleChanged', (r) => {
        if (r !== RaftRole.LEADER) return;
        const term = n.getStatus().term;
        if (byTerm.has(term) && byTerm.get(term) !== id) violations.push(`term ${term}: ${byTerm.get(term)} and ${id}`);
        byTerm.set(term, id);
      });
    }
    for (const id of ids) for (const o of ids) if (o !== id) await nodes[id].dispatch('ackNode', { id: o, time: 1 });
    await Promise.all(ids.map((id) => nodes[id].dispatch('serviceStarted', { node: { id, time: 1 } })));

    let lastCommitted = -1;
    let crashes = 0;
    const t0 = Date.now();
    for (let k = 0; Date.now() - t0 < 4000; k++) {
      const leader = ids.find((id) => nodes[id].getRole() === RaftRole.LEADER);
      if (leader !== undefined) {
        if (await nodes[leader].replicate({ k }).then(() => true, () => false)) lastCommitted = k;
        if (rand() < 0.05) {
          crashes++;
          await nodes[leader].dispatch('serviceCrashed', { reason: 'chaos' });
        }
      }
      await delay(20);
    }
    assert.ok(lastCommitted >= 0, 'something was committed under chaos');
    assert.deepEqual(violations, [], 'two leaders in one term');
    // calm: every node converges on one value, at least as new as the last acknowledged commit
    await waitFor(() => {
      const d = ids.map((id) => JSON.stringify(nodes[id].getData()));
      return d.every((x) => x === d[0]) && nodes[0].getData().k >= lastCommitted;
    }, 5000, `convergence on k >= ${lastCommitted} (crashes: ${crashes})`, 10);
  } finally {
    stopped = true;
    for (const t of pending) clearTimeout(t);
    await Promise.all(nodes.map((n) => n.destroy()));
  }
});
