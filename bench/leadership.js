'use strict';
// Issue 8's benchmark, in memory (examples/memory-cluster.js: 4 nodes in one process, heartbeat
// 10 ms, elections 100-200 ms, messages forwarded on the next microtask):
//   - replicate() on the leader -> `dataChanged` with that version on every follower;
//   - replicate() -> its Promise resolving { term, index } on the leader (commit);
//   - confirmLeadership() -> true (one heartbeat round to a majority);
//   - issue 15: read() -> { data, term, index } (ReadIndex: one round to a majority) and
//     read({ lease: true }) (no round while the lease holds), in memory and over HTTP: three
//     __test__/fixtures/chaos-node.js processes (Express transport on 127.0.0.1, file
//     persistence, heartbeat 50 ms, elections 200-400 ms), the client timing GET /read on the
//     leader (HTTP to the leader, the round over HTTP, the answer).
// `node bench/leadership.js [--json]` (RAFTQ_BENCH_WRITES sets the rounds, default 200). Prints
// a table, or one line of JSON (what `npm run bench` reads). Nothing is asserted.

const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawn } = require('node:child_process');
const { createMemoryCluster } = require('../examples/memory-cluster');
const { now, summary } = require('./stats');

const N = Number(process.env.RAFTQ_BENCH_WRITES || 200);

async function waitFor(cond, ms) {
  const t0 = now();
  while (now() - t0 < ms) {
    const v = cond();
    if (v) return v;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out after ${ms} ms`);
}

async function main() {
  const c = createMemoryCluster({ size: 4 });
  await c.start();
  const leaderOf = () => {
    const ls = c.ids.filter((id) => c.node(id).getRole() === 3);
    return ls.length === 1 ? ls[0] : undefined;
  };
  const leader = await waitFor(leaderOf, 10000);
  const followers = c.ids.filter((id) => id !== leader);
  // the newest version each follower announced on dataChanged
  const seen = new Map();
  for (const id of followers) c.node(id).subscribe('dataChanged', (e) => seen.set(id, e));
  const raft = c.node(leader);
  await raft.replicate({ warm: true });
  const toFollowers = [];
  const toCommit = [];
  for (let i = 0; i < N; i++) {
    const t0 = now();
    let committedAt = 0;
    const p = raft.replicate({ n: i }).then((v) => {
      committedAt = now();
      return v;
    });
    const v = await p;
    await waitFor(() => followers.every((id) => {
      const e = seen.get(id);
      return e && e.term === v.term && e.index >= v.index;
    }), 2000);
    toFollowers.push(now() - t0);
    toCommit.push(committedAt - t0);
  }
  const confirm = [];
  for (let i = 0; i < N; i++) {
    const t0 = now();
    const ok = await raft.confirmLeadership();
    if (ok !== true) throw new Error('confirmLeadership() on a healthy leader answered false');
    confirm.push(now() - t0);
  }
  const read = [];
  for (let i = 0; i < N; i++) {
    const t0 = now();
    await raft.read();
    read.push(now() - t0);
  }
  await waitFor(() => raft.getStatus().leaseValid, 3000);
  const leaseRead = [];
  for (let i = 0; i < N; i++) {
    const t0 = now();
    await raft.read({ lease: true });
    leaseRead.push(now() - t0);
  }
  await c.destroy();
  let http;
  try {
    http = await overHttp(Math.min(N, 200));
  } catch (e) {
    http = { error: e.message };
  }
  return {
    toFollowers: summary(toFollowers),
    toCommit: summary(toCommit),
    confirm: summary(confirm),
    read: summary(read),
    leaseRead: summary(leaseRead),
    http,
    rounds: N,
  };
}

/** read() over HTTP: three chaos-node processes on free ports; the client times GET /read. */
async function overHttp(n) {
  const net = require('node:net');
  const ports = [];
  const servers = [];
  for (let i = 0; i < 3; i++) {
    const srv = net.createServer();
    await new Promise((res) => srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, res));
    ports.push(srv.address().port);
    servers.push(srv);
  }
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftq-bench-read-'));
  const fixture = path.join(__dirname, '..', '__test__', 'fixtures', 'chaos-node.js');
  const kids = ports.map((port) =>
    spawn(process.execPath, [fixture], {
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, CHAOS_ID: String(port), CHAOS_PEERS: ports.join(','), CHAOS_DIR: dir, CHAOS_MAX_LIFETIME_MS: '300000' },
    }),
  );
  const get = async (port, route) => {
    const res = await fetch(`http://127.0.0.1:${port}${route}`, { signal: AbortSignal.timeout(3000) });
    return { code: res.status, body: await res.json().catch(() => null) };
  };
  try {
    const t0 = now();
    let leader;
    while (!leader) {
      if (now() - t0 > 20000) throw new Error('no leader over HTTP within 20 s');
      for (const p of ports) {
        const s = await get(p, '/status').catch(() => null);
        if (s && s.body && s.body.role === 3) leader = p;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const rows = { read: [], leaseRead: [] };
    for (const [k, q] of [['read', ''], ['leaseRead', '?lease=1']]) {
      for (let i = 0; i < n + 10; i++) {
        const t = now();
        const r = await get(leader, `/read${q}`);
        if (r.code !== 200) throw new Error(`GET /read${q} answered ${r.code}`);
        if (i >= 10) rows[k].push(now() - t); // the first ten warm the connection up
      }
    }
    return { read: summary(rows.read), leaseRead: summary(rows.leaseRead), nodes: 3 };
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main()
  .then((r) => {
    if (process.argv.includes('--json')) return console.log(JSON.stringify(r));
    const f = (s) => `median ${s.p50.toFixed(3)} ms, p90 ${s.p90.toFixed(3)} ms`;
    console.log(`issue 8, in memory (4 nodes, ${r.rounds} rounds each)`);
    console.log('| measure | latency |\n|---|---|');
    console.log(`| replicate() -> dataChanged on every follower | ${f(r.toFollowers)} |`);
    console.log(`| replicate() -> resolved { term, index } on the leader | ${f(r.toCommit)} |`);
    console.log(`| confirmLeadership() -> true | ${f(r.confirm)} |`);
    console.log(`| read() -> { data, term, index } | ${f(r.read)} |`);
    console.log(`| read({ lease: true }) | ${f(r.leaseRead)} |`);
    if (r.http.error) console.log(`| read() over HTTP | failed: ${r.http.error} |`);
    else {
      console.log(`| read() over HTTP (GET /read on the leader, 3 processes) | ${f(r.http.read)} |`);
      console.log(`| read({ lease: true }) over HTTP | ${f(r.http.leaseRead)} |`);
    }
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
