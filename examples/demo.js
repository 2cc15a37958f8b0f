'use strict';
// The live demo cluster (`npm run demo`): four copies of examples/http-cluster.js on 127.0.0.1,
// a write to the leader every second, one status line per second, and a failover: the leader
// is interrupted (SIGINT: the README's crash handler hands leadership over) after 8 s and
// started again 4 s later, rejoining from its persisted file. Ctrl-C stops everything.
//
//   RAFTQ_PORTS         cluster ports (default 5050,5051,5052,5053)
//   RAFTQ_DEMO_SECONDS  stop by itself after this many seconds (default: run until Ctrl-C)
//   RAFTQ_DIR           where the nodes persist (default: a fresh temporary folder)

const { spawn } = require('node:child_process');
const { mkdtempSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

const ports = (process.env.RAFTQ_PORTS || '5050,5051,5052,5053').split(',').map((p) => p.trim());
const seconds = Number(process.env.RAFTQ_DEMO_SECONDS || 0);
const dir = process.env.RAFTQ_DIR || mkdtempSync(path.join(os.tmpdir(), 'raftq-demo-'));
const nodeScript = path.join(__dirname, 'http-cluster.js');
const children = new Map();
const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1).padStart(5);

function start(port) {
  const child = spawn(process.execPath, [nodeScript], {
    env: { ...process.env, RAFTQ_PORTS: ports.join(','), RAFTQ_PORT: port, RAFTQ_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.set(port, child);
  let buffered = '';
  const relay = (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      // show what a person wants to see: roles, crashes, persisted-data trouble
      if (/become|crashed|started|failed|error|running express/i.test(line)) {
        console.log(`${elapsed()}s [${port}] ${line.replace(/^\[[^\]]*\] /, '')}`);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', relay);
  child.stderr.setEncoding('utf8').on('data', relay);
  child.on('exit', () => {
    if (children.get(port) === child) children.delete(port);
  });
}

function request(method, port, urlPath, body) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method,
        timeout: 500,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c) => (text += c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(text));
          } catch {
            resolve(null);
          }
        });
      },
    );
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end(payload);
  });
}

let counter = 0;
let killedLeader = null;

async function second(n) {
  const views = await Promise.all(ports.map((p) => request('GET', p, '/raft/status')));
  const leaders = ports.filter((p, i) => views[i] && views[i].roleName === 'LEADER');
  const cells = ports.map((p, i) => {
    const v = views[i];
    if (!v) return `${p}: down`;
    return `${p}: ${v.roleName[0]} t${v.status.term} ${JSON.stringify(v.data)}`;
  });
  console.log(`${elapsed()}s leader=${leaders.join(',') || 'none'} | ${cells.join(' | ')}`);
  if (leaders.length === 1) {
    counter += 1;
    await request('POST', leaders[0], '/data', { counter, at: new Date().toISOString() });
  }
  if (n === 8 && leaders.length === 1) {
    killedLeader = leaders[0];
    console.log(`${elapsed()}s --- interrupting the leader ${killedLeader} (SIGINT) ---`);
    const child = children.get(killedLeader);
    if (child) child.kill('SIGINT');
  }
  if (n === 12 && killedLeader) {
    console.log(`${elapsed()}s --- starting ${killedLeader} again: it rejoins from ${dir} ---`);
    start(killedLeader);
  }
}

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  for (const child of children.values()) child.kill('SIGINT');
  const deadline = Date.now() + 3000;
  while (children.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const child of children.values()) child.kill('SIGKILL');
  console.log(`${elapsed()}s demo stopped (data in ${dir})`);
  process.exit(code);
}

console.log(`raftq-native demo: ${ports.length} nodes on 127.0.0.1:${ports.join(',')}, data in ${dir}`);
for (const p of ports) start(p);
let n = 0;
const timer = setInterval(() => {
  n += 1;
  second(n).catch((e) => console.error(e));
  if (seconds > 0 && n >= seconds) stop(0);
}, 1000);
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
