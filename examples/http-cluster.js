'use strict';
// The raftq README's Express demo, as CommonJS against raftq-native. Run it up to four times
// (`npm run demo` in four terminals): each run joins the cluster on the next free port.
//
// Configuration (environment):
//   RAFTQ_PORTS          cluster ports, comma-separated (default 5050,5051,5052,5053)
//   RAFTQ_PORT           the port to listen on (default: the first free one of RAFTQ_PORTS)
//   RAFTQ_HOST           address to listen on and to reach peers at (default 127.0.0.1)
//   RAFTQ_DIR            where each node persists <port>.json (default /tmp/raftq)
//   RAFTQ_HEARTBEAT, RAFTQ_MIN_ELECTION, RAFTQ_MAX_ELECTION   (default 100, 200, 800 ms)
//
// Endpoints:
//   POST /raft/action/:action   raft traffic between nodes (the README's pipe)
//   GET  /raft/status           this node's view: getStatus(), role, leader, data, followers
//   POST /data                  replicate the JSON body (on the leader; 409 + leader elsewhere)

const http = require('node:http');
const axios = require('axios');
const express = require('express');
const { Raftq, RaftRole, NotLeaderError } = require('..');
const { filePersistAgent } = require('./persist-file');

const env = process.env;
const cluster = (env.RAFTQ_PORTS || '5050,5051,5052,5053').split(',').map((p) => p.trim()).filter(Boolean);
const host = env.RAFTQ_HOST || '127.0.0.1';
const dir = env.RAFTQ_DIR || '/tmp/raftq';
const num = (v, d) => (v === undefined || v === '' ? d : Number(v));

const log = (text) => console.log(`[${new Date().toISOString()}] ${text}`);

function bootstrap() {
  const app = express();
  app.use(express.json({ limit: '10mb' }));
  const files = filePersistAgent(dir);
  const client = axios.create({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 8 }) });

  const raft = new Raftq({
    heartbeat: num(env.RAFTQ_HEARTBEAT, 100),
    minimumElectionTime: num(env.RAFTQ_MIN_ELECTION, 200),
    maximumElectionTime: num(env.RAFTQ_MAX_ELECTION, 800),
    persistAgent: {
      // examples/persist-file.js: write atomically (temp file, fsync, rename, fsync the folder);
      // restore gives undefined only when there is no file, and throws on anything else (a
      // corrupt file must not restart the node with its term and vote forgotten)
      async persist(node, data) {
        try {
          await files.persist(node, data);
        } catch (err) {
          log(`failed to persist data: ${err}`);
          // unlike the README's agent, report it: raftq-native then holds back what depends on
          // this write (vote grants, acks) and retries, instead of acknowledging unsaved state
          throw err;
        }
      },
      restore: (node) => files.restore(node),
    },
  });

  // the pipe: peers post raft messages here
  app.post('/raft/action/:action', (req, res) => {
    raft.dispatch(req.params.action, req.body);
    res.end('');
  });

  app.get('/raft/status', (req, res) => {
    res.json({
      pid: process.pid,
      status: raft.getStatus(),
      role: raft.getRole(),
      roleName: RaftRole[raft.getRole()],
      leader: raft.getLeader(),
      data: raft.getData(),
      followers: raft.getFollowers(),
    });
  });

  app.post('/data', async (req, res) => {
    try {
      await raft.replicate(req.body); // resolves { term, index } once committed
      res.json({ ok: true, leader: raft.getLeader() });
    } catch (e) {
      // NotLeaderError names the leader to retry at; a TimeoutError's write may still commit
      res.status(e instanceof NotLeaderError ? 409 : 503).json({ ok: false, leader: raft.getLeader() });
    }
  });

  const mapping = {
    voteRequest: 'voteRequestReceived',
    voteResponse: 'voteResponseReceived',
    syncData: 'dataReceived',
    dataResponse: 'dataResponseReceived',
  };
  for (const [event, incoming] of Object.entries(mapping)) {
    raft.subscribe(event, async (message) => {
      const url = `http://${host}:${message.destination.id}/raft/action/${incoming}`;
      client.post(url, message, { timeout: message.timeout }).catch(() => {});
    });
  }

  raft.subscribe('log', ({ message }) => log(message));

  // node endpoints must be known before starting: ack every reachable peer, then start (a peer
  // whose ack times out never adds this node: 2 s, not the README's 200 ms, so that a busy
  // machine does not leave a node out for good)
  const ACK_TIMEOUT = 2000;
  async function startServer(port) {
    const justMe = { id: String(port), time: Date.now() };
    const others = cluster.filter((p) => p !== String(port)).map((p) => ({ id: p, time: Date.now() }));
    await Promise.all(
      others.map((node) =>
        client
          .post(`http://${host}:${node.id}/raft/action/ackNode`, justMe, { timeout: ACK_TIMEOUT })
          .then(() => raft.dispatch('ackNode', node))
          .catch(() => {}),
      ),
    );
    await raft.dispatch('serviceStarted', { node: justMe });
  }

  // listen on RAFTQ_PORT, or on the first free cluster port
  const candidates = env.RAFTQ_PORT ? [env.RAFTQ_PORT] : cluster;
  function listen(i) {
    if (i >= candidates.length) {
      log(`no free port among ${candidates.join(', ')}`);
      process.exit(1);
    }
    const port = Number(candidates[i]);
    const server = http.createServer(app);
    server.once('error', () => listen(i + 1));
    server.listen(port, host, () => {
      log(`running express on ${port}`);
      startServer(port).catch((err) => handleCrash(err));
    });
  }
  listen(0);

  // crash handling, as in the README: leave the cluster, persist, exit
  for (const ev of ['exit', 'SIGINT', 'SIGTERM', 'beforeExit', 'disconnect', 'uncaughtException', 'unhandledRejection']) {
    process.on(ev, handleCrash);
  }
  let isHandlingCrashAlready = false;
  async function handleCrash(e) {
    if (isHandlingCrashAlready) return;
    isHandlingCrashAlready = true;
    let me = null;
    try {
      me = raft.getNode();
    } catch {
      /* not started yet */
    }
    if (me) {
      raft.getNode().time = 0;
      await Promise.all(
        raft.getFollowers().map((node) =>
          client
            .post(`http://${host}:${node.id}/raft/action/ackNode`, raft.getNode(), { timeout: ACK_TIMEOUT })
            .catch(() => {}),
        ),
      );
    }
    await raft.dispatch('serviceCrashed', { reason: String(e) });
    await raft.destroy();
    process.exit(1);
  }
}

bootstrap();
