'use strict';
// Issue 7: replicate(), transferLeadership() and the data values react to the core's outcome
// outputs (Proposal, TransferEnded, Released); no rule of their own in JavaScript.
const test = require('node:test');
const assert = require('node:assert/strict');
const { waitFor } = require('./_helpers');
const { createMemoryCluster } = require('../examples/memory-cluster');
const { TimeoutError } = require('..');

const T = { timeout: 20000 };

test('replicate() resolves with the committed version, and the values of older versions are released', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const results = [];
    for (let i = 0; i < 300; i++) results.push(await c.node(leader).replicate({ i }));
    // each a version { term, index } of this leader's term, the indexes growing
    const term = c.node(leader).getTerm();
    results.forEach((v, i) => {
      assert.equal(v.term, term, `write ${i} in the leader's term`);
      if (i > 0) assert.ok(v.index > results[i - 1].index, `write ${i} after write ${i - 1}`);
    });
    await waitFor(() => c.ids.every((id) => c.node(id).getData().i === 299), 3000);
    // every node holds the values of the versions its core still needs: a handful, not 300
    await waitFor(() => c.ids.every((id) => c.node(id).getStatus().values <= 3), 3000);
    for (const id of c.ids) assert.ok(c.node(id).getStatus().values >= 1, `node ${id} holds its data`);
  } finally {
    await c.destroy();
  }
});

test('replicate() on a leader cut off from everyone rejects with TimeoutError (not committed in time)', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    c.isolate(leader);
    const t0 = Date.now();
    await assert.rejects(c.node(leader).replicate({ lost: true }), (e) => e instanceof TimeoutError && e.code === 'TIMEOUT');
    // decided by the core after replicateTimeout (default 5 x maximumElectionTime = 1000 ms), with slack
    assert.ok(Date.now() - t0 >= 900, `decided after ${Date.now() - t0} ms, before the timeout`);
    assert.ok(Date.now() - t0 < 3000, `decided after ${Date.now() - t0} ms`);
  } finally {
    await c.destroy();
  }
});

test('transferLeadership() resolves true when the target leads, false when it cannot', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const target = c.ids.find((id) => id !== leader);
    assert.equal(await c.node(leader).transferLeadership(target), true);
    await waitFor(() => c.agreedLeader() === target, 3000);
    // a leader cut off from everyone: the hand-off never arrives
    c.isolate(target);
    assert.equal(await c.node(target).transferLeadership(), false);
  } finally {
    await c.destroy();
  }
});
