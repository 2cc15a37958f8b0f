'use strict';
// Run a periodic job on the leader only, and never twice for one period across the cluster
// even when an old leader wakes up late (a GC pause, SIGSTOP, a VM migration).
//
// Each tick, a node that believes it leads:
//   1. reads the term (`getTerm()`: only grows, a fencing token),
//   2. asks a majority whether it still leads in that term (`confirmLeadership()`, one
//      heartbeat round; false when cut off, deposed or paused past its lease),
//   3. runs the job with the term, and the job's side effect carries it: whatever receives it
//      (a database row, a queue, here a file) refuses a term lower than one it has seen.
// Step 2 keeps a stale leader from starting a job; step 3 stops one that was paused between 2
// and the side effect from landing over a newer leader's work.
//
//   RAFTQ_PORTS, RAFTQ_PORT, RAFTQ_HOST, RAFTQ_DIR, RAFTQ_HEARTBEAT, RAFTQ_MIN_ELECTION,
//   RAFTQ_MAX_ELECTION   as in helper-cluster.js
//   RAFTQ_JOB_LOG   the job's "downstream system": a file of JSON lines (default /tmp/raftq/jobs)
//   RAFTQ_CRON_MS   how often the job runs (default 1000 ms)

const fs = require('node:fs');
const path = require('node:path');
const express = require('express');
const { Raftq, RaftRole } = require('raftq-native');
const { raftRouter } = require('raftq-native/express');
const { filePersistAgent } = require('./persist-file');

const env = process.env;
const cluster = (env.RAFTQ_PORTS || '5050,5051,5052').split(',');
const host = env.RAFTQ_HOST || '127.0.0.1';
const jobLog = env.RAFTQ_JOB_LOG || '/tmp/raftq/jobs';
const every = Number(env.RAFTQ_CRON_MS || 1000);
const log = (text) => console.log(`[${new Date().toISOString()}] ${text}`);

const raft = new Raftq({
  heartbeat: Number(env.RAFTQ_HEARTBEAT || 100),
  minimumElectionTime: Number(env.RAFTQ_MIN_ELECTION || 200),
  maximumElectionTime: Number(env.RAFTQ_MAX_ELECTION || 800),
  persistAgent: filePersistAgent(env.RAFTQ_DIR || '/tmp/raftq'),
});
raft.subscribe('log', ({ message }) => log(message));

/** The downstream system, fenced by term: it refuses a job from a term older than the newest
 * it has seen. (A file here; in production the check lives where the side effect lands, e.g.
 * `UPDATE ... WHERE fence_term <= $term`.) */
function fencedAppend(term, record) {
  fs.mkdirSync(path.dirname(jobLog), { recursive: true });
  let newest = 0;
  try {
    for (const line of fs.readFileSync(jobLog, 'utf8').split('\n')) {
      if (line) newest = Math.max(newest, JSON.parse(line).term);
    }
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  if (term < newest) return false;
  fs.appendFileSync(jobLog, `${JSON.stringify({ ...record, term })}\n`);
  return true;
}

let me = null;
let runs = 0;
async function tick() {
  if (raft.getRole() !== RaftRole.LEADER) return;
  const term = raft.getTerm();
  if (!(await raft.confirmLeadership())) {
    log(`cron: not running the job, leadership in term ${term} not confirmed`);
    return;
  }
  if (raft.getTerm() !== term) return; // a new term began while we asked
  runs++;
  const landed = fencedAppend(term, { node: me, run: runs, at: Date.now() });
  log(`cron: job #${runs} in term ${term} ${landed ? 'done' : 'refused by the fence (a newer term ran it)'}`);
}

const app = express();
app.use('/raft', raftRouter(raft, { host }));
const ports = env.RAFTQ_PORT ? [env.RAFTQ_PORT] : cluster;
(function listen(i) {
  if (i >= ports.length) return log(`no free port among ${ports.join(', ')}`), process.exit(1);
  const port = ports[i];
  app
    .listen(Number(port), host, async (err) => {
      if (err) return;
      me = port;
      log(`running express on ${port}`);
      for (const id of cluster) if (id !== port) await raft.dispatch('ackNode', { id, time: Date.now() });
      await raft.dispatch('serviceStarted', { node: { id: port, time: Date.now() } });
      setInterval(() => tick().catch((e) => log(`cron: job failed: ${e.message}`)), every);
    })
    .once('error', () => listen(i + 1));
})(0);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await raft.dispatch('serviceCrashed', { reason: signal });
    await raft.destroy();
    process.exit(0);
  });
}
