'use strict';
// Optional prom-client adapter for raftq-native (issue 8): registers a node's getMetrics()
// with a prom-client Registry, read at each scrape. prom-client is an optional peer
// dependency, required only when no registry is passed.
//
//   const { registerMetrics } = require('raftq-native/metrics');
//   registerMetrics(raft, register, { labels: { node: 'a' } });
//   app.get('/metrics', async (_req, res) => {
//     res.set('Content-Type', register.contentType).end(await register.metrics());
//   });

const CHANNELS = ['voteRequest', 'voteResponse', 'syncData', 'dataResponse'];

/** [name, type, help, read(m) -> [[labels, value], ...] | histogram] */
const DEFS = [
  ['term', 'gauge', 'Current Raft term.', (m) => [[{}, m.term]]],
  ['is_leader', 'gauge', '1 if this node is the leader.', (m) => [[{}, m.isLeader ? 1 : 0]]],
  ['pre_votes_started_total', 'counter', 'Pre-vote phases started.', (m) => [[{}, m.preVotesStarted]]],
  ['elections_started_total', 'counter', 'Elections started.', (m) => [[{}, m.electionsStarted]]],
  ['elections_won_total', 'counter', 'Elections won.', (m) => [[{}, m.electionsWon]]],
  ['leader_changes_total', 'counter', 'Times a new leader was learnt.', (m) => [[{}, m.leaderChanges]]],
  ['messages_in_total', 'counter', 'Messages stepped, by channel.', (m) => CHANNELS.map((c) => [{ channel: c }, m.messagesIn[c] || 0])],
  ['messages_out_total', 'counter', 'Messages sent, by channel.', (m) => CHANNELS.map((c) => [{ channel: c }, m.messagesOut[c] || 0])],
  ['messages_rejected_total', 'counter', 'Incoming messages rejected or ignored, by reason.', (m) => Object.entries(m.rejected).map(([reason, v]) => [{ reason }, v])],
  ['proposals_total', 'counter', 'replicate() outcomes, by result.', (m) => Object.entries(m.proposals).map(([result, v]) => [{ result }, v])],
  ['confirmations_total', 'counter', 'confirmLeadership() outcomes, by result.', (m) => [[{ result: 'confirmed' }, m.confirmations.confirmed], [{ result: 'failed' }, m.confirmations.failed]]],
  ['pauses_detected_total', 'counter', 'Pauses longer than an election timeout detected by the leader.', (m) => [[{}, m.pausesDetected]]],
  ['persist_calls_total', 'counter', 'persistAgent.persist calls settled.', (m) => [[{}, m.persist.calls]]],
  ['persist_failures_total', 'counter', 'persistAgent.persist calls that failed.', (m) => [[{}, m.persist.failures]]],
  ['persist_in_flight', 'gauge', 'persist calls in flight (0 or 1).', (m) => [[{}, m.persist.inFlight]]],
  ['persist_latency_seconds', 'histogram', 'persistAgent.persist latency.', (m) => m.persist.latencyMs],
  ['commit_latency_seconds', 'histogram', 'replicate() latency to commit.', (m) => m.commitLatencyMs],
  ['follower_lag', 'gauge', 'Leader only: versions a follower is behind the commit point.', (m) => m.followers.map((f) => [{ follower: String(f.id) }, f.lag])],
  ['follower_last_contact_seconds', 'gauge', 'Leader only: time since a follower last answered.', (m) => m.followers.filter((f) => f.lastContactMs !== null).map((f) => [{ follower: String(f.id) }, f.lastContactMs / 1000])],
];

/**
 * Register `raft`'s metrics with a prom-client `registry` (default: prom-client's global one).
 * Names get `prefix` (default `raftq_`); `labels` are added to every sample. Returns a function
 * that removes them again.
 */
function registerMetrics(raft, registry, { prefix = 'raftq_', labels = {} } = {}) {
  if (!raft || typeof raft.getMetrics !== 'function') throw new TypeError('registerMetrics: raft must be a Raftq node');
  if (registry === undefined) registry = require('prom-client').register;
  if (!registry || typeof registry.registerMetric !== 'function') throw new TypeError('registerMetrics: registry must be a prom-client Registry');
  if (typeof prefix !== 'string') throw new TypeError('registerMetrics: prefix must be a string');
  const read = () => raft.getMetrics();
  const names = [];
  for (const [base, type, help, get] of DEFS) {
    // prom-client appends nothing to counters in text format: the _total is part of the name
    const name = prefix + base;
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      reset() {},
      async get() {
        const m = read();
        const values = [];
        if (type === 'histogram') {
          const h = get(m);
          for (const b of h.buckets) {
            values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: b.le === Infinity || b.le === null ? '+Inf' : b.le / 1000 }, value: b.count });
          }
          values.push({ metricName: `${name}_sum`, labels: { ...labels }, value: h.sum / 1000 });
          values.push({ metricName: `${name}_count`, labels: { ...labels }, value: h.count });
        } else {
          for (const [l, v] of get(m)) values.push({ labels: { ...labels, ...l }, value: v });
        }
        return { name, help, type, aggregator: 'sum', values };
      },
    };
    registry.registerMetric(metric);
    names.push(name);
  }
  return () => {
    for (const n of names) registry.removeSingleMetric(n);
  };
}

module.exports = { registerMetrics };
