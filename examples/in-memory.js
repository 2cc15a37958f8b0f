'use strict';
// Three raftq-native nodes in one process, wired by function calls instead of a network: the
// smallest complete app (tests, simulations, or trying the API). `node examples/in-memory.js`
// elects a leader, replicates a value, stops the leader, and sees another one take over.

const { Raftq, RaftRole } = require('raftq-native');

const ids = ['a', 'b', 'c'];
const nodes = new Map(); // id -> Raftq
const disk = new Map(); // id -> what persist wrote (a stand-in for a file)
const CHANNELS = { voteRequest: 'voteRequestReceived', voteResponse: 'voteResponseReceived', syncData: 'dataReceived', dataResponse: 'dataResponseReceived' };

for (const id of ids) {
  const raft = new Raftq({
    heartbeat: 20,
    minimumElectionTime: 150,
    maximumElectionTime: 300,
    persistAgent: {
      async persist(node, state) {
        disk.set(node.id, JSON.stringify(state)); // copy: the node may change its objects later
      },
      async restore(node) {
        const saved = disk.get(node.id);
        return saved === undefined ? undefined : JSON.parse(saved);
      },
    },
  });
  // the "network": each outgoing message is dispatched on its destination, asynchronously
  for (const [event, input] of Object.entries(CHANNELS)) {
    raft.subscribe(event, (message) => {
      const to = nodes.get(message.destination.id);
      if (to) setImmediate(() => to.dispatch(input, JSON.parse(JSON.stringify(message))));
    });
  }
  raft.subscribe('roleChanged', (role) => console.log(`${id} is now ${RaftRole[role]}`));
  nodes.set(id, raft);
}

/** the leader every running node agrees on, or null */
function agreedLeader() {
  const views = [...nodes.values()].map((n) => n.getLeader());
  return views.length && views.every((l) => l !== null && l === views[0]) && nodes.has(views[0]) ? views[0] : null;
}

async function until(what, cond, ms = 10000) {
  for (const t0 = Date.now(); !cond(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() - t0 > ms) throw new Error(`gave up waiting for ${what}`);
  }
}

async function main() {
  // membership first (every node knows the others), then start
  for (const [id, raft] of nodes) {
    for (const other of ids) if (other !== id) await raft.dispatch('ackNode', { id: other, time: Date.now() });
  }
  for (const [id, raft] of nodes) await raft.dispatch('serviceStarted', { node: { id, time: Date.now() } });

  await until('a leader', agreedLeader);
  const first = agreedLeader();
  console.log(`leader: ${first}`);

  const version = await nodes.get(first).replicate({ greeting: 'hello', at: 1 });
  console.log(`write committed at version ${version.term}:${version.index}`);
  await until('the value on every node', () => [...nodes.values()].every((n) => n.getData().greeting === 'hello'));
  for (const [id, raft] of nodes) console.log(`${id} has ${JSON.stringify(raft.getData())}`);

  // stop the leader: the two others elect a new one, which still has the value
  await nodes.get(first).destroy();
  nodes.delete(first);
  await until('a new leader', () => agreedLeader() !== null);
  const second = agreedLeader();
  console.log(`new leader: ${second}, data ${JSON.stringify(nodes.get(second).getData())}`);

  for (const raft of nodes.values()) await raft.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
  for (const raft of nodes.values()) raft.destroy();
});
