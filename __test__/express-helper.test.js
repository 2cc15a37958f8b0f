'use strict';
// raftq-native/express (express.js): nodes in this process, each with its own Express app on
// 127.0.0.1, talking through raftRouter: elections and replication with a secret, unsigned or
// tampered bodies dropped, failed sends counted and logged once (dead peer, silent peer,
// body over the receiver's limit) without unhandled rejections, /status, /metrics, close().
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');
const { execFile } = require('node:child_process');
const { waitFor, freePorts, canResolve, spawnLogged, killAll, delay, ROOT } = require('./_helpers');

const skip = canResolve('express') ? false : 'express (devDependency) is not installed';
const express = skip ? null : require('express');
const { Raftq, RaftRole } = require('..');
const { raftRouter } = skip ? {} : require('../express');

const TIMING = { heartbeat: 20, minimumElectionTime: 150, maximumElectionTime: 300 };
const SECRET = 'a shared secret of at least 32 bytes, for tests';
// Bounds for a condition to be reached (and for the test's own requests), generous enough for
// a machine whose cores are busy with other work (scripts/test-under-load.sh); not latencies.
const WAIT = 30000;
const REQUEST_WAIT = 10000;

const unhandled = [];
const onUnhandled = (reason) => unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);

const cleanups = [];
test.after(async () => {
  for (const c of cleanups.reverse()) await c();
  process.off('unhandledRejection', onUnhandled);
});

function memoryAgent() {
  const store = new Map();
  return {
    async persist(node, data) {
      store.set(String(node.id), JSON.parse(JSON.stringify(data)));
    },
    async restore(node) {
      return store.get(String(node.id));
    },
  };
}

function listen(app, port) {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, '127.0.0.1', () => resolve(server));
    server.once('error', reject);
  });
}

function closeServer(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * A node: Raftq + Express app + raftRouter on `port`; ids are the ports as strings.
 * `peers` are the other ports; `options` go to Raftq, `routerOptions` to raftRouter.
 */
async function startNode(port, peers, { options = {}, routerOptions = {}, start = true } = {}) {
  const raft = new Raftq({ ...TIMING, persistAgent: memoryAgent(), ...options });
  const logs = [];
  raft.subscribe('log', ({ message }) => logs.push(message));
  const router = raftRouter(raft, { host: '127.0.0.1', peers: peers.map(String), ...routerOptions });
  const app = express();
  app.use('/raft', router);
  const server = await listen(app, port);
  const node = { id: String(port), port, raft, router, server, logs, connections: 0 };
  server.on('connection', () => node.connections++);
  node.stop = async () => {
    router.close();
    await raft.destroy();
    await closeServer(server);
  };
  cleanups.push(node.stop);
  if (start) await raft.dispatch('serviceStarted', { node: { id: String(port), time: Date.now() } });
  return node;
}

async function getJson(port, p) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(REQUEST_WAIT) });
  return { code: res.status, type: res.headers.get('content-type'), body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text() };
}

async function post(port, p, body, raw = false) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_WAIT),
  });
  await res.arrayBuffer();
  return res.status;
}

/** exactly one leader among `nodes`, named by all of them, in one term */
function agreedLeader(nodes) {
  const leaders = nodes.filter((n) => n.raft.getRole() === RaftRole.LEADER);
  if (leaders.length !== 1) return false;
  const l = leaders[0];
  const term = l.raft.getStatus().term;
  return nodes.every((n) => n.raft.getLeader() === l.id && n.raft.getStatus().term === term) ? l : false;
}

function run(args) {
  return new Promise((resolve) =>
    execFile(process.execPath, args, { cwd: ROOT, timeout: 30000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, out: `${stdout}${stderr}` }),
    ),
  );
}

test("require('raftq-native') does not load express; require('raftq-native/express') does, by the package's exports", { skip, timeout: 180000 }, async () => {
  const probe = (spec) =>
    `const r = require(${JSON.stringify(spec)}); const loaded = Object.keys(require.cache).some((k) => k.includes('${path.sep}node_modules${path.sep}express${path.sep}'));` +
    ` console.log(JSON.stringify({ loaded, keys: Object.keys(r).sort() }));`;
  const main = await run(['-e', probe('raftq-native')]);
  assert.equal(main.code, 0, main.out);
  const m = JSON.parse(main.out.trim().split('\n').pop());
  assert.equal(m.loaded, false, 'the main entry point loaded express');
  assert.ok(m.keys.includes('Raftq') && m.keys.includes('RaftRole'), `main exports: ${m.keys}`);

  const sub = await run(['-e', probe('raftq-native/express')]);
  assert.equal(sub.code, 0, sub.out);
  const s = JSON.parse(sub.out.trim().split('\n').pop());
  assert.equal(s.loaded, true, 'raftq-native/express loads express');
  assert.ok(s.keys.includes('raftRouter'), `express exports: ${s.keys}`);

  // ESM apps import it by name too
  const esm = await run(['--input-type=module', '-e', "import { raftRouter } from 'raftq-native/express'; import { Raftq } from 'raftq-native'; console.log(typeof raftRouter, typeof Raftq);"]);
  assert.equal(esm.code, 0, esm.out);
  assert.match(esm.out, /^function function$/m);
});

test('raftRouter checks its arguments', { skip }, () => {
  assert.throws(() => raftRouter(null), TypeError);
  assert.throws(() => raftRouter({}), TypeError);
  const raft = new Raftq({ ...TIMING, persistAgent: memoryAgent() });
  assert.throws(() => raftRouter(raft, { url: 'http://x' }), /`url` must be a function/);
  assert.throws(() => raftRouter(raft, { metrics: 'text' }), /`metrics` must be a function/);
  assert.throws(() => raftRouter(raft, { peers: 'a,b' }), /`peers` must be an array/);
  for (const maxInFlight of [0, 1.5, '4', -1]) assert.throws(() => raftRouter(raft, { maxInFlight }), /`maxInFlight` must be an integer >= 1/);
  return raft.destroy();
});

test('3 nodes with a secret over raftRouter: one leader, a write reaches all; unsigned, tampered and wrong-secret bodies are dropped', { skip, timeout: 180000 }, async () => {
  const ports = await freePorts(4);
  const honest = ports.slice(0, 3);
  const nodes = [];
  // elections of 600-1200 ms: sends time out after 300 ms, so a loaded machine rarely aborts
  // one (an aborted request closes its connection, which the keep-alive check below counts)
  const options = { secret: SECRET, minimumElectionTime: 600, maximumElectionTime: 1200 };
  for (const p of honest) nodes.push(await startNode(p, honest.filter((q) => q !== p), { options }));
  const describe = () => nodes.map((n) => `${n.id}: ${JSON.stringify({ ...n.raft.getStatus(), transport: n.router.stats() })}\n  ${n.logs.slice(-6).join('\n  ')}`).join('\n');

  const leader = await waitFor(() => agreedLeader(nodes), WAIT, 'one agreed leader among 3 signed nodes', 10).catch((err) => {
    throw new Error(`${err.message}\n${describe()}`);
  });
  assert.ok(await leader.raft.replicate({ hello: 'over http', list: [1, 2, 3] }), 'the write commits');
  await waitFor(() => nodes.every((n) => JSON.stringify(n.raft.getData()) === JSON.stringify({ hello: 'over http', list: [1, 2, 3] })), WAIT, 'the data on all 3', 10);
  for (const n of nodes) {
    const st = n.raft.getStatus();
    assert.equal(st.unauthenticated, 0, `${n.id} dropped none of its peers' signed bodies`);
    assert.ok(n.router.stats().received > 0 && n.router.stats().sent > 0, `${n.id} sent and received`);
  }

  // keep-alive: the heartbeats travel over a few reused connections, not one per message
  const follower0 = nodes.find((n) => n !== leader);
  const others = nodes.filter((n) => n !== follower0);
  const failedSends = () => others.reduce((sum, n) => sum + n.router.stats().failed, 0);
  const c0 = follower0.connections;
  const r0 = follower0.router.stats().received;
  const f0 = failedSends();
  await waitFor(() => follower0.router.stats().received >= r0 + 100, WAIT, '100 more messages received by a follower', 10);
  const inbound = follower0.connections - c0;
  const messages = follower0.router.stats().received - r0;
  const aborted = failedSends() - f0;
  console.log(`keep-alive: ${inbound} new connections for ${messages} messages, ${aborted} failed sends (before: ${c0} for ${r0})`);
  assert.ok(inbound <= messages / 4 + aborted, `${inbound} new connections for ${messages} messages (${aborted} failed sends)`);

  // /status over HTTP: the raft's status plus the transport's counters
  const st = await getJson(leader.port, '/raft/status');
  assert.equal(st.code, 200);
  assert.equal(st.body.id, leader.id);
  assert.equal(st.body.role, RaftRole.LEADER);
  assert.equal(st.body.leader, leader.id);
  assert.deepEqual(st.body.members.sort(), honest.filter((p) => p !== leader.port).map(String).sort());
  assert.equal(typeof st.body.transport.sent, 'number');

  // a body without a tag, and a signed body with a field changed, are dropped and counted
  const follower = nodes.find((n) => n !== leader);
  const before = follower.raft.getStatus();
  const forged = { destination: { id: follower.id }, timeout: 300, candidate: { id: leader.id }, term: before.term + 5, lastTerm: 99, lastIndex: 99 };
  assert.equal(await post(follower.port, '/raft/action/voteRequestReceived', forged), 204);
  let captured;
  const unsub = leader.raft.subscribe('syncData', (m) => {
    if (!captured && m.destination.id === follower.id) captured = JSON.parse(JSON.stringify(m));
  });
  await waitFor(() => captured, WAIT, 'a signed syncData from the leader', 5);
  unsub();
  assert.match(captured.tag, /^[0-9a-f]{64}$/, 'the node signed what the transport sent');
  assert.equal(await post(follower.port, '/raft/action/dataReceived', { ...captured, term: captured.term + 1, data: { forged: true } }), 204);
  await waitFor(() => follower.raft.getStatus().unauthenticated >= before.unauthenticated + 2, WAIT, 'both bodies counted unauthenticated', 5);
  const after = follower.raft.getStatus();
  assert.equal(after.term, before.term, 'no term bump from a forged body');
  assert.deepEqual(follower.raft.getData(), { hello: 'over http', list: [1, 2, 3] });

  // a fourth node with another secret, acked by nobody's secret: its bodies count as unauthenticated
  const intruder = await startNode(ports[3], honest, { options: { secret: 'another secret, 32 bytes or more....' } });
  await waitFor(() => intruder.router.stats().sent > 0, WAIT, 'the intruder to send', 10);
  await waitFor(() => nodes.some((n) => n.raft.getStatus().unauthenticated > after.unauthenticated), WAIT, 'the intruder dropped', 10);
  assert.notEqual(intruder.raft.getRole(), RaftRole.LEADER);
  assert.ok(agreedLeader(nodes), 'the honest three still agree on one leader');
});

test('failed sends: a dead peer and a silent one are counted and logged once each, aborted on the message timeout, no unhandled rejection; a peer coming up is logged reachable again', { skip, timeout: 180000 }, async () => {
  const [portA, dead, silent] = await freePorts(3);
  // accepts connections, never answers
  const sockets = new Set();
  const silentServer = net.createServer((s) => {
    sockets.add(s);
    s.resume(); // read (and drop) what comes: a closed client is then seen
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise((r) => silentServer.listen(silent, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => {
    for (const s of sockets) s.destroy();
    silentServer.close(() => r());
  }));

  const errors = [];
  const t0 = Date.now();
  const a = await startNode(portA, [dead, silent], {
    routerOptions: { onSendError: (err, event, message) => errors.push({ name: err && err.name, event, to: message.destination.id }) },
  });
  // alone with two unreachable peers, A keeps standing for election: voteRequests to both fail
  await waitFor(() => errors.filter((e) => e.to === String(dead)).length >= 3 && errors.filter((e) => e.to === String(silent)).length >= 3, WAIT, '3 failed sends to each peer', 10).catch((err) => {
    throw new Error(`${err.message}\n${JSON.stringify(a.router.stats())}\n${a.logs.join('\n')}`);
  });
  const s = a.router.stats();
  assert.ok(s.failed >= 6, `failed counted: ${JSON.stringify(s)}`);
  assert.equal(s.sent, 0);
  assert.ok(errors.filter((e) => e.to === String(silent)).every((e) => e.name === 'TimeoutError'), `the silent peer's sends end on the message timeout: ${JSON.stringify(errors.slice(0, 6))}`);
  // (a busy event loop may let the timeout win over the refusal now and then)
  assert.ok(errors.filter((e) => e.to === String(dead)).some((e) => e.name !== 'TimeoutError'), 'the dead peer refuses the connection');
  const lines = (id, kind = '') => a.logs.filter((l) => l.startsWith(`raft transport: cannot send`) && l.includes(` to ${id}: ${kind}`));
  // the first failure of each peer and kind is logged, then at most one line per kind and 10 s
  const allowed = 1 + Math.floor((Date.now() - t0) / 10000);
  const kinds = (id) => new Set(lines(id).map((l) => (l.includes(': TimeoutError: ') ? 'timeout' : 'other')));
  assert.ok(lines(dead).length >= 1, `log lines for the dead peer: ${a.logs.join(' | ')}`);
  assert.ok(lines(dead, 'TimeoutError').length <= allowed && lines(dead).length - lines(dead, 'TimeoutError').length <= allowed, `log lines for the dead peer: ${a.logs.join(' | ')}`);
  assert.ok(kinds(dead).has('other'), `the refusal is logged: ${a.logs.join(' | ')}`);
  assert.ok(lines(silent).length >= 1 && lines(silent).length <= allowed, 'log lines for the silent peer');
  assert.match(lines(silent)[0], /TimeoutError/);
  // aborted requests close their connections: the silent server is not left holding them
  await waitFor(() => sockets.size <= 2, WAIT, `the silent server's connections to close (open: ${sockets.size})`, 20);
  assert.equal(unhandled.length, 0, `unhandled rejections: ${unhandled.map(String).join(', ')}`);

  // the dead peer comes up (an endpoint that accepts everything): A logs it once
  const app = express();
  app.post('/raft/action/:channel', (req, res) => res.status(204).end());
  const up = await listen(app, dead);
  cleanups.push(() => closeServer(up));
  await waitFor(() => a.logs.includes(`raft transport: ${dead} reachable again`), WAIT, 'the reachable-again line', 10);
  assert.ok(a.router.stats().sent > 0);
  assert.equal(unhandled.length, 0);
});

test("a body over the receiver's JSON limit: the receiver answers 413, the sender logs the limit hint; the routes refuse unknown channels and bad JSON", { skip, timeout: 180000 }, async () => {
  const [pa, pb] = await freePorts(2);
  const t0 = Date.now();
  const a = await startNode(pa, [pb], { start: false });
  // B, with the small limit, waits 5-6 s before standing for election: A leads
  const b = await startNode(pb, [pa], { start: false, options: { minimumElectionTime: 5000, maximumElectionTime: 6000 }, routerOptions: { limit: '2kb' } });
  await Promise.all([a, b].map((n) => n.raft.dispatch('serviceStarted', { node: { id: n.id, time: Date.now() } })));
  await waitFor(() => agreedLeader([a, b]) === a, WAIT, 'A to lead', 10);
  const big = { blob: 'x'.repeat(8000) };
  assert.equal(await a.raft.replicate(big).then(() => true, () => false), false, 'B never gets it: not committed');
  await waitFor(() => a.logs.some((l) => /cannot send syncData to \S+: HTTP 413: the body \(\d+ bytes\) is over the receiver's JSON body limit/.test(l)), WAIT, 'the 413 hint on the log', 10).catch((err) => {
    throw new Error(`${err.message}\n${a.logs.join('\n')}`);
  });
  assert.ok(b.router.stats().rejected >= 1, 'B counted the refused body');
  const lines413 = a.logs.filter((l) => l.includes('HTTP 413')).length;
  assert.ok(lines413 <= 1 + Math.floor((Date.now() - t0) / 10000), `413s are not logged on every heartbeat:\n${a.logs.join('\n')}`);

  // the router carries the four channels only: app inputs are not reachable from the network
  const dataBefore = JSON.stringify(b.raft.getData());
  for (const action of ['replicateData', 'ackNode', 'serviceCrashed', 'serviceStarted', 'voteRequest']) {
    assert.equal(await post(pb, `/raft/action/${action}`, { id: 'evil', time: 1, reason: 'x', node: { id: 'evil' } }), 404, action);
  }
  assert.equal(JSON.stringify(b.raft.getData()), dataBefore);
  assert.ok(!b.raft.getStatus().members.includes('evil'));
  assert.equal(await post(pb, '/raft/action/dataReceived', '{"not json', true), 400);
  assert.equal((await getJson(pb, '/raft/metrics')).code, 404, 'no /metrics without the option');
  assert.equal(unhandled.length, 0);
});

test('/metrics with a metrics function; close() stops sending and the routes answer 503', { skip, timeout: 180000 }, async () => {
  const [pa, pb, pc] = await freePorts(3);
  let fail = false;
  const a = await startNode(pa, [pb], {
    routerOptions: {
      metrics: async () => {
        if (fail) throw new Error('registry gone');
        return 'raftq_term 3\n';
      },
    },
  });
  const m = await getJson(pa, '/raft/metrics');
  assert.equal(m.code, 200);
  assert.equal(m.body, 'raftq_term 3\n');
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  fail = true;
  const m2 = await getJson(pa, '/raft/metrics');
  assert.equal(m2.code, 500);
  assert.match(m2.body, /registry gone/);

  const c = await startNode(pc, [pb], { routerOptions: { metrics: () => '{"x":1}', metricsContentType: 'application/json' } });
  const mc = await getJson(pc, '/raft/metrics');
  assert.deepEqual([mc.code, mc.body], [200, { x: 1 }]);

  // A stands for election against an absent B: sends fail until close()
  await waitFor(() => a.router.stats().failed >= 1, WAIT, 'a first failed send', 10);
  let emitted = 0;
  a.raft.subscribe('voteRequest', () => emitted++);
  a.router.close();
  const frozen = a.router.stats();
  // the raft keeps emitting vote requests (pre-votes) for B; the closed router ships none
  await waitFor(() => emitted >= 3, WAIT, 'three more vote requests emitted after close()', 10);
  const s = a.router.stats();
  assert.equal(s.sent + s.failed + s.inFlight, frozen.sent + frozen.failed + frozen.inFlight, 'nothing sent after close()');
  assert.equal(await post(pa, '/raft/action/voteRequestReceived', {}), 503);
});

/** The descriptors of process `pid`: all of them, and the sockets among them. */
function descriptors(pid) {
  let all = 0;
  let sockets = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    all++;
    if (target.startsWith('socket:')) sockets++;
  }
  return { all, sockets };
}

const noProc = process.platform !== 'linux' || !fs.existsSync('/proc/self/fd') ? 'needs /proc/<pid>/fd' : false;

test('a paused (SIGSTOPped) peer costs the leader a bounded number of descriptors; sends beyond maxInFlight are dropped and counted', { skip: skip || noProc, timeout: 120000 }, async () => {
  const MAX_IN_FLIGHT = 4;
  const ports = await freePorts(3);
  const procs = ports.map((port) =>
    spawnLogged(process.execPath, [path.join(__dirname, 'fixtures', 'router-node.js')], {
      cwd: ROOT,
      // heartbeat 10 ms, sends time out after 100 ms: ~10 sends to a paused peer per timeout
      env: { ...process.env, RAFTQ_PORT: String(port), RAFTQ_PORTS: ports.join(','), RAFTQ_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) },
    }),
  );
  const cleanup = async () => {
    for (const p of procs) p.kill('SIGCONT');
    await killAll(procs);
  };
  cleanups.push(cleanup);
  const describeAll = () => procs.map((p, i) => `${ports[i]}:\n${p.output().split('\n').slice(-10).join('\n')}`).join('\n');
  await Promise.all(procs.map((p, i) => p.waitForLine(new RegExp(`^ready ${ports[i]}$`), 30000)));
  const status = async (port) => (await getJson(port, '/raft/status')).body;
  const leader = await waitFor(
    async () => {
      const sts = await Promise.all(ports.map(status));
      const ls = sts.filter((s) => s.role === RaftRole.LEADER);
      return ls.length === 1 && sts.every((s) => s.leader === ls[0].id) ? ls[0] : false;
    },
    30000,
    'one agreed leader among 3 processes',
    50,
  ).catch((err) => {
    throw new Error(`${err.message}\n${describeAll()}`);
  });
  const li = ports.indexOf(Number(leader.id));
  const pid = procs[li].child.pid;
  const paused = procs[(li + 1) % 3];

  // the leader's descriptors in the steady state (the most seen over a second)
  let before = { all: 0, sockets: 0 };
  for (let i = 0; i < 20; i++) {
    const d = descriptors(pid);
    before = { all: Math.max(before.all, d.all), sockets: Math.max(before.sockets, d.sockets) };
    await delay(50);
  }
  const s0 = (await status(ports[li])).transport;

  paused.child.kill('SIGSTOP');
  let peak = { ...before };
  const t0 = Date.now();
  // 4 s of pause: ~400 sends to the paused peer, each of which left a socket behind before
  while (Date.now() - t0 < 4000) {
    const d = descriptors(pid);
    peak = { all: Math.max(peak.all, d.all), sockets: Math.max(peak.sockets, d.sockets) };
    await delay(25);
  }
  const st = await status(ports[li]);
  paused.child.kill('SIGCONT');
  const t = st.transport;
  console.log(`paused peer: leader descriptors ${before.all} (${before.sockets} sockets) before, at most ${peak.all} (${peak.sockets} sockets) during 4 s of pause; transport ${JSON.stringify(t)}`);
  // a few sockets per destination: the agents' bound, plus the ones being replaced
  const slack = 2 * MAX_IN_FLIGHT + 12;
  assert.ok(peak.all <= before.all + slack, `descriptors ${before.all} -> ${peak.all} (sockets ${before.sockets} -> ${peak.sockets}) against a paused peer; transport ${JSON.stringify(t)}`);
  assert.ok(t.inFlight <= 2 * MAX_IN_FLIGHT, `in flight: ${t.inFlight}`);
  assert.ok(t.dropped > s0.dropped, `sends beyond the bound are dropped and counted: ${JSON.stringify(t)}`);
  assert.ok(t.failed > s0.failed, 'the paused peer\'s sends time out (counted failed)');
  assert.equal(st.role, RaftRole.LEADER, 'the leader keeps its majority');
  await cleanup();
});
