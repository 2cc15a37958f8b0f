'use strict';
// `npm run demo` (examples/demo.js), the README's first command: four HTTP nodes on
// 127.0.0.1, a write to the leader every second, the leader interrupted after 8 s and started
// again after 12 s. Run for 15 s on free ports; it must stop by itself and its status lines
// must show one leader, a different leader after the interruption, and all four nodes (the
// restarted one included) agreeing on the latest write at the end.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { freePorts, tempDir, ROOT } = require('./_helpers');

/** Run examples/demo.js with `args` and `env` in its own process group (a timeout kills its
 * nodes too); `{ code, out }` once it exits, killed after `killAfterMs`. */
async function runDemo(args, env, killAfterMs) {
  const child = spawn(process.execPath, [path.join(ROOT, 'examples', 'demo.js'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c) => (out += c));
  const code = await new Promise((resolve) => {
    const kill = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, killAfterMs);
    child.on('exit', (c) => {
      clearTimeout(kill);
      resolve(c);
    });
  });
  return { code, out };
}

test('npm run demo: election, failover, rejoin from disk, convergence; stops by itself', { timeout: 60_000 }, async () => {
  const ports = (await freePorts(4)).map(String);
  const dir = tempDir('raftq-demo-test-');
  const { code, out } = await runDemo([], { RAFTQ_PORTS: ports.join(','), RAFTQ_DEMO_SECONDS: '15', RAFTQ_DIR: dir }, 45_000);
  assert.equal(code, 0, `demo exited with ${code}:\n${out}`);

  const status = out.split('\n').filter((l) => / leader=/.test(l));
  assert.ok(status.length >= 12, `one status line a second:\n${out}`);
  const leaderOf = (l) => l.match(/leader=(\S+)/)[1];
  const interrupted = out.match(/interrupting the leader (\d+)/);
  assert.ok(interrupted, `the leader was interrupted:\n${out}`);
  const first = interrupted[1];
  const cut = out.indexOf(interrupted[0]);
  const after = status.filter((l) => out.indexOf(l) > cut).map(leaderOf);
  assert.ok(after.length >= 3, `status lines after the interruption:\n${out}`);
  assert.ok(
    after.slice(1).every((l) => l !== 'none' && !l.includes(',') && l !== first),
    `exactly one leader, not the interrupted one, from a second after the interruption on:\n${out}`,
  );
  assert.match(out, new RegExp(`starting ${first} again`));

  // the last status line: every node up and showing the same, latest write
  const last = status[status.length - 1];
  const cells = last.split(' | ').slice(1);
  assert.equal(cells.length, 4, last);
  assert.ok(!/: down/.test(last), `all nodes up: ${last}`);
  const shown = cells.map((c) => c.replace(/^\d+: [LFC] t\d+ /, ''));
  assert.ok(shown.every((d) => d === shown[0] && /"counter":\d+/.test(d)), `converged: ${last}`);
  const counters = status.map((l) => Number((l.match(/"counter":(\d+)/) || [])[1] || 0));
  assert.ok(Math.max(...counters) >= 10, `writes kept committing through the failover:\n${out}`);
});

// `npm run demo -- --script`: the fixed scenario (elect, write, kill -9 the leader, new leader,
// restart, cut the leader off, new leader on the majority side, heal, write, every node has the
// last write in memory and on disk), no browser; exit 0 only when every check passed.
test('npm run demo -- --script: the scripted scenario passes its checks and exits 0', { timeout: 180_000 }, async () => {
  const [dash, ...ports] = (await freePorts(5)).map(String);
  const { code, out } = await runDemo(['--script'], { RAFTQ_PORTS: ports.join(','), RAFTQ_DASHBOARD_PORT: dash, RAFTQ_DIR: tempDir('raftq-script-test-') }, 150_000);
  assert.equal(code, 0, `--script exited with ${code}:\n${out}`);
  assert.match(out.split('\n')[0], /^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/);
  for (const re of [
    /ok: \d+ is leader, term \d+, all 4 nodes agree/,
    /kill -9 the leader (\d+)[\s\S]*ok: \d+ is the new leader/,
    /ok: \d+ is back as (follower|leader) with the latest write/,
    /ok: \d+ leads the majority side/,
    /ok: write committed on the majority side[^;\n]*; \d+ did not get it/,
    /ok: \d+ is back and has the write it missed/,
    /ok: every node has the last write[^,\n]*, in memory and on disk/,
    /all checks passed/,
  ]) {
    assert.match(out, re);
  }
  assert.doesNotMatch(out, /FAILED/);
});

const http = require('node:http');
const net = require('node:net');

/** A foreign process's server on `port`: answers 200 to everything, records what it got. */
function foreignServer(port) {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ server, got, close: () => new Promise((r) => {
      server.close(r);
      server.closeAllConnections();
    }) }));
  });
}

function canListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Four consecutive free ports (the demo's default ports are base..base+3). */
async function freeBlock() {
  for (let i = 0; i < 200; i++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const ok = await Promise.all([0, 1, 2, 3].map((k) => canListen(base + k)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no block of 4 free ports');
}

test('npm run demo on a busy machine: a default port held by another process is replaced by a free one, printed, and never contacted', { timeout: 60_000 }, async () => {
  const base = await freeBlock();
  const foreign = await foreignServer(base + 1);
  try {
    const [dash] = (await freePorts(1)).map(String);
    const { code, out } = await runDemo([], { RAFTQ_DEMO_BASE_PORT: String(base), RAFTQ_DASHBOARD_PORT: dash, RAFTQ_DEMO_SECONDS: '6', RAFTQ_DEMO_FAILOVER: '0', RAFTQ_DIR: tempDir('raftq-demo-busy-') }, 45_000);
    assert.equal(code, 0, out);
    const m = out.match(new RegExp(`nodes on 127\\.0\\.0\\.1 ports ${base}, (\\d+), ${base + 2}, ${base + 3} \\(${base + 1} is taken, using (\\d+)\\)`));
    assert.ok(m && m[1] === m[2], `the ports line names the replacement:\n${out}`);
    const last = out.split('\n').filter((l) => / leader=/.test(l)).pop();
    assert.match(last, new RegExp(`leader=(${base}|${m[1]}|${base + 2}|${base + 3}) `), last);
    assert.ok(!/: down/.test(last), `all four up: ${last}`);
    assert.deepEqual(foreign.got, [], 'the foreign process got no traffic');
  } finally {
    await foreign.close();
  }
});

test('npm run demo with RAFTQ_PORTS naming a port another process holds: that node exits with the reason shown; the foreign process cannot join or move the terms', { timeout: 60_000 }, async () => {
  const ports = (await freePorts(5)).map(String);
  const dash = ports.pop();
  const taken = ports[1];
  const foreign = await foreignServer(Number(taken));
  // the foreign process also talks raft at the demo's nodes: forged votes with a huge term,
  // as the member it would be if it had been acked
  const forge = setInterval(() => {
    for (const p of ports.filter((x) => x !== taken)) {
      const body = JSON.stringify({ candidate: { id: taken, time: Date.now() }, term: 100000, lastTerm: 0, lastIndex: 0, destination: { id: p }, timeout: 100 });
      const req = http.request({ host: '127.0.0.1', port: p, path: '/raft/action/voteRequestReceived', method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('error', () => {});
      req.end(body);
      const ack = http.request({ host: '127.0.0.1', port: p, path: '/raft/action/ackNode', method: 'POST', headers: { 'content-type': 'application/json' } });
      ack.on('error', () => {});
      ack.end(JSON.stringify({ id: taken, time: Date.now() }));
    }
  }, 50);
  try {
    const { code, out } = await runDemo([], { RAFTQ_PORTS: ports.join(','), RAFTQ_DASHBOARD_PORT: dash, RAFTQ_DEMO_SECONDS: '7', RAFTQ_DEMO_FAILOVER: '0', RAFTQ_DIR: tempDir('raftq-demo-taken-') }, 45_000);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`${taken} exited \\(code 1\\): cannot listen on 127\\.0\\.0\\.1:${taken}: EADDRINUSE`), out);
    const status = out.split('\n').filter((l) => / leader=/.test(l));
    const last = status[status.length - 1];
    assert.match(last, new RegExp(`leader=(${ports.filter((p) => p !== taken).join('|')}) `), `the three others elect a leader: ${last}`);
    const terms = status.flatMap((l) => [...l.matchAll(/ t(\d+) /g)].map((x) => Number(x[1])));
    assert.ok(terms.length > 0 && Math.max(...terms) < 100, `forged terms changed nothing (terms seen: ${[...new Set(terms)]}):\n${out}`);
  } finally {
    clearInterval(forge);
    await foreign.close();
  }
});
