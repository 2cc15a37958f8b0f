'use strict';
// One node of the demo cluster (`npm run demo` starts four). It is the README's Express app
// (examples/http-cluster.js: the same routes, transport, persist agent and crash handling) with
// three additions the dashboard needs, none of which touch raftq-native itself:
//   - a network cut switch (POST /demo/cut {"cut":true|false}): while cut, the node sends no
//     raft message and drops every one it receives, so it is cut off from the others both ways;
//   - last contact: when each peer was last heard from (any raft message received from it);
//   - event lines on stdout (`@raftq {json}`): role, leader and data changes, persists, as they
//     happen, so the dashboard's timeline does not depend on sampling.
//
//   - message lines (`@raftq {"type":"msg",...}`) for every raft message sent, for the ring
//     picture: channel, destination, term, vote granted / append succeeded, data carried.
//
// Environment: RAFTQ_PORTS, RAFTQ_PORT, RAFTQ_DIR, RAFTQ_HEARTBEAT, RAFTQ_MIN_ELECTION,
// RAFTQ_MAX_ELECTION, as examples/http-cluster.js; RAFTQ_SECRET and RAFTQ_CLUSTER (the demo
// sets a random secret per run: its nodes drop every message another process sends them, and
// accept `ackNode` only with the secret's token), RAFTQ_BOOTSTRAP_EXPECT. Listens on 127.0.0.1
// only.

const http = require('node:http');
const crypto = require('node:crypto');
const path = require('node:path');
const { mkdir, readFile, writeFile, rename, open } = require('node:fs/promises');
const axios = require('axios');
const express = require('express');
const { Raftq, RaftRole, NotLeaderError } = require('../..');

const env = process.env;
const cluster = (env.RAFTQ_PORTS || '5050,5051,5052,5053').split(',').map((p) => p.trim()).filter(Boolean);
const port = String(env.RAFTQ_PORT || cluster[0]);
const host = '127.0.0.1';
const dir = env.RAFTQ_DIR || '/tmp/raftq';
const num = (v, d) => (v === undefined || v === '' ? d : Number(v));

const log = (text) => console.log(`[${new Date().toISOString()}] ${text}`);
const event = (type, fields) => console.log(`@raftq ${JSON.stringify({ type, at: Date.now(), ...fields })}`);

const app = express();
app.use(express.json({ limit: '10mb', strict: false })); // any JSON value can be written, not only objects
const client = axios.create({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 8 }) });

let cut = false;
const lastContact = {}; // peer id -> ms timestamp of the last raft message received from it

const secret = env.RAFTQ_SECRET || undefined;
// ackNode is membership: only a caller that knows the secret may change it
const ackToken = secret ? crypto.createHash('sha256').update(`ackNode:${secret}`).digest('hex') : null;
const ackHeaders = ackToken ? { 'x-raftq-demo': ackToken } : {};
const timing = {
  heartbeat: num(env.RAFTQ_HEARTBEAT, 100),
  minimumElectionTime: num(env.RAFTQ_MIN_ELECTION, 200),
  maximumElectionTime: num(env.RAFTQ_MAX_ELECTION, 800),
};

const raft = new Raftq({
  ...timing,
  secret,
  cluster: env.RAFTQ_CLUSTER || undefined,
  // a fresh cluster whose processes start at once: no election before this many members are known
  bootstrapExpect: env.RAFTQ_BOOTSTRAP_EXPECT ? Number(env.RAFTQ_BOOTSTRAP_EXPECT) : undefined,
  persistAgent: {
    // temp file, fsync, rename: a kill -9 mid-write never leaves a torn file behind, and errors
    // propagate (raftq-native then holds back what depends on this write and retries)
    async persist(node, data) {
      await mkdir(dir, { recursive: true });
      const p = path.resolve(dir, `${node.id}.json`);
      const fh = await open(`${p}.tmp`, 'w');
      try {
        await fh.writeFile(JSON.stringify(data));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(`${p}.tmp`, p);
      event('persisted', { term: data.term, votedFor: data.votedFor });
    },
    // undefined only when there is no file; anything else (unreadable, corrupt) is an error
    async restore(node) {
      let text;
      try {
        text = await readFile(path.resolve(dir, `${node.id}.json`), 'utf8');
      } catch (err) {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      }
      return JSON.parse(text);
    },
  },
});

// who sent an incoming raft body
const senderOf = (body) => body && (body.candidate || body.voter || body.node);

app.post('/raft/action/:action', (req, res) => {
  if (cut) {
    res.status(503).end(''); // the wire is cut: nothing gets through
    return;
  }
  if (req.params.action === 'ackNode' && ackToken && req.get('x-raftq-demo') !== ackToken) {
    res.status(403).end(''); // not one of this demo's nodes
    return;
  }
  const from = senderOf(req.body);
  // a body that does not come from this cluster (no valid tag) is not contact
  if (from && from.id !== undefined && (!secret || req.body.tag)) lastContact[String(from.id)] = Date.now();
  raft.dispatch(req.params.action, req.body);
  res.end('');
});

app.get('/raft/status', (req, res) => {
  res.json({
    pid: process.pid,
    port,
    cut,
    now: Date.now(),
    timing,
    status: raft.getStatus(),
    role: raft.getRole(),
    roleName: RaftRole[raft.getRole()],
    leader: raft.getLeader(),
    data: raft.getData(),
    followers: raft.getFollowers(),
    lastContact,
  });
});

app.post('/data', async (req, res) => {
  try {
    const version = await raft.replicate(req.body); // { term, index } once committed
    res.json({ ok: true, leader: raft.getLeader(), commit: version });
  } catch (e) {
    // NotLeaderError names the leader to retry at; a TimeoutError's write may still commit
    res.status(e instanceof NotLeaderError ? 409 : 503).json({ ok: false, error: e.code || e.message, leader: raft.getLeader() });
  }
});

app.post('/demo/cut', (req, res) => {
  cut = Boolean(req.body && req.body.cut);
  event('cut', { cut });
  res.json({ cut });
});

const mapping = {
  voteRequest: 'voteRequestReceived',
  voteResponse: 'voteResponseReceived',
  syncData: 'dataReceived',
  dataResponse: 'dataResponseReceived',
};
for (const [ev, incoming] of Object.entries(mapping)) {
  raft.subscribe(ev, async (message) => {
    if (cut) return;
    event('msg', {
      ch: ev,
      to: String(message.destination.id),
      term: message.term,
      pre: message.preVote ? true : undefined,
      granted: message.granted,
      success: message.success,
      data: message.data !== undefined ? true : undefined,
    });
    const url = `http://${host}:${message.destination.id}/raft/action/${incoming}`;
    client.post(url, message, { timeout: message.timeout }).catch(() => {});
  });
}

raft.subscribe('log', ({ message }) => log(message));
raft.subscribe('roleChanged', (role) => event('role', { role: RaftRole[role], term: raft.getStatus().term }));
raft.subscribe('leaderChanged', ({ leader, term }) => event('leader', { leader, term }));
raft.subscribe('dataChanged', () => {
  const { version, commit } = raft.getStatus();
  event('data', { version, commit });
});

// Node endpoints must be known before starting: ack every reachable peer, then start. A peer
// that refuses the connection is not up yet (it acks us when it starts); a peer that did not
// answer in time may have added us all the same, so ask it again until it answers: otherwise
// the two would disagree on who is a member (it would count us, we would not count it).
async function ackPeer(justMe, node) {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await client.post(`http://${host}:${node.id}/raft/action/ackNode`, justMe, { timeout: 1000, headers: ackHeaders });
      await raft.dispatch('ackNode', node);
      return;
    } catch (err) {
      if (err.code === 'ECONNREFUSED') return;
    }
  }
  log(`peer ${node.id} did not answer our ackNode`);
}

async function startServer() {
  const justMe = { id: port, time: Date.now() };
  const others = cluster.filter((p) => p !== port).map((p) => ({ id: p, time: Date.now() }));
  await Promise.all(others.map((node) => ackPeer(justMe, node)));
  await raft.dispatch('serviceStarted', { node: justMe });
  event('started', {});
}

const server = http.createServer(app);
server.once('error', (err) => {
  const reason = `cannot listen on ${host}:${port}: ${err.code || err.message}`;
  log(reason);
  event('fatal', { reason, code: err.code || null });
  process.exit(1);
});
server.listen(Number(port), host, () => {
  log(`running express on ${port}`);
  startServer().catch((err) => handleCrash(err));
});

// crash handling, as in the README: leave the cluster, persist, exit
for (const ev of ['SIGINT', 'SIGTERM', 'disconnect', 'uncaughtException', 'unhandledRejection']) {
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
  if (me && !cut) {
    me.time = 0;
    await Promise.all(
      raft
        .getFollowers()
        .map((node) => client.post(`http://${host}:${node.id}/raft/action/ackNode`, me, { timeout: 200, headers: ackHeaders }).catch(() => {})),
    );
  }
  if (!(e === 'SIGINT' || e === 'SIGTERM')) event('fatal', { reason: String((e && e.stack) || e).split('\n')[0], code: null });
  await raft.dispatch('serviceCrashed', { reason: String(e) });
  await raft.destroy();
  process.exit(e === 'SIGINT' || e === 'SIGTERM' ? 0 : 1);
}
