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
