'use strict';
// One node of the raftq README's Express demo, for `npm run bench`: the same script runs
// raftq-native and raftq 1.0.0, only the library it loads differs (RAFTQ_BENCH_LIB, a path
// given to require()). The README's shape is kept: express + express.json(), the
// `/raft/action/:action` pipe, axios posts with `message.timeout`, the persist agent writing
// `<id>.json` and swallowing its errors, the ack-then-start join, and the crash handler
// (leave the cluster with `time: 0`, `serviceCrashed`, `destroy`, exit). Only two things
// differ from the README: 127.0.0.1 instead of localhost/all interfaces, and the port and
// peers come from the environment (RAFTQ_PORT, RAFTQ_PORTS) instead of "first free from 5050".
//
// Measurement, identical for both libraries and kept off the raft sockets (the parent talks to
// this process over the IPC channel of child_process.fork):
//   - events: every role change and every `node become ...` log line, stamped with
//     process.hrtime (CLOCK_MONOTONIC, the same clock in every process of the machine);
//     `data` when getData().seq changes after an inbound message was dispatched;
//   - commands: `state` (role, leader, data seq), `stats` (CPU, bytes read/written by the HTTP
//     server's sockets, per-action request counts and body bytes), `write` (replicateData on
//     this node, stamped just before the dispatch).

const http = require('node:http');
const path = require('node:path');
const { mkdir, readFile, writeFile } = require('node:fs/promises');
const axios = require('axios');
const express = require('express');

const { Raftq } = require(process.env.RAFTQ_BENCH_LIB);

const HOST = '127.0.0.1';
const port = Number(process.env.RAFTQ_PORT);
const cluster = process.env.RAFTQ_PORTS.split(',');
const dir = process.env.RAFTQ_DIR;
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, monotonic, shared clock
const send = (m) => {
  if (process.connected) process.send(m);
};

function bootstrap() {
  const app = express();
  app.use(express.json());

  const raft = new Raftq({
    heartbeat: 100,
    minimumElectionTime: 200,
    maximumElectionTime: 800,
    persistAgent: {
      async persist(node, data) {
        // Persist raft data
        try {
          await mkdir(dir, { recursive: true });
          const p = path.resolve(dir, `${node.id}.json`);
          await writeFile(p, JSON.stringify(data));
        } catch (err) {
          console.error(err);
          console.log(`[${new Date().toISOString()}] failed to persist data :)`);
        }
      },
      async restore(node) {
        // Read raft data from storage
        try {
          const p = path.resolve(dir, `${node.id}.json`);
          const file = await readFile(p);
          return JSON.parse(file.toString('utf8'));
        } catch {
          return undefined;
        }
      },
    },
  });

  // --- measurement (bench only) ---
  const actions = {}; // action -> { n, bytes } of request bodies received
  let lastSeq;
  const seqOf = () => {
    try {
      const d = raft.getData();
      return d && typeof d === 'object' ? d.seq : undefined;
    } catch {
      return undefined; // raftq 1.0.0 before serviceStarted
    }
  };
  const checkData = () => {
    const seq = seqOf();
    if (seq !== lastSeq) {
      lastSeq = seq;
      send({ ev: 'data', seq, at: now() });
    }
  };
  // --- end measurement ---

  app.post('/raft/action/:action', function (req, res) {
    const action = req.params.action;
    const a = actions[action] || (actions[action] = { n: 0, bytes: 0 });
    a.n++;
    a.bytes += Number(req.headers['content-length'] || 0);
    raft.dispatch(action, req.body).then(checkData);
    res.end('');
  });

  const mapping = {
    voteRequest: 'voteRequestReceived',
    voteResponse: 'voteResponseReceived',
    syncData: 'dataReceived',
    dataResponse: 'dataResponseReceived',
  };
  for (const action in mapping) {
    const eventName = action;
    raft.subscribe(eventName, async (message) => {
      const url = `http://${HOST}:${message.destination.id}/raft/action/${mapping[eventName]}`;
      axios.post(url, message, { timeout: message.timeout }).catch(() => {});
    });
  }
  raft.subscribe('log', ({ message }) => {
    console.log(`[${new Date().toISOString()}] ${message}`);
    if (/^node become /.test(message)) send({ ev: 'log', message, at: now() });
  });
  raft.subscribe('roleChanged', (role) => send({ ev: 'role', role, at: now() }));

  async function startServer(port) {
    const clusterWithoutMe = cluster.filter((a) => a !== String(port)).map((port) => ({ id: String(port), time: Date.now() }));
    const justMe = { id: String(port), time: Date.now() };
    await Promise.all(
      clusterWithoutMe.map((node) =>
        axios
          .post(`http://${HOST}:${node.id}/raft/action/ackNode`, justMe, { timeout: 100 })
          .then((result) => {
            if (!result) return;
            raft.dispatch('ackNode', node);
          })
          .catch(() => {}),
      ),
    );
    await raft.dispatch('serviceStarted', { node: justMe });
    checkData();
    send({ ev: 'started', at: now(), followers: raft.getFollowers().length });
  }

  // --- measurement (bench only): bytes through the server's sockets, commands over IPC ---
  const server = http.createServer(app);
  const sockets = new Set();
  let closedIn = 0;
  let closedOut = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => {
      sockets.delete(s);
      closedIn += s.bytesRead;
      closedOut += s.bytesWritten;
    });
  });
  process.on('message', (m) => {
    if (!m || typeof m !== 'object') return;
    if (m.cmd === 'state') {
      let role = null;
      let leader = null;
      try {
        role = raft.getRole();
        leader = raft.getLeader();
      } catch {
        /* not started */
      }
      send({ id: m.id, role, leader: leader === null ? null : String(leader), seq: seqOf() });
    } else if (m.cmd === 'stats') {
      let bytesIn = closedIn;
      let bytesOut = closedOut;
      for (const s of sockets) {
        bytesIn += s.bytesRead;
        bytesOut += s.bytesWritten;
      }
      send({ id: m.id, at: now(), cpu: process.cpuUsage(), bytesIn, bytesOut, actions });
    } else if (m.cmd === 'write') {
      const value = m.blob ? { seq: m.seq, blob: 'x'.repeat(m.blob) } : { seq: m.seq };
      const at = now();
      raft.dispatch('replicateData', value);
      send({ id: m.id, at });
    }
  });
  // --- end measurement ---

  server
    .listen(port, HOST, () => {
      console.log(`[${new Date().toISOString()}] running express on ${port}`);
      startServer(port);
    })
    .on('error', (err) => {
      send({ ev: 'error', message: String(err) });
      process.exit(2);
    });

  // crash handling
  process.on('exit', handleCrash);
  process.on('SIGINT', handleCrash);
  process.on('beforeExit', handleCrash);
  process.on('disconnect', handleCrash);
  process.on('uncaughtException', handleCrash);
  process.on('unhandledRejection', handleCrash);
  let isHandlingCrashAlready = false;
  async function handleCrash(e) {
    // just for safety!
    if (isHandlingCrashAlready) return;
    isHandlingCrashAlready = true;
    //
    raft.getNode().time = 0;
    await Promise.all(
      raft.getFollowers().map((node) =>
        axios.post(`http://${HOST}:${node.id}/raft/action/ackNode`, raft.getNode(), { timeout: 200 }).catch(() => {}),
      ),
    );
    await raft.dispatch('serviceCrashed', { reason: String(e) });
    await raft.destroy();
    process.exit(1);
  }
}

bootstrap();
