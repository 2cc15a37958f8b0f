'use strict';
// The raftq README's Express cluster again, with the transport done by raftq-native/express.
// Run it up to four times: each run takes the next free port of the cluster.
//
//   RAFTQ_PORTS   cluster ports (default 5050,5051,5052,5053); the ids are the ports, as strings
//   RAFTQ_PORT    the port to listen on (default: the first free one of RAFTQ_PORTS)
//   RAFTQ_HOST    address to listen on and to reach peers at (default 127.0.0.1)
//   RAFTQ_DIR     where each node persists <port>.json (default /tmp/raftq)
//   RAFTQ_SECRET  shared secret: messages are signed and checked (same value on every node)
//   RAFTQ_HEARTBEAT, RAFTQ_MIN_ELECTION, RAFTQ_MAX_ELECTION   (default 100, 200, 800 ms)
//
//   POST /raft/action/<channel>  raft traffic        GET /raft/status  this node's status
//   POST /data                   replicate the JSON body on the leader (409 + leader elsewhere)
//   GET  /data                   the data as this node has it

const express = require('express');
const { Raftq, NotLeaderError } = require('raftq-native');
const { raftRouter } = require('raftq-native/express');
const { filePersistAgent } = require('./persist-file');

const env = process.env;
const cluster = (env.RAFTQ_PORTS || '5050,5051,5052,5053').split(',');
const host = env.RAFTQ_HOST || '127.0.0.1';
const log = (text) => console.log(`[${new Date().toISOString()}] ${text}`);

const raft = new Raftq({
  heartbeat: Number(env.RAFTQ_HEARTBEAT || 100),
  minimumElectionTime: Number(env.RAFTQ_MIN_ELECTION || 200),
  maximumElectionTime: Number(env.RAFTQ_MAX_ELECTION || 800),
  secret: env.RAFTQ_SECRET || undefined,
  persistAgent: filePersistAgent(env.RAFTQ_DIR || '/tmp/raftq'),
});
raft.subscribe('log', ({ message }) => {
  log(message);
  if (message.startsWith('raft not started')) process.exit(1); // e.g. a corrupt state file
});

const app = express();
app.use('/raft', raftRouter(raft, { host }));
app.get('/data', (req, res) => res.json(raft.getData()));
app.post('/data', express.json(), async (req, res) => {
  try {
    const version = await raft.replicate(req.body); // { term, index } once committed
    res.json({ ok: true, version, leader: raft.getLeader() });
  } catch (e) {
    // NotLeaderError names the leader to retry at; a TimeoutError's write may still commit
    res.status(e instanceof NotLeaderError ? 409 : 503).json({ ok: false, error: e.code || e.message, leader: raft.getLeader() });
  }
});

const ports = env.RAFTQ_PORT ? [env.RAFTQ_PORT] : cluster;
(function listen(i) {
  if (i >= ports.length) return log(`no free port among ${ports.join(', ')}`), process.exit(1);
  const port = ports[i];
  app
    .listen(Number(port), host, async (err) => {
      if (err) return; // express 5 reports the error here too; the 'error' handler moves on
      log(`running express on ${port}`);
      for (const id of cluster) if (id !== port) await raft.dispatch('ackNode', { id, time: Date.now() });
      await raft.dispatch('serviceStarted', { node: { id: port, time: Date.now() } });
    })
    .once('error', () => listen(i + 1));
})(0);

// Ctrl-C / SIGTERM: hand leadership over, persist, stop
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await raft.dispatch('serviceCrashed', { reason: signal });
    await raft.destroy();
    process.exit(0);
  });
}
