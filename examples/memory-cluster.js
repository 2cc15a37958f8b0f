'use strict';
// An in-memory raftq-native cluster: N nodes in one process, wired together by forwarding every
// outgoing event (voteRequest, voteResponse, syncData, dataResponse) to its destination's
// matching "...Received" input, asynchronously. Links can be cut to simulate drops and
// partitions, and each node keeps its persisted state in memory.
//
//   const { createMemoryCluster } = require('./memory-cluster');
//   const cluster = createMemoryCluster({ size: 3 });
//   await cluster.start();
//   const leader = await cluster.waitForLeader();
//   await cluster.node(leader).dispatch('replicateData', { hello: 'world' });
//   await cluster.destroy();
//
// Run it directly (`node examples/memory-cluster.js`) for a short narrated demo.

const { Raftq, RaftRole } = require('..');

const MAPPING = {
  voteRequest: 'voteRequestReceived',
  voteResponse: 'voteResponseReceived',
  syncData: 'dataReceived',
  dataResponse: 'dataResponseReceived',
};

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/**
 * @param {object} [opts]
 * @param {number} [opts.size=4]            number of nodes (ids 0..size-1 unless `ids` is given)
 * @param {Array<string|number>} [opts.ids] explicit node ids (their JS type is kept)
 * @param {number} [opts.heartbeat=10]
 * @param {number} [opts.minimumElectionTime=100]
 * @param {number} [opts.maximumElectionTime=200]
 * @param {'microtask'|'immediate'} [opts.delivery='microtask'] how messages are forwarded
 * @param {(id) => object} [opts.persistAgent] custom persist agent factory (per node)
 * @param {(event, msg, fromId) => void} [opts.tap] sees every outgoing network message
 */
function createMemoryCluster(opts = {}) {
  const {
    size = 4,
    heartbeat = 10,
    minimumElectionTime = 100,
    maximumElectionTime = 200,
    delivery = 'microtask',
    tap,
  } = opts;
  const ids = opts.ids ? opts.ids.slice() : Array.from({ length: size }, (_, i) => i);
  const key = (id) => `${typeof id}:${id}`;

  /** persisted bodies, per node (what restore returns) */
  const storage = new Map();
  /** every persist call: { id, seq, at, data, started, finished } */
  const persistCalls = [];
  let persistSeq = 0;
  // the history keeps each call, but the persisted body of the last KEEP_BODIES only: a long run
  // with large values would otherwise hold a copy of every one
  const KEEP_BODIES = 1000;
  const defaultAgent = (id) => ({
    async persist(node, data) {
      const stored = clone(data);
      const rec = { id: node.id, seq: ++persistSeq, at: Date.now(), data: stored, finished: false };
      persistCalls.push(rec);
      if (persistCalls.length > KEEP_BODIES) persistCalls[persistCalls.length - 1 - KEEP_BODIES].data = undefined;
      storage.set(key(node.id), stored);
      rec.finished = true;
    },
    async restore(node) {
      return clone(storage.get(key(node.id)));
    },
  });

  const nodes = new Map(); // key(id) -> Raftq
  const raftNodes = new Map(); // key(id) -> the RaftNode object given to serviceStarted
  const blocked = new Set(); // "from->to" links that drop messages
  let filter = null; // (event, msg, from, to) => false to drop
  const down = new Set(); // nodes that neither send nor receive
  const destroyed = new Set();
  const unsubscribers = [];
  let delivered = 0;
  let dropped = 0;

  const linkKey = (a, b) => `${key(a)}->${key(b)}`;
  const schedule =
    delivery === 'immediate' ? (fn) => setImmediate(fn) : (fn) => queueMicrotask(fn);

  for (const id of ids) {
    const raft = new Raftq({
      heartbeat,
      minimumElectionTime,
      maximumElectionTime,
      persistAgent: (opts.persistAgent || defaultAgent)(id),
    });
    nodes.set(key(id), raft);
    for (const [event, incoming] of Object.entries(MAPPING)) {
      unsubscribers.push(
        raft.subscribe(event, (msg) => {
          if (tap) tap(event, msg, id);
          const to = msg.destination.id;
          if (down.has(key(id)) || down.has(key(to)) || blocked.has(linkKey(id, to)) || (filter && filter(event, msg, id, to) === false)) {
            dropped++;
            return;
          }
          const target = nodes.get(key(to));
          if (!target || destroyed.has(key(to))) {
            dropped++;
            return;
          }
          schedule(() => {
            // re-check at delivery time: a partition may have started in between
            if (down.has(key(to)) || blocked.has(linkKey(id, to)) || destroyed.has(key(to))) {
              dropped++;
              return;
            }
            delivered++;
            target.dispatch(incoming, msg);
          });
        }),
      );
    }
  }

  function node(id) {
    const raft = nodes.get(key(id));
    if (!raft) throw new Error(`no node ${String(id)}`);
    return raft;
  }

  /** ack every peer on every node, then start them all */
  async function start() {
    const now = Date.now();
    for (const id of ids) {
      for (const peer of ids) {
        if (peer !== id) await node(id).dispatch('ackNode', { id: peer, time: now, name: `node-${peer}` });
      }
    }
    await Promise.all(
      ids.map((id) => {
        const rn = { id, time: now, name: `node-${id}` };
        raftNodes.set(key(id), rn);
        return node(id).dispatch('serviceStarted', { node: rn });
      }),
    );
  }

  const live = () => ids.filter((id) => !destroyed.has(key(id)));

  /** ids of the live nodes that currently consider themselves leader */
  function leaders() {
    return live().filter((id) => node(id).getRole() === RaftRole.LEADER);
  }

  /**
   * The one leader all the given (default: live, reachable) nodes agree on, or undefined.
   * Agreement = exactly one of them has role LEADER, and every one of them names it as leader.
   */
  function agreedLeader(among = live().filter((id) => !down.has(key(id)))) {
    const ls = among.filter((id) => node(id).getRole() === RaftRole.LEADER);
    if (ls.length !== 1) return undefined;
    const l = ls[0];
    return among.every((id) => node(id).getLeader() === l) ? l : undefined;
  }

  async function waitForLeader(timeoutMs = 2000, among) {
    const t0 = Date.now();
    for (;;) {
      const l = agreedLeader(among);
      if (l !== undefined) return l;
      if (Date.now() - t0 > timeoutMs) {
        const roles = ids.map((id) => `${String(id)}:${RaftRole[node(id).getRole()]}`).join(' ');
        throw new Error(`no agreed leader within ${timeoutMs} ms (${roles})`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** cut the links between `id` and every other node (both directions) */
  function isolate(id) {
    for (const other of ids) {
      if (other === id) continue;
      blocked.add(linkKey(id, other));
      blocked.add(linkKey(other, id));
    }
  }

  /** split the cluster into groups; links across groups drop */
  function partition(...groups) {
    for (const g of groups) {
      for (const a of g) {
        for (const other of ids) if (!g.includes(other)) {
          blocked.add(linkKey(a, other));
          blocked.add(linkKey(other, a));
        }
      }
    }
  }

  /** drop every message for which fn(event, msg, fromId, toId) returns false (null: none) */
  function setFilter(fn) {
    filter = fn;
  }

  function cut(from, to) {
    blocked.add(linkKey(from, to));
  }

  /** restore every link */
  function heal() {
    blocked.clear();
    down.clear();
  }

  /** take a node off the network without telling it (as if its machine vanished) */
  function takeDown(id) {
    down.add(key(id));
  }

  async function crash(id, reason = 'test crash') {
    await node(id).dispatch('serviceCrashed', { reason });
  }

  async function destroy() {
    for (const u of unsubscribers.splice(0)) u();
    for (const id of ids) {
      if (destroyed.has(key(id))) continue;
      destroyed.add(key(id));
      await node(id).destroy();
    }
  }

  async function destroyNode(id) {
    destroyed.add(key(id));
    await node(id).destroy();
  }

  return {
    ids,
    node,
    nodes: () => ids.map((id) => node(id)),
    raftNode: (id) => raftNodes.get(key(id)),
    start,
    leaders,
    agreedLeader,
    waitForLeader,
    isolate,
    partition,
    cut,
    setFilter,
    heal,
    takeDown,
    crash,
    destroy,
    destroyNode,
    storage: (id) => storage.get(key(id)),
    persistCalls,
    stats: () => ({ delivered, dropped }),
  };
}

module.exports = { createMemoryCluster, MAPPING };

if (require.main === module) {
  (async () => {
    const log = (...a) => console.log(`[${new Date().toISOString()}]`, ...a);
    const cluster = createMemoryCluster({ size: 4 });
    const t0 = Date.now();
    await cluster.start();
    const leader = await cluster.waitForLeader();
    log(`leader ${leader} elected after ${Date.now() - t0} ms`);

    const value = { counter: 1, note: 'replicated in memory' };
    await cluster.node(leader).dispatch('replicateData', value);
    log(`leader ${leader} committed`, JSON.stringify(cluster.node(leader).getData()));

    const t1 = Date.now();
    await cluster.crash(leader, 'demo');
    let next;
    for (;;) {
      next = cluster.agreedLeader();
      if (next !== undefined && next !== leader) break;
      if (Date.now() - t1 > 2000) throw new Error('no new leader after crash');
      await new Promise((r) => setTimeout(r, 2));
    }
    log(`leader ${leader} crashed; node ${next} took over after ${Date.now() - t1} ms`);
    for (const id of cluster.ids) {
      log(`node ${id}: ${RaftRole[cluster.node(id).getRole()]}`, JSON.stringify(cluster.node(id).getData()));
    }
    await cluster.destroy();
    log('destroyed; the process exits by itself');
  })().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
