'use strict';
// Issue 8: getMetrics() (counters, gauges, histograms as a plain object) and the optional
// prom-client adapter (metrics.js), checked against a real prom-client Registry's text output.
const test = require('node:test');
const assert = require('node:assert/strict');
const { waitFor } = require('./_helpers');
const { createMemoryCluster } = require('../examples/memory-cluster');
const { Registry } = require('prom-client');
const { registerMetrics } = require('../metrics');

const T = { timeout: 20000 };

/** `name{labels} value` lines of a text exposition, as a Map. */
function samples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

test('getMetrics(): counters and gauges move with what the node did', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const before = c.node(leader).getMetrics();
    for (let i = 0; i < 5; i++) await c.node(leader).replicate({ i });
    assert.equal(await c.node(leader).confirmLeadership(), true);
    const m = c.node(leader).getMetrics();
    assert.equal(m.term, c.node(leader).getTerm());
    assert.equal(m.isLeader, true);
    assert.ok(m.electionsWon >= 1 && m.electionsStarted >= m.electionsWon, JSON.stringify(m));
    assert.equal(m.proposals.committed - before.proposals.committed, 5);
    assert.equal(m.commitLatencyMs.count - before.commitLatencyMs.count, 5);
    assert.equal(m.commitLatencyMs.buckets.at(-1).le, Infinity);
    assert.equal(m.commitLatencyMs.buckets.at(-1).count, m.commitLatencyMs.count, 'cumulative buckets');
    assert.ok(m.messagesOut.syncData > before.messagesOut.syncData);
    assert.ok(m.messagesIn.dataResponse > before.messagesIn.dataResponse);
    assert.ok(m.persist.calls > before.persist.calls);
    assert.equal(m.persist.latencyMs.count, m.persist.calls);
    assert.equal(m.confirmations.confirmed - before.confirmations.confirmed, 1);
    assert.equal(m.followers.length, 2);
    // a cut follower's lag grows on the leader
    const cut = c.ids.find((id) => id !== leader);
    c.partition([leader, ...c.ids.filter((id) => id !== leader && id !== cut)], [cut]);
    for (let i = 0; i < 3; i++) await c.node(leader).replicate({ after: i });
    const lag = c.node(leader).getMetrics().followers.find((f) => f.id === cut).lag;
    assert.ok(lag >= 3, `lag ${lag}`);
    // a follower counts no leadership of its own
    const fm = c.node(cut).getMetrics();
    assert.equal(fm.isLeader, false);
    assert.equal(fm.followers.length, 0);
  } finally {
    await c.destroy();
  }
});

test('registerMetrics(): a real prom-client Registry exposes the node\'s metrics', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const registry = new Registry();
    const unregister = registerMetrics(c.node(leader), registry, { labels: { node: String(leader) } });
    for (let i = 0; i < 4; i++) await c.node(leader).replicate({ i });
    const text = await registry.metrics();
    assert.match(text, /^# TYPE raftq_term gauge$/m);
    assert.match(text, /^# TYPE raftq_elections_won_total counter$/m);
    assert.match(text, /^# TYPE raftq_commit_latency_seconds histogram$/m);
    const s = samples(text);
    const L = `node="${leader}"`;
    assert.equal(s.get(`raftq_term{${L}}`), c.node(leader).getTerm());
    assert.equal(s.get(`raftq_is_leader{${L}}`), 1);
    assert.equal(s.get(`raftq_proposals_total{${L},result="committed"}`), c.node(leader).getMetrics().proposals.committed);
    assert.ok(s.get(`raftq_messages_out_total{${L},channel="syncData"}`) > 0);
    assert.equal(s.get(`raftq_commit_latency_seconds_count{${L}}`), c.node(leader).getMetrics().commitLatencyMs.count);
    assert.equal(s.get(`raftq_commit_latency_seconds_bucket{${L},le="+Inf"}`), s.get(`raftq_commit_latency_seconds_count{${L}}`));
    assert.ok(s.has(`raftq_persist_latency_seconds_bucket{${L},le="0.001"}`), [...s.keys()].filter((k) => k.includes('persist')).join(' '));
    for (const id of c.ids.filter((x) => x !== leader)) {
      assert.equal(s.get(`raftq_follower_lag{${L},follower="${id}"}`), 0);
    }
    // the samples are read at each scrape
    await c.node(leader).replicate({ more: true });
    const s2 = samples(await registry.metrics());
    assert.equal(s2.get(`raftq_proposals_total{${L},result="committed"}`), s.get(`raftq_proposals_total{${L},result="committed"}`) + 1);
    unregister();
    assert.doesNotMatch(await registry.metrics(), /raftq_/);
    assert.throws(() => registerMetrics({}, registry), TypeError);
  } finally {
    await c.destroy();
  }
});

test('registerMetrics(): several nodes share one registry, each with its own labels; the same labels twice throw; unregistering one keeps the others', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const registry = new Registry();
    const un = c.ids.map((id) => registerMetrics(c.node(id), registry, { labels: { node: String(id) } }));
    await c.node(leader).replicate({ shared: true });
    const s = samples(await registry.metrics());
    for (const id of c.ids) {
      assert.equal(s.get(`raftq_term{node="${id}"}`), c.node(id).getTerm(), `node ${id}'s term`);
      assert.equal(s.get(`raftq_is_leader{node="${id}"}`), id === leader ? 1 : 0);
    }
    // one # TYPE line per metric, however many nodes
    assert.equal((await registry.metrics()).match(/^# TYPE raftq_term gauge$/gm).length, 1);
    assert.throws(() => registerMetrics(c.node(c.ids[0]), registry, { labels: { node: String(c.ids[0]) } }), /registered/);
    const other = createMemoryCluster({ size: 1 });
    try {
      assert.throws(() => registerMetrics(other.node(other.ids[0]), registry, { labels: { node: String(c.ids[1]) } }), /same labels/);
    } finally {
      await other.destroy();
    }
    un[0]();
    const s2 = samples(await registry.metrics());
    assert.equal(s2.has(`raftq_term{node="${c.ids[0]}"}`), false);
    assert.equal(s2.get(`raftq_term{node="${c.ids[1]}"}`), c.node(c.ids[1]).getTerm());
    un[1]();
    un[2]();
    assert.doesNotMatch(await registry.metrics(), /raftq_/);
    // and it can be registered again afterwards
    const again = registerMetrics(c.node(leader), registry, { labels: { node: 'x' } });
    assert.match(await registry.metrics(), /raftq_term\{node="x"\}/);
    again();
  } finally {
    await c.destroy();
  }
});

test('registerMetrics(): commit and data versions as gauges, label values in snake_case', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    const registry = new Registry();
    const unregister = registerMetrics(c.node(leader), registry);
    for (let i = 0; i < 3; i++) await c.node(leader).replicate({ i });
    const st = c.node(leader).getStatus();
    const s = samples(await registry.metrics());
    assert.equal(s.get('raftq_commit_term'), st.commit.term);
    assert.equal(s.get('raftq_commit_index'), st.commit.index);
    assert.equal(s.get('raftq_data_term'), st.version.term);
    assert.equal(s.get('raftq_data_index'), st.version.index);
    assert.ok(st.commit.index >= 3, JSON.stringify(st.commit));
    assert.equal(s.get('raftq_proposals_total{result="timed_out"}'), 0);
    assert.equal(s.has('raftq_proposals_total{result="timedOut"}'), false);
    for (const k of s.keys()) {
      const m = k.match(/(?:result|reason)="([^"]*)"/);
      if (m) assert.match(m[1], /^[a-z0-9_]+$/, k);
    }
    unregister();
  } finally {
    await c.destroy();
  }
});

test('persist latency has sub-millisecond resolution (an in-memory agent takes microseconds)', T, async () => {
  const c = createMemoryCluster({ size: 3 });
  try {
    await c.start();
    const leader = await c.waitForLeader();
    for (let i = 0; i < 10; i++) await c.node(leader).replicate({ i });
    const h = c.node(leader).getMetrics().persist.latencyMs;
    assert.ok(h.count >= 10, JSON.stringify(h));
    assert.ok(h.sum > 0, `the sum of ${h.count} persist calls is ${h.sum} ms: below 1 ms each, it must not round to 0`);
    const sub = h.buckets.filter((b) => b.le < 1);
    assert.ok(sub.length >= 3, `buckets below 1 ms: ${JSON.stringify(h.buckets)}`);
    assert.ok(sub.at(-1).count > 0, `calls under 1 ms are counted under 1 ms: ${JSON.stringify(h.buckets)}`);
    const last = c.node(leader).getStatus().persist.lastMs;
    assert.ok(typeof last === 'number' && last > 0, `lastMs ${last}`);
    const registry = new Registry();
    const un = registerMetrics(c.node(leader), registry);
    const s = samples(await registry.metrics());
    assert.ok(s.has('raftq_persist_latency_seconds_bucket{le="0.0001"}'), [...s.keys()].filter((k) => k.includes('persist_latency')).join(' '));
    assert.ok(s.get('raftq_persist_latency_seconds_sum') > 0);
    un();
  } finally {
    await c.destroy();
  }
});

test('metrics.d.ts: the registry parameter is prom-client\'s Registry (a type import only), checked by tsc', { timeout: 120000 }, async (t) => {
  const fs = require('node:fs');
  const path = require('node:path');
  const { spawnSync } = require('node:child_process');
  const { tempDir, ROOT } = require('./_helpers');
  const dir = tempDir('raftq-metrics-types-');
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'raftq-native'), 'junction');
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'prom-client'), path.join(dir, 'node_modules', 'prom-client'), 'junction');
  fs.writeFileSync(path.join(dir, 'ok.ts'), [
    "import { Registry } from 'prom-client';",
    "import { Raftq } from 'raftq-native';",
    "import { registerMetrics } from 'raftq-native/metrics';",
    'declare const raft: Raftq;',
    "const un: () => void = registerMetrics(raft, new Registry(), { labels: { node: 'a' } });",
    'registerMetrics(raft);',
    'un();',
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'bad.ts'), [
    "import { Raftq } from 'raftq-native';",
    "import { registerMetrics } from 'raftq-native/metrics';",
    'declare const raft: Raftq;',
    "registerMetrics(raft, { nope: true });",
    '',
  ].join('\n'));
  const tsc = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
  const args = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types')];
  const ok = spawnSync(tsc, [...args, path.join(dir, 'ok.ts')], { encoding: 'utf8', cwd: dir, shell: process.platform === 'win32' });
  assert.equal(ok.status, 0, `tsc on a correct use:\n${ok.stdout}${ok.stderr}`);
  const bad = spawnSync(tsc, [...args, path.join(dir, 'bad.ts')], { encoding: 'utf8', cwd: dir, shell: process.platform === 'win32' });
  assert.notEqual(bad.status, 0, 'tsc accepts a registry that is not a Registry');
  assert.match(`${bad.stdout}${bad.stderr}`, /Registry/, `${bad.stdout}${bad.stderr}`);
  t.diagnostic(`tsc rejects a non-Registry: ${(bad.stdout || '').split('\n')[0]}`);
});
