'use strict';
// destroy() leaves no timers, tasks or handles behind: a process exits by itself afterwards.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnLogged, killAll, withTimeout, ROOT } = require('./_helpers');

const procs = [];
test.after(() => killAll(procs));

const EXIT_BOUND_MS = 1000;

/** Run `script` (CommonJS, cwd = repo root) and measure from its "DESTROYED" line to its exit. */
async function exitDelay(script) {
  const p = spawnLogged(process.execPath, ['-e', script], { cwd: ROOT });
  procs.push(p);
  let destroyedAt;
  try {
    const line = await p.waitForLine(/^DESTROYED$/, 15000);
    destroyedAt = line.at;
  } catch (err) {
    p.kill('SIGKILL');
    throw new Error(`${err.message}\n${p.output()}`);
  }
  const exit = await withTimeout(p.exited, EXIT_BOUND_MS + 4000);
  if (!exit) {
    p.kill('SIGKILL');
    assert.fail(`the process did not exit within ${EXIT_BOUND_MS + 4000} ms after destroy():\n${p.output()}`);
  }
  assert.equal(exit.code, 0, `exit code ${exit.code} (signal ${exit.signal}):\n${p.output()}`);
  return { ms: exit.at - destroyedAt, p };
}

const CLUSTER_SCRIPT = `
const { createMemoryCluster } = require(${JSON.stringify(path.join(ROOT, 'examples', 'memory-cluster.js'))});
(async () => {
  const cluster = createMemoryCluster({ size: 3, heartbeat: 10, minimumElectionTime: 50, maximumElectionTime: 100 });
  await cluster.start();
  const leader = await cluster.waitForLeader(3000);
  await cluster.node(leader).dispatch('replicateData', { bye: true });
  for (const id of cluster.ids) {
    const t0 = Date.now();
    while (JSON.stringify(cluster.node(id).getData()) !== '{"bye":true}') {
      if (Date.now() - t0 > 2000) throw new Error('no convergence');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  await cluster.destroy();
  console.log('DESTROYED');
})().catch((e) => { console.error(e); process.exit(2); });
`;

test(`3 in-memory nodes: started, replicated, destroyed -> the process exits within ${EXIT_BOUND_MS} ms`, { timeout: 30000 }, async (t) => {
  const { ms } = await exitDelay(CLUSTER_SCRIPT);
  t.diagnostic(`exited ${ms} ms after destroy`);
  assert.ok(ms <= EXIT_BOUND_MS, `exited only ${ms} ms after destroy()`);
});

test(`a lone leader and a never-started node: destroyed -> exit within ${EXIT_BOUND_MS} ms`, { timeout: 30000 }, async (t) => {
  const { ms } = await exitDelay(`
const { Raftq, RaftRole } = require(${JSON.stringify(ROOT)});
(async () => {
  const agent = { async persist() {}, async restore() {} };
  const idle = new Raftq({ heartbeat: 10, minimumElectionTime: 20, maximumElectionTime: 40, persistAgent: agent });
  const lone = new Raftq({ heartbeat: 10, minimumElectionTime: 20, maximumElectionTime: 40, persistAgent: agent });
  lone.subscribe('log', () => {});
  await lone.dispatch('serviceStarted', { node: { id: 'lone' } });
  const t0 = Date.now();
  while (lone.getRole() !== RaftRole.LEADER) {
    if (Date.now() - t0 > 2000) throw new Error('lone node never led');
    await new Promise((r) => setTimeout(r, 5));
  }
  await lone.dispatch('replicateData', { x: 1 });
  await idle.destroy();
  await lone.destroy();
  console.log('DESTROYED');
})().catch((e) => { console.error(e); process.exit(2); });
`);
  t.diagnostic(`exited ${ms} ms after destroy`);
  assert.ok(ms <= EXIT_BOUND_MS, `exited only ${ms} ms after destroy()`);
});

test('the memory-cluster example runs standalone and exits by itself', { timeout: 30000 }, async () => {
  const p = spawnLogged(process.execPath, [path.join(ROOT, 'examples', 'memory-cluster.js')], { cwd: ROOT });
  procs.push(p);
  const exit = await withTimeout(p.exited, 15000);
  if (!exit) {
    p.kill('SIGKILL');
    assert.fail(`examples/memory-cluster.js did not exit within 15 s:\n${p.output()}`);
  }
  assert.equal(exit.code, 0, p.output());
  assert.match(p.output(), /took over/);
  assert.match(p.output(), /destroyed; the process exits by itself/);
});
