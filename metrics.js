'use strict';
// Optional prom-client adapter for raftq-native: registers nodes' getMetrics() (and the
// versions of getStatus()) with a prom-client Registry, read at each scrape. prom-client is an
// optional peer dependency, required only when no registry is passed.
//
//   const { registerMetrics } = require('raftq-native/metrics');
//   registerMetrics(raft, register, { labels: { node: 'a' } });
//   app.get('/metrics', async (_req, res) => {
//     res.set('Content-Type', register.contentType).end(await register.metrics());
//   });
//
// Several nodes can share one registry: each registerMetrics() adds the node, with its own
// `labels`, to the metrics already registered under that prefix; each sample carries its
// node's labels. The metrics leave the registry when the last node is unregistered.

const CHANNELS = ['voteRequest', 'voteResponse', 'syncData', 'dataResponse'];

/** A label value in snake_case: `timedOut` -> `timed_out`, `stale pre-vote` -> `stale_pre_vote`. */
const snake = (s) =>
  String(s)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');

/** [name, type, help, read({ m, s }) -> [[labels, value], ...] | histogram] */
const DEFS = [
  ['term', 'gauge', 'Current Raft term.', ({ m }) => [[{}, m.term]]],
  ['is_leader', 'gauge', '1 if this node is the leader.', ({ m }) => [[{}, m.isLeader ? 1 : 0]]],
  ['commit_term', 'gauge', 'Term of the newest version known committed.', ({ s }) => [[{}, s.commit.term]]],
  ['commit_index', 'gauge', 'Index of the newest version known committed.', ({ s }) => [[{}, s.commit.index]]],
  ['data_term', 'gauge', 'Term of the newest version this node holds.', ({ s }) => [[{}, s.version.term]]],
  ['data_index', 'gauge', 'Index of the newest version this node holds.', ({ s }) => [[{}, s.version.index]]],
  ['pre_votes_started_total', 'counter', 'Pre-vote phases started.', ({ m }) => [[{}, m.preVotesStarted]]],
  ['elections_started_total', 'counter', 'Elections started.', ({ m }) => [[{}, m.electionsStarted]]],
  ['elections_won_total', 'counter', 'Elections won.', ({ m }) => [[{}, m.electionsWon]]],
  ['leader_changes_total', 'counter', 'Times a new leader was learnt.', ({ m }) => [[{}, m.leaderChanges]]],
  ['messages_in_total', 'counter', 'Messages stepped, by channel.', ({ m }) => CHANNELS.map((c) => [{ channel: c }, m.messagesIn[c] || 0])],
  ['messages_out_total', 'counter', 'Messages sent, by channel.', ({ m }) => CHANNELS.map((c) => [{ channel: c }, m.messagesOut[c] || 0])],
  ['messages_rejected_total', 'counter', 'Incoming messages rejected or ignored, by reason.', ({ m }) => Object.entries(m.rejected).map(([reason, v]) => [{ reason: snake(reason) }, v])],
  ['proposals_total', 'counter', 'replicate() outcomes, by result.', ({ m }) => Object.entries(m.proposals).map(([result, v]) => [{ result: snake(result) }, v])],
  ['confirmations_total', 'counter', 'confirmLeadership() outcomes, by result.', ({ m }) => [[{ result: 'confirmed' }, m.confirmations.confirmed], [{ result: 'failed' }, m.confirmations.failed]]],
  ['pauses_detected_total', 'counter', 'Pauses longer than an election timeout detected by the leader.', ({ m }) => [[{}, m.pausesDetected]]],
  ['persist_calls_total', 'counter', 'persistAgent.persist calls settled.', ({ m }) => [[{}, m.persist.calls]]],
  ['persist_failures_total', 'counter', 'persistAgent.persist calls that failed.', ({ m }) => [[{}, m.persist.failures]]],
  ['persist_in_flight', 'gauge', 'persist calls in flight (0 or 1).', ({ m }) => [[{}, m.persist.inFlight]]],
  ['persist_latency_seconds', 'histogram', 'persistAgent.persist latency.', ({ m }) => m.persist.latencyMs],
  ['commit_latency_seconds', 'histogram', 'replicate() latency to commit.', ({ m }) => m.commitLatencyMs],
  ['follower_lag', 'gauge', 'Leader only: versions a follower is behind the commit point.', ({ m }) => m.followers.map((f) => [{ follower: String(f.id) }, f.lag])],
  ['follower_last_contact_seconds', 'gauge', 'Leader only: time since a follower last answered.', ({ m }) => m.followers.filter((f) => f.lastContactMs !== null).map((f) => [{ follower: String(f.id) }, f.lastContactMs / 1000])],
];

/** registry -> prefix -> { nodes: Set<{ raft, labels, key }>, names } */
const groups = new WeakMap();

const labelKey = (labels) =>
  JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, String(labels[k])]),
  );

function samplesOf(group, base, type, get) {
  const name = group.prefix + base;
  const values = [];
  for (const n of group.nodes) {
    const read = n.read();
    if (type === 'histogram') {
      const h = get(read);
      for (const b of h.buckets) {
        values.push({ metricName: `${name}_bucket`, labels: { ...n.labels, le: b.le === Infinity || b.le === null ? '+Inf' : b.le / 1000 }, value: b.count });
      }
      values.push({ metricName: `${name}_sum`, labels: { ...n.labels }, value: h.sum / 1000 });
      values.push({ metricName: `${name}_count`, labels: { ...n.labels }, value: h.count });
    } else {
      for (const [l, v] of get(read)) values.push({ labels: { ...n.labels, ...l }, value: v });
    }
  }
  return values;
}

/**
 * Register `raft`'s metrics with a prom-client `registry` (default: prom-client's global one).
 * Names get `prefix` (default `raftq_`); `labels` are added to every sample of this node (two
 * nodes sharing a registry and prefix need different labels). Returns a function that removes
 * this node again (and the metrics, with the last node).
 */
function registerMetrics(raft, registry, { prefix = 'raftq_', labels = {} } = {}) {
  if (!raft || typeof raft.getMetrics !== 'function' || typeof raft.getStatus !== 'function') throw new TypeError('registerMetrics: raft must be a Raftq node');
  if (registry === undefined) registry = require('prom-client').register;
  if (!registry || typeof registry.registerMetric !== 'function' || typeof registry.removeSingleMetric !== 'function') {
    throw new TypeError('registerMetrics: registry must be a prom-client Registry');
  }
  if (typeof prefix !== 'string') throw new TypeError('registerMetrics: prefix must be a string');
  if (!labels || typeof labels !== 'object' || Array.isArray(labels)) throw new TypeError('registerMetrics: labels must be an object');
  for (const [k, v] of Object.entries(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.startsWith('__')) throw new TypeError(`registerMetrics: label name ${JSON.stringify(k)} is not a Prometheus label name`);
    if (typeof v !== 'string' && typeof v !== 'number') throw new TypeError(`registerMetrics: label ${k} must be a string or a number`);
    if (['le', 'channel', 'reason', 'result', 'follower'].includes(k)) throw new TypeError(`registerMetrics: label name ${k} is used by the metrics themselves`);
  }

  let byPrefix = groups.get(registry);
  if (!byPrefix) groups.set(registry, (byPrefix = new Map()));
  let group = byPrefix.get(prefix);
  // the registry was cleared (registry.clear()) since: start over
  if (group && typeof registry.getSingleMetric === 'function' && !registry.getSingleMetric(group.names[0])) {
    byPrefix.delete(prefix);
    group = undefined;
  }
  const key = labelKey(labels);
  if (group) {
    for (const n of group.nodes) {
      if (n.raft === raft) throw new TypeError('registerMetrics: this node is registered with this registry and prefix already');
      if (n.key === key) throw new TypeError(`registerMetrics: another node is registered with the same labels ${key}: give each node its own labels (e.g. { node: id })`);
    }
  } else {
    group = { prefix, nodes: new Set(), names: [] };
    for (const [base, type, help, get] of DEFS) {
      // prom-client appends nothing to counters in text format: the _total is part of the name
      const name = prefix + base;
      registry.registerMetric({
        name,
        help,
        type,
        aggregator: 'sum',
        reset() {},
        async get() {
          return { name, help, type, aggregator: 'sum', values: samplesOf(group, base, type, get) };
        },
      });
      group.names.push(name);
    }
    byPrefix.set(prefix, group);
  }

  // one getMetrics()/getStatus() per node per scrape: prom-client calls every metric's get()
  // in one synchronous loop, so the cache lives until the next microtask
  let cache = null;
  const read = () => {
    if (!cache) {
      cache = { m: raft.getMetrics(), s: raft.getStatus() };
      queueMicrotask(() => (cache = null));
    }
    return cache;
  };
  const entry = { raft, labels: { ...labels }, key, read };
  group.nodes.add(entry);

  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    group.nodes.delete(entry);
    if (group.nodes.size === 0 && byPrefix.get(prefix) === group) {
      for (const n of group.names) registry.removeSingleMetric(n);
      byPrefix.delete(prefix);
    }
  };
}

module.exports = { registerMetrics };
