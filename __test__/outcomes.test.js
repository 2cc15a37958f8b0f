'use strict';
// Issue 7: replicate(), transferLeadership() and the data values react to the core's outcome
// outputs (Proposal, TransferEnded, Released); no rule of their own in JavaScript.
const test = require('node:test');
const assert = require('node:assert/strict');
const { waitFor } = require('./_helpers');
const { createMemoryCluster } = require('../examples/memory-cluster');

const T = { timeout: 20000 };

test('replicate() resolves true once committed, and the values of older versions are released', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const results = [];
    for (let i = 0; i < 300; i++) results.push(await c.node(leader).replicate({ i }));
    assert.deepEqual(new Set(results), new Set([true]));
    await waitFor(() => c.ids.every((id) => c.node(id).getData().i === 299), 3000);
    // every node holds the values of the versions its core still needs: a handful, not 300
    await waitFor(() => c.ids.every((id) => c.node(id).getStatus().values <= 3), 3000);
    for (const id of c.ids) assert.ok(c.node(id).getStatus().values >= 1, `node ${id} holds its data`);
  } finally {
    await c.destroy();
  }
});

test('replicate() on a leader cut off from everyone resolves false (not committed in time)', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    c.isolate(leader);
    const t0 = Date.now();
    const ok = await c.node(leader).replicate({ lost: true });
    assert.equal(ok, false);
    // decided by the core within an election timeout (maximumElectionTime 200 ms), with slack
    assert.ok(Date.now() - t0 < 2000, `decided after ${Date.now() - t0} ms`);
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
