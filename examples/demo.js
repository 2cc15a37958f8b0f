'use strict';
// The live demo cluster (`npm run demo`): four nodes (examples/dashboard/node.js, the README's
// Express app plus a network cut switch) on 127.0.0.1, a live dashboard page (its URL is the
// first line printed), a write to the leader every second, one status line per second, and a
// failover: the leader is interrupted (SIGINT: the crash handler hands leadership over) after
// 8 s and started again 4 s later, rejoining from its persisted file. Ctrl-C stops everything.
//
//   npm run demo                  the cluster, the dashboard, the automatic failover
//   npm run demo -- --script      a fixed scenario with checks, no browser; exits 0 when all pass
//   npm run demo -- --no-failover no automatic failover (use the page's buttons)
//
//   RAFTQ_PORTS           cluster ports, used as given (default: 5050-5053, each one taken by
//                         another process replaced by a free port; the second line says which)
//   RAFTQ_DEMO_BASE_PORT  the first of the four default ports (default 5050)
//   RAFTQ_DASHBOARD_PORT  the page's port (default 5080; taken or 0: any free port)
//   RAFTQ_DEMO_SECONDS    stop by itself after this many seconds (default: run until Ctrl-C)
//   RAFTQ_DEMO_FAILOVER   0: no automatic failover (as --no-failover)
//   RAFTQ_DIR             where the nodes persist (default: a fresh temporary folder)

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

const argv = process.argv.slice(2);
const scriptMode = argv.includes('--script');
const autoFailover = !scriptMode && !argv.includes('--no-failover') && process.env.RAFTQ_DEMO_FAILOVER !== '0';
const fixedPorts = process.env.RAFTQ_PORTS ? process.env.RAFTQ_PORTS.split(',').map((p) => p.trim()) : null;
let ports = fixedPorts || []; // chosen in main() when not fixed
const dashboardPort = Number(process.env.RAFTQ_DASHBOARD_PORT === undefined ? 5080 : process.env.RAFTQ_DASHBOARD_PORT);
const seconds = Number(process.env.RAFTQ_DEMO_SECONDS || 0);
const dir = process.env.RAFTQ_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'raftq-demo-'));
const nodeScript = path.join(__dirname, 'dashboard', 'node.js');
const pageDir = path.join(__dirname, 'dashboard');
const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1).padStart(5);
const say = (text) => console.log(`${elapsed()}s ${text}`);
// this run's nodes sign their messages with a random secret (and accept ackNode only with its
// token): a process that happens to listen on one of the ports can neither join nor disturb them
const secret = crypto.randomBytes(32).toString('hex');
const clusterName = 'raftq-demo';

/** Whether `port` can be listened on at 127.0.0.1 (nothing else holds it). */
function portIsFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(Number(port), '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port the OS says is free. */
function anyFreePort(taken) {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = String(s.address().port);
      s.close(() => (taken.has(p) ? anyFreePort(taken).then(resolve, reject) : resolve(p)));
    });
  });
}

/** 5050-5053 where free, any free port instead of each taken one; and what was replaced. */
async function choosePorts() {
  const chosen = [];
  const notes = [];
  const taken = new Set();
  const base = Number(process.env.RAFTQ_DEMO_BASE_PORT || 5050);
  for (const want of [0, 1, 2, 3].map((i) => String(base + i))) {
    if (await portIsFree(want)) chosen.push(want);
    else {
      const p = await anyFreePort(new Set([...taken, ...chosen]));
      notes.push(`${want} is taken, using ${p}`);
      chosen.push(p);
    }
    taken.add(chosen[chosen.length - 1]);
  }
  return { chosen, notes };
}

// ---------------------------------------------------------------------------------------------
// the nodes: one child process each, and what the dashboard last saw of it

/** port -> { child, proc: 'starting'|'up'|'stopping'|'down', pid, exit, view, cut, fatal, tail, portTaken } */
const nodes = new Map();

function start(port) {
  const n = nodes.get(port);
  if (!n || n.child) return false;
  const child = spawn(process.execPath, [nodeScript], {
    env: { ...process.env, RAFTQ_PORTS: ports.join(','), RAFTQ_PORT: port, RAFTQ_DIR: dir, RAFTQ_SECRET: secret, RAFTQ_CLUSTER: clusterName },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  Object.assign(n, { child, proc: 'starting', pid: child.pid, exit: null, view: null, cut: false, fatal: null, tail: [], portTaken: false });
  let buffered = '';
  const relay = (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('@raftq ')) {
        nodeEvent(port, line.slice(7));
        continue;
      }
      if (line.trim()) {
        n.tail.push(line.replace(/^\[[^\]]*\] /, ''));
        if (n.tail.length > 5) n.tail.shift();
      }
      if (/crashed|failed|error|cannot/i.test(line)) {
        // crashes and persisted-data trouble (roles and starts come as timeline lines)
        if (!scriptMode) say(`[${port}] ${line.replace(/^\[[^\]]*\] /, '')}`);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', relay);
  child.stderr.setEncoding('utf8').on('data', relay);
  child.on('exit', (code, signal) => {
    if (n.child !== child) return;
    // why: what the node said before it went (a listen error, an uncaught exception), else its last line
    const reason = signal || code === 0 ? null : n.fatal || n.tail[n.tail.length - 1] || null;
    Object.assign(n, { child: null, proc: 'down', exit: { code, signal, at: Date.now(), reason }, view: null, cut: false });
    if (n.fatal && /EADDRINUSE/.test(n.fatal)) n.portTaken = true;
    const how = signal ? `${port} exited (${signal})` : `${port} exited (code ${code})`;
    timeline('exit', port, reason ? `${how}: ${reason}` : how);
    pushState();
  });
  pushState();
  return true;
}

function signalNode(port, sig) {
  const n = nodes.get(port);
  if (!n || !n.child) return false;
  if (sig === 'SIGINT' && n.proc !== 'down') n.proc = 'stopping';
  n.child.kill(sig);
  pushState();
  return true;
}

function waitDown(port, ms) {
  const n = nodes.get(port);
  return until(() => !n.child, ms, `${port} to exit`);
}

// what the nodes report on stdout as it happens: leadership changes go to the timeline
const lastRole = new Map();
function nodeEvent(port, json) {
  let ev;
  try {
    ev = JSON.parse(json);
  } catch {
    return;
  }
  const n = nodes.get(port);
  if (ev.type === 'msg') {
    // one raft message sent: straight to the page's ring picture (not kept, not summarised)
    if (clients.size) broadcast('msg', { from: port, to: ev.to, ch: ev.ch, term: ev.term, pre: ev.pre, granted: ev.granted, success: ev.success, data: ev.data, at: ev.at });
    return;
  }
  if (ev.type === 'fatal') {
    n.fatal = ev.reason;
    return;
  }
  if (ev.type === 'started') {
    n.proc = 'up';
    timeline('start', port, `${port} started (pid ${n.pid})`);
  } else if (ev.type === 'role') {
    const was = lastRole.get(port);
    lastRole.set(port, ev.role);
    if (ev.role === 'LEADER') timeline('leader', port, `${port} became leader (term ${ev.term})`);
    else if (was === 'LEADER') timeline('leader', port, `${port} stepped down: ${ev.role.toLowerCase()} (term ${ev.term})`);
  } else if (ev.type === 'cut') {
    n.cut = ev.cut;
  }
  pushState();
}

// ---------------------------------------------------------------------------------------------
// HTTP to the nodes

function request(method, port, urlPath, body, timeout = 1000) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method,
        timeout,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c) => (text += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode, body: null });
          }
        });
      },
    );
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end(payload);
  });
}

function readPersisted(port) {
  const file = path.join(dir, `${port}.json`);
  try {
    const st = fs.statSync(file);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    return { at: st.mtimeMs, ...saved };
  } catch (err) {
    return err.code === 'ENOENT' ? null : { error: String(err.message || err) };
  }
}

/** Ask every running node for its view, read every node's persisted file. */
async function refresh() {
  await Promise.all(
    ports.map(async (port) => {
      const n = nodes.get(port);
      n.persisted = readPersisted(port);
      if (!n.child) {
        n.view = null;
        // a node whose port another process took cannot be restarted until that one lets go
        if (n.portTaken) n.portTaken = !(await portIsFree(port));
        return;
      }
      const r = await request('GET', port, '/raft/status', undefined, 500);
      // only our own child's answer counts (another process may hold the port)
      if (n.child) n.view = r && r.body && r.body.status && r.body.pid === n.pid ? r.body : null;
    }),
  );
}

function snapshot() {
  return {
    now: Date.now(),
    dir,
    autoWrite,
    nodes: ports.map((port) => {
      const n = nodes.get(port);
      const v = n.view;
      return {
        port,
        proc: n.proc,
        pid: n.child ? n.pid : null,
        exit: n.exit,
        canRestart: !n.portTaken,
        timing: v ? v.timing : null,
        cut: v ? v.cut : n.cut,
        answering: Boolean(v),
        role: v ? v.roleName : null,
        term: v ? v.status.term : null,
        leader: v ? v.leader : null,
        votedFor: v ? v.status.votedFor : null,
        version: v ? v.status.version : null,
        commit: v ? v.status.commit : null,
        members: v ? v.status.members : null,
        data: v ? v.data : null,
        lastContact: v ? v.lastContact : null,
        lastLeaderContactMs: v ? v.status.lastLeaderContactMs : null,
        nodeNow: v ? v.now : null,
        persisted: n.persisted || null,
      };
    }),
  };
}

/** The one leader every answering node in `among` agrees on (and which says it leads), or null. */
function agreedLeader(among = ports) {
  const views = among.map((p) => nodes.get(p).view);
  if (views.some((v) => !v)) return null;
  const l = views[0].leader;
  if (l === null || l === undefined || !views.every((v) => v.leader === l)) return null;
  const lv = nodes.get(String(l));
  return lv && lv.view && lv.view.roleName === 'LEADER' ? String(l) : null;
}

const leadersNow = () => ports.filter((p) => nodes.get(p).view && nodes.get(p).view.roleName === 'LEADER');

// ---------------------------------------------------------------------------------------------
// writes: to the leader (following a 409's hint once)

let counter = 0;
let autoWrite = !scriptMode;

async function write(value, { quiet = false } = {}) {
  const t0 = Date.now();
  let target = leadersNow()[0];
  let why = 'no leader';
  for (let attempt = 0; attempt < 2 && target; attempt++) {
    const r = await request('POST', target, '/data', value, 2000);
    why = !r ? `no answer from ${target}` : r.body && r.body.ok === false ? `${target} could not commit it` : `${target} answered ${r.status}`;
    if (r && r.status === 200 && r.body && r.body.ok) {
      const c = r.body.commit || {};
      const text = `write ${JSON.stringify(value)} committed by ${target} (term ${c.term}, index ${c.index}) in ${Date.now() - t0} ms`;
      timeline('write', target, text, { quiet });
      return { ok: true, leader: target, commit: c };
    }
    target = r && r.status === 409 && r.body && r.body.leader != null ? String(r.body.leader) : null;
  }
  timeline('write', null, `write ${JSON.stringify(value)} not committed (${why})`, { quiet });
  return { ok: false, error: why };
}

// ---------------------------------------------------------------------------------------------
// the timeline, and the page's live feed (server-sent events)

const history = [];
const clients = new Set();

function timeline(kind, port, text, { quiet = false } = {}) {
  const entry = { at: Date.now(), t: Number(elapsed()), kind, port, text };
  history.push(entry);
  if (history.length > 500) history.shift();
  if (!quiet && kind !== 'write' && !scriptMode) say(text);
  broadcast('timeline', entry);
}

function broadcast(event, data) {
  const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  for (const res of clients) res.write(frame);
}

let pushTimer = null;
function pushState() {
  // coalesce bursts of changes into one frame
  if (pushTimer) return;
  pushTimer = setTimeout(() => {
    pushTimer = null;
    broadcast('state', snapshot());
  }, 20);
}

const files = { '/': ['index.html', 'text/html'], '/app.js': ['app.js', 'text/javascript'], '/style.css': ['style.css', 'text/css'] };

async function api(req, res, url) {
  const send = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'POST') return send(405, { ok: false });
  // only this page's own fetch() calls: a JSON content type cannot come from another site's
  // form without a CORS preflight, which this server never grants
  if (!/^application\/json\b/.test(req.headers['content-type'] || '')) return send(415, { ok: false });
  let text = '';
  for await (const c of req) {
    text += c;
    if (text.length > 1e6) return send(413, { ok: false });
  }
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    return send(400, { ok: false, error: 'body is not JSON' });
  }
  if (url === '/api/write') {
    return send(200, await write(body.value));
  }
  if (url === '/api/autowrite') {
    autoWrite = Boolean(body.on);
    timeline('action', null, `automatic writes ${autoWrite ? 'on' : 'off'}`);
    pushState();
    return send(200, { ok: true, autoWrite });
  }
  const m = url.match(/^\/api\/node\/(\d+)\/(stop|kill|restart|cut|heal)$/);
  if (!m || !nodes.has(m[1])) return send(404, { ok: false });
  return send(200, await nodeAction(m[1], m[2]));
}

async function nodeAction(port, action) {
  const n = nodes.get(port);
  if (action === 'stop') {
    if (!n.child) return { ok: false, error: 'not running' };
    timeline('action', port, `stopping ${port} gracefully (SIGINT)`);
    return { ok: signalNode(port, 'SIGINT') };
  }
  if (action === 'kill') {
    if (!n.child) return { ok: false, error: 'not running' };
    timeline('action', port, `kill -9 ${port}`);
    return { ok: signalNode(port, 'SIGKILL') };
  }
  if (action === 'restart') {
    if (n.child) {
      timeline('action', port, `restarting ${port}: stopping it gracefully first`);
      signalNode(port, 'SIGINT');
      try {
        await waitDown(port, 5000);
      } catch {
        signalNode(port, 'SIGKILL');
        await waitDown(port, 2000).catch(() => {});
      }
    }
    if (!(await portIsFree(port))) {
      n.portTaken = true;
      pushState();
      return { ok: false, error: `port ${port} is taken by another process` };
    }
    n.portTaken = false;
    timeline('action', port, `starting ${port}: it rejoins from its file in ${dir}`);
    return { ok: start(port) };
  }
  // cut / heal: the node's own switch (nothing in or out while cut)
  if (!n.child) return { ok: false, error: 'not running' };
  const cut = action === 'cut';
  const r = await request('POST', port, '/demo/cut', { cut });
  if (!r || r.status !== 200) return { ok: false, error: 'no answer' };
  n.cut = cut;
  timeline('action', port, cut ? `cut ${port} off from the others` : `healed ${port}: back on the network`);
  pushState();
  return { ok: true };
}

const server = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  // a page served under another host name (DNS rebinding) gets nothing
  if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(req.headers.host || '')) {
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('forbidden');
    return;
  }
  if (url === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ state: snapshot(), history })}\n\n`);
    clients.add(res);
    req.on('close', () => clients.delete(res));
    return;
  }
  if (url.startsWith('/api/')) {
    api(req, res, url).catch((err) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: String(err) }));
    });
    return;
  }
  if (url === '/favicon.ico') {
    res.writeHead(204);
    res.end();
    return;
  }
  const f = files[url];
  if (!f || req.method !== 'GET') {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': `${f[1]}; charset=utf-8`, 'cache-control': 'no-store' });
  fs.createReadStream(path.join(pageDir, f[0])).pipe(res);
});
const keepAlive = setInterval(() => {
  for (const res of clients) res.write(': keep-alive\n\n');
}, 15000);

function listen(port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve(server.address().port);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// the terminal: one line a second, automatic writes, the automatic failover

let killedLeader = null;

function summaryLine() {
  const leaders = leadersNow();
  const cells = ports.map((p) => {
    const v = nodes.get(p).view;
    if (!v) return `${p}: down`;
    return `${p}: ${v.roleName[0]} t${v.status.term} ${JSON.stringify(v.data)}${v.cut ? ' (cut)' : ''}`;
  });
  return `leader=${leaders.join(',') || 'none'} | ${cells.join(' | ')}`;
}

async function second(n) {
  if (!scriptMode) say(summaryLine());
  const leaders = leadersNow();
  if (autoWrite && leaders.length === 1) {
    counter += 1;
    await write({ counter, at: new Date().toISOString() }, { quiet: true });
  }
  if (autoFailover && n === 8 && leaders.length === 1) {
    killedLeader = leaders[0];
    say(`--- interrupting the leader ${killedLeader} (SIGINT) ---`);
    timeline('action', killedLeader, `stopping the leader ${killedLeader} gracefully (SIGINT)`, { quiet: true });
    signalNode(killedLeader, 'SIGINT');
  }
  if (autoFailover && n === 12 && killedLeader) {
    say(`--- starting ${killedLeader} again: it rejoins from ${dir} ---`);
    timeline('action', killedLeader, `starting ${killedLeader} again: it rejoins from its file`, { quiet: true });
    start(killedLeader);
  }
}

// ---------------------------------------------------------------------------------------------
// --script: a fixed scenario with checks

function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Refresh until `cond()` is truthy (returned), or throw after `ms`. */
async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(50);
    await refresh();
  }
}

function sameData(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Write `value` until it is committed (a leader may lose its majority under load and leave a
 * write uncommitted: ask whoever leads next, as a client would), or throw after `ms`.
 */
async function writeUntil(value, ms, what) {
  const deadline = Date.now() + ms;
  let tries = 0;
  for (;;) {
    await refresh();
    if (leadersNow().length === 1) {
      tries += 1;
      const r = await write(value, { quiet: true });
      if (r.ok) return tries > 1 ? ` (after ${tries} tries)` : '';
    }
    if (Date.now() > deadline) throw new Error(`${what} not committed within ${ms} ms (${tries} tries)`);
    await delay(100);
  }
}

async function scenario() {
  const step = (text) => say(`[script] ${text}`);
  const ok = (text) => say(`[script]   ok: ${text}`);
  const all = ports;
  const up = () => ports.filter((p) => nodes.get(p).child);

  step(`start ${all.length} nodes`);
  const first = await until(() => agreedLeader(all), 15000, 'all nodes to agree on one leader');
  ok(`${first} is leader, term ${nodes.get(first).view.status.term}, all ${all.length} nodes agree`);

  step('write through the leader');
  const v1 = { step: 'first write', at: Date.now() };
  const t1 = await writeUntil(v1, 15000, 'the first write');
  await until(() => all.every((p) => sameData(nodes.get(p).view && nodes.get(p).view.data, v1)), 10000, 'every node to have the first write');
  ok(`committed${t1}, every node has it`);

  step(`kill -9 the leader ${first}`);
  signalNode(first, 'SIGKILL');
  await waitDown(first, 5000);
  const rest = up();
  const second = await until(() => {
    const l = agreedLeader(rest);
    return l && l !== first ? l : null;
  }, 15000, `a new leader among ${rest.join(',')}`);
  ok(`${second} is the new leader (term ${nodes.get(second).view.status.term})`);

  step('write with one node down');
  const v2 = { step: 'write with a node down', at: Date.now() };
  const t2 = await writeUntil(v2, 15000, 'the write with a node down');
  ok(`committed by 3 of 4${t2}`);

  step(`restart ${first}: it rejoins from ${path.join(dir, `${first}.json`)}`);
  start(first);
  await until(() => agreedLeader(all) && sameData(nodes.get(first).view.data, v2), 15000, `${first} to rejoin and catch up`);
  ok(`${first} is back as ${nodes.get(first).view.roleName.toLowerCase()} with the latest write`);

  const victim = await until(() => agreedLeader(all), 15000, 'all nodes to agree on one leader');
  step(`cut the leader ${victim} off from the others`);
  await nodeAction(victim, 'cut');
  const others = all.filter((p) => p !== victim);
  const third = await until(() => {
    const l = agreedLeader(others);
    return l && l !== victim ? l : null;
  }, 15000, `a new leader among ${others.join(',')}`);
  ok(`${third} leads the majority side (term ${nodes.get(third).view.status.term})`);
  await until(() => nodes.get(victim).view && nodes.get(victim).view.roleName !== 'LEADER', 10000, `${victim} to step down`);
  ok(`${victim}, alone, stepped down (${nodes.get(victim).view.roleName.toLowerCase()})`);
  const v3 = { step: 'write during the cut', at: Date.now() };
  const t3 = await writeUntil(v3, 15000, 'the write during the cut');
  if (sameData(nodes.get(victim).view.data, v3)) throw new Error(`${victim} got a write while cut off`);
  ok(`write committed on the majority side${t3}; ${victim} did not get it`);

  step(`heal ${victim}`);
  await nodeAction(victim, 'heal');
  await until(() => agreedLeader(all) && sameData(nodes.get(victim).view.data, v3), 15000, `${victim} to rejoin and catch up`);
  ok(`${victim} is back and has the write it missed; leader ${agreedLeader(all)}`);

  step('last write');
  const v4 = { step: 'last write', at: Date.now() };
  const t4 = await writeUntil(v4, 15000, 'the last write');
  await until(
    () =>
      all.every((p) => {
        const n = nodes.get(p);
        return n.view && sameData(n.view.data, v4) && n.persisted && sameData(n.persisted.data, v4);
      }),
    10000,
    'every node to have the last write, in memory and in its file',
  );
  ok(`every node has the last write${t4}, in memory and on disk: ${JSON.stringify(v4)}`);
}

// ---------------------------------------------------------------------------------------------

let stopping = false;
let timer = null;
let poller = null;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  clearInterval(poller);
  clearInterval(keepAlive);
  for (const n of nodes.values()) if (n.child) n.child.kill('SIGINT');
  const deadline = Date.now() + 3000;
  while ([...nodes.values()].some((n) => n.child) && Date.now() < deadline) await delay(50);
  for (const n of nodes.values()) if (n.child) n.child.kill('SIGKILL');
  for (const res of clients) res.end();
  server.close();
  say(`demo stopped (data in ${dir})`);
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

async function main() {
  let bound;
  try {
    bound = await listen(dashboardPort);
  } catch {
    bound = await listen(0); // the default port is taken: any free one
  }
  console.log(`dashboard: http://127.0.0.1:${bound}/`);
  let notes = [];
  if (!fixedPorts) ({ chosen: ports, notes } = await choosePorts());
  for (const p of ports) nodes.set(p, { child: null, proc: 'down', pid: null, exit: null, view: null, cut: false, fatal: null, tail: [], portTaken: false });
  console.log(`raftq-native demo: ${ports.length} nodes on 127.0.0.1 ports ${ports.join(', ')}${notes.length ? ` (${notes.join('; ')})` : ''}, data in ${dir}`);
  console.log(`their messages are signed with a random secret (cluster '${clusterName}'): other processes cannot join or disturb them`);
  for (const p of ports) start(p);

  let polling = false;
  poller = setInterval(async () => {
    if (polling) return;
    polling = true;
    try {
      await refresh();
      pushState();
    } finally {
      polling = false;
    }
  }, 250);

  if (scriptMode) {
    const limit = setTimeout(() => {
      say('[script] FAILED: the scenario took longer than 120 s');
      stop(1);
    }, 120000);
    try {
      await scenario();
      say('[script] all checks passed');
      clearTimeout(limit);
      await stop(0);
    } catch (err) {
      say(`[script] FAILED: ${err.message}`);
      say(summaryLine());
      for (const p of ports) {
        const v = nodes.get(p).view;
        say(`[script]   ${p}: ${v ? `${v.roleName} term ${v.status.term}, leader ${v.leader}, members ${v.status.members.join(',')}${v.cut ? ', cut' : ''}` : nodes.get(p).proc}`);
      }
      clearTimeout(limit);
      await stop(1);
    }
    return;
  }

  let n = 0;
  timer = setInterval(() => {
    n += 1;
    second(n).catch((e) => console.error(e));
    if (seconds > 0 && n >= seconds) stop(0);
  }, 1000);
}

main().catch((err) => {
  console.error(err);
  stop(1);
});
