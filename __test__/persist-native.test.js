'use strict';
// Issue 7: the persist queue is native. persistAgent.persist is called by the addon from its
// own runtime (a timer's persist starts with no JavaScript frame beneath it), replies wait for
// their persist, and a completion releases them without a JavaScript persist loop.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { waitFor } = require('./_helpers');
const { Raftq, RaftRole } = require('..');

const T = { timeout: 20000 };
const INDEX = path.join(__dirname, '..', 'index.js');

/** The stack frames below `persist` itself. */
function callers() {
  const lines = new Error().stack.split('\n').slice(1).map((l) => l.trim());
  return lines.slice(2); // this function and persist
}

test('an election timeout on a lone node persists the new term from the native runtime, no JS call beneath', T, async () => {
  const seen = [];
  const agent = {
    persist(node, data) {
      seen.push({ term: data.term, votedFor: data.votedFor, nodeId: data.nodeId, callers: callers() });
      return Promise.resolve();
    },
    async restore() {
      return undefined;
    },
  };
  const raft = new Raftq({ heartbeat: 10, minimumElectionTime: 50, maximumElectionTime: 60, persistAgent: agent });
  try {
    await raft.dispatch('serviceStarted', { node: { id: 'lone', time: 1 } });
    assert.equal(seen.length, 0, 'starting persists nothing');
    // the JS thread is idle from here: only waitFor's polling timers run
    await waitFor(() => raft.getRole() === RaftRole.LEADER, 5000, 'the lone node to lead');
    const first = seen[0];
    assert.ok(first, 'persist was called');
    assert.equal(first.term, 1);
    assert.equal(first.votedFor, 'lone');
    assert.equal(first.nodeId, 'lone');
    // called by the addon itself: neither index.js nor any function of this test is beneath it
    assert.deepEqual(
      first.callers.filter((l) => l.includes(INDEX) || l.includes(__filename)),
      [],
      `persist was called from JavaScript:\n${first.callers.join('\n')}`,
    );
  } finally {
    await raft.destroy();
  }
});

test('a vote grant leaves only once its persist resolved, released by the completion itself', T, async () => {
  let release;
  const pending = [];
  const agent = {
    persist(node, data) {
      pending.push(data);
      return new Promise((resolve) => {
        release = resolve;
      });
    },
    async restore() {
      return undefined;
    },
  };
  const raft = new Raftq({ heartbeat: 10, minimumElectionTime: 5000, maximumElectionTime: 6000, persistAgent: agent });
  try {
    const candidate = { id: 'c', time: 1 };
    await raft.dispatch('ackNode', candidate);
    await raft.dispatch('serviceStarted', { node: { id: 'me', time: 1 } });
    const responses = [];
    let released = 0;
    raft.subscribe('voteResponse', (m) => responses.push({ m, at: process.hrtime.bigint(), released }));
    await raft.dispatch('voteRequestReceived', { candidate, term: 1, preVote: false, lastTerm: 0, lastIndex: 0 });
    await waitFor(() => pending.length === 1, 2000, 'the persist of the vote');
    assert.equal(pending[0].term, 1);
    assert.equal(pending[0].votedFor, 'c');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(responses.length, 0, 'the grant left before its persist resolved');
    released = 1;
    const t0 = process.hrtime.bigint();
    release();
    await waitFor(() => responses.length === 1, 2000, 'the grant after the persist');
    assert.equal(responses[0].released, 1);
    assert.equal(responses[0].m.granted, true);
    assert.equal(responses[0].m.term, 1);
    assert.ok(responses[0].at > t0);
    assert.equal(raft.getStatus().persist.done, raft.getStatus().persist.requested);
  } finally {
    release && release();
    await raft.destroy();
  }
});
