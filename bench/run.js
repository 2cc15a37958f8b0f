'use strict';
// `npm run bench`: raftq-native side by side with raftq 1.0.0, in one run, one table.
//
//   RAFTQ_BASELINE=<dir> npm run bench     (dir: built by scripts/raftq-baseline.sh)
//   npm run bench                          (raftq-native's column alone)
//
// Sections (each library measured by the same code, raftq-native first, then raftq 1.0.0):
//   1. in-process (bench/inproc.js, a fresh process per library and measure): dispatch rate on
//      one follower, the library's CPU per node and the event-loop delay it adds, scale
//      (3..51 nodes: first leader, next leader after the leader's crash handler);
//   2. the core's own step rate (cargo bench, raftq-native only; skipped without cargo);
//   3. over HTTP (bench/http.js: four bench/demo-node.js processes, the README demo shape):
//      wire bytes/s and CPU at steady state, replication latency, graceful and hard failover;
//   4. issue 8's leadership rows (bench/leadership.js): replicate() -> dataChanged on every
//      follower, confirmLeadership(); issue 15's read() and read({ lease: true }), in memory
//      and over HTTP;
//   5. issue 7's guard (bench/guard.js): dispatch cost, hand-off, replication and persist ->
//      vote, this checkout against RAFTQ_BEFORE=<dir> (an earlier checkout, addon built).
// Prints a Markdown table (with machine, Node, date, command, load average) and writes
// bench/results/latest.json and bench/results/bench-<time>.json.
//
// Knobs (environment): RAFTQ_BENCH_TRIALS failover trials per kind (20), RAFTQ_BENCH_WRITES
// replication writes (200), RAFTQ_BENCH_SCALE_TRIALS trials per cluster size (5),
// RAFTQ_BENCH_BUDGET_S wall-clock budget (480): failover trials stop when it runs out, and the
// table says how many ran. RAFTQ_BENCH_KEEP=1 keeps the HTTP nodes' logs and persist files.
// Nothing here is asserted: the target column only reports.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { now, summary, median } = require('./stats');
const { runHttp, killAll: killHttp } = require('./http');

const ROOT = path.resolve(__dirname, '..');
const T0 = now();
const env = process.env;
const num = (v, d) => (v === undefined || v === '' ? d : Number(v));
const TRIALS = num(env.RAFTQ_BENCH_TRIALS, 20);
const WRITES = num(env.RAFTQ_BENCH_WRITES, 200);
const SCALE_TRIALS = num(env.RAFTQ_BENCH_SCALE_TRIALS, 5);
const BUDGET_S = num(env.RAFTQ_BENCH_BUDGET_S, 480);
const DEADLINE = T0 + BUDGET_S * 1000;
const SIZES = [3, 5, 11, 25, 51];
const DEMO = { heartbeat: 100, minimumElectionTime: 200, maximumElectionTime: 800 };
const FAST = { heartbeat: 10, minimumElectionTime: 100, maximumElectionTime: 200 };
const BLOB = 100000; // the 100 KB value: { seq, blob: 'x' x 100,000 } (under express.json()'s 100 kb limit)

// ---- every child is killed on every way out ----
const kids = new Set();
function killAll() {
  killHttp();
  for (const k of kids) {
    try {
      k.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

const elapsed = () => ((now() - T0) / 1000).toFixed(0).padStart(4);
const progress = (m) => process.stderr.write(`[bench ${elapsed()} s] ${m}\n`);
const loads = [];
const markLoad = (label) => loads.push({ at: label, load1: os.loadavg()[0] });

/** Run bench/inproc.js in a fresh process; its JSON, or { error }. */
function inproc(mode, lib, opts, timeoutMs) {
  return inprocLike([path.join(__dirname, 'inproc.js'), mode, lib, JSON.stringify(opts)], timeoutMs);
}

/** Run a node script; the JSON of its last stdout line, or { error }. */
function inprocLike(args, timeoutMs = 120000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    kids.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      kids.delete(child);
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (e) {
        resolve({ error: `${path.basename(args[0])}: ${e.message}: ${err.trim().split('\n').slice(-3).join(' | ')}` });
      }
    });
  });
}

/** The core's step rate, heartbeats only (bench/core.sh: cargo bench); { error } without cargo. */
function coreRate() {
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(__dirname, 'core.sh'), 'heartbeats only'], {
      env: { ...env, RAFTQ_BENCH_MS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    kids.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240000);
    child.on('error', (e) => resolve({ error: String(e.message) }));
    child.on('exit', () => {
      clearTimeout(timer);
      kids.delete(child);
      const line = out.split('\n').find((l) => l.startsWith('heartbeats only'));
      if (!line) return resolve({ error: `bench/core.sh printed no "heartbeats only" line: ${err.trim().split('\n').pop()}` });
      // scenario, sim ms, messages, wall ms, msgs/s, ns/msg, ...
      const cols = line.slice('heartbeats only'.length).trim().split(/\s+/).map(Number);
      resolve({ msgsPerSec: cols[3], nsPerMsg: cols[4], messages: cols[1] });
    });
  });
}

function baselineLib() {
  const dir = env.RAFTQ_BASELINE;
  if (!dir) return null;
  const abs = path.resolve(dir);
  const cjs = path.join(abs, 'dist', 'index.cjs');
  const lib = fs.existsSync(cjs) ? cjs : abs;
  try {
    const m = require(lib);
    if (typeof m.Raftq !== 'function') throw new Error('no Raftq export');
  } catch (e) {
    throw new Error(`RAFTQ_BASELINE=${dir}: cannot load raftq from ${lib} (${e.message}); build it with scripts/raftq-baseline.sh`);
  }
  let version = '?';
  let commit = '?';
  try {
    version = JSON.parse(fs.readFileSync(path.join(abs, 'package.json'), 'utf8')).version;
  } catch {
    /* unknown */
  }
  try {
    commit = fs.readFileSync(path.join(abs, 'SOURCE_COMMIT'), 'utf8').trim();
  } catch {
    /* unknown */
  }
  return { dir: abs, lib, version, commit };
}

function meta(base) {
  const cpus = os.cpus();
  let rev = '?';
  try {
    rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    if (dirty) rev += '+changes';
  } catch {
    /* not a git checkout */
  }
  const knobs = ['RAFTQ_BENCH_TRIALS', 'RAFTQ_BENCH_WRITES', 'RAFTQ_BENCH_SCALE_TRIALS', 'RAFTQ_BENCH_BUDGET_S']
    .filter((k) => env[k] !== undefined)
    .map((k) => `${k}=${env[k]} `)
    .join('');
  const cmd = env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node bench/run.js';
  return {
    date: new Date().toISOString(),
    machine: `${cpus.length} × ${cpus[0] ? cpus[0].model.trim() : '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
    node: process.version,
    command: `${base ? `RAFTQ_BASELINE=${base.dir} ` : ''}${knobs}${cmd}`,
    raftqNative: `raftq-native ${require(path.join(ROOT, 'package.json')).version} at ${rev}`,
    baseline: base ? `raftq ${base.version} built from arianito/raftack ${base.commit.slice(0, 12)}` : null,
  };
}

// ---- formatting ----
const ms = (x) => (x === null || x === undefined ? 'n/a' : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`);
const pctf = (x) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(x < 1 ? 2 : 1)} %`);
const rate = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : x >= 1e3 ? `${(x / 1e3).toFixed(0)} k/s` : `${x.toFixed(0)}/s`);
const bps = (x) => (x >= 2 ** 20 ? `${(x / 2 ** 20).toFixed(2)} MiB/s` : `${(x / 2 ** 10).toFixed(1)} KiB/s`);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(a / b < 0.1 ? 3 : 2)}×` : '—');

function trialsCell(rows, total) {
  const s = summary(rows.map((r) => r.ms));
  const skipped = rows.filter((r) => r.error).length;
  const missing = rows.length - skipped - s.n;
  const notes = [
    rows.length < total ? `${rows.length} of ${total} planned ran` : '',
    skipped ? `${skipped} skipped: no stable cluster` : '',
    missing ? `${missing} without a new leader in 5 s` : '',
  ].filter(Boolean);
  return { v: s.p50, text: `p50 ${ms(s.p50)}, p90 ${ms(s.p90)} (n=${s.n}${notes.length ? `; ${notes.join(', ')}` : ''})` };
}
const twoLeaderTrials = (rows) => rows.filter((r) => r.twoLeaders && r.twoLeaders.count > 0).length;
const measured = (rows) => rows.filter((r) => !r.error).length;

/** The table rows: [measure, native, raftq, ratio, target, met]. */
function buildRows(N, B, hop) {
  const rows = [];
  const add = (measure, n, b, target, met, r) => rows.push({ measure, native: n, raftq: b, ratio: r, target, met });
  const has = (x) => x && !x.error;
  const hb = (x) => x && x.http;

  // failover
  for (const [key, label, target, check] of [
    ['graceful', 'Failover, graceful: SIGINT the leader (demo crash handler) → another process logs LEADER', 'p50 ≤ 25 ms', (v) => v <= 25],
    ['hard', 'Failover, hard: SIGKILL the leader → another process logs LEADER', `p50 ≤ ${DEMO.maximumElectionTime} ms (max election timeout)`, (v) => v <= DEMO.maximumElectionTime],
  ]) {
    const nr = hb(N) && N.http[key];
    const br = B && hb(B) && B.http[key];
    const nc = nr ? trialsCell(nr, TRIALS) : { text: 'n/a' };
    const bc = br ? trialsCell(br, TRIALS) : null;
    add(label, nc.text, bc && bc.text, target, nc.v !== undefined && nc.v !== null ? check(nc.v) : null, bc ? ratio(nc.v, bc.v) : null);
    add(
      `… trials where two live processes claim LEADER at once (${key})`,
      nr ? `${twoLeaderTrials(nr)} of ${measured(nr)}` : 'n/a',
      br ? `${twoLeaderTrials(br)} of ${measured(br)}` : null,
      key === 'hard' ? '0' : '',
      key === 'hard' && nr ? twoLeaderTrials(nr) === 0 : null,
      br ? '—' : null,
    );
  }

  // replication
  {
    const n = hb(N) && N.http.replication;
    const b = B && hb(B) && B.http.replication;
    const cell = (r) => {
      const s = summary(r.samples);
      return { v: s.p50, text: `p50 ${ms(s.p50)}, p99 ${ms(s.p99)} (n=${s.n}${r.lost ? `, ${r.lost} never shown in 3 s` : ''})` };
    };
    const nc = n ? cell(n) : { text: 'n/a' };
    const bc = b ? cell(b) : null;
    add('Replication over HTTP: replicateData on the leader → every follower\'s getData() shows it', nc.text, bc && bc.text, 'p50 ≤ 5 ms', nc.v != null ? nc.v <= 5 : null, bc ? ratio(nc.v, bc.v) : null);
    const h = hop && !hop.error ? hop : null;
    const t = (xs) => {
      const s = summary(xs);
      return `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`;
    };
    add('… context, no Raft: one axios POST → express handler in another process (one-way; two processes only)', h ? t(h.oneWay) : 'n/a', B ? 'same transport' : null, '', null, B ? '—' : null);
    add('… context, no Raft: the README persist agent\'s mkdir + writeFile, alone', h ? t(h.persist) : 'n/a', B ? 'same agent (raftq 1.0.0 calls it on crash/destroy only)' : null, '', null, B ? '—' : null);
  }

  // wire bytes
  const w = (x, k) => (x && hb(x) && has(x.http[k]) ? x.http[k] : null);
  {
    const nh = w(N, 'heartbeatOnly');
    const bh = B && w(B, 'heartbeatOnly');
    const nb = w(N, 'bigValue');
    const bb = B && w(B, 'bigValue');
    add('Bytes on the wire/s, 4 nodes, heartbeat only (empty value; HTTP requests + responses)', nh ? bps(nh.bytesPerSec) : 'n/a', bh ? bps(bh.bytesPerSec) : null, '', null, bh ? ratio(nh && nh.bytesPerSec, bh.bytesPerSec) : null);
    add(
      'Bytes on the wire/s, 4 nodes, a 100 KB value in place',
      nb ? bps(nb.bytesPerSec) : 'n/a',
      bb ? bps(bb.bytesPerSec) : null,
      '≤ the heartbeat-only row (+5 % noise)',
      nb && nh ? nb.bytesPerSec <= nh.bytesPerSec * 1.05 : null,
      bb ? ratio(nb && nb.bytesPerSec, bb.bytesPerSec) : null,
    );
    const body = (x) => (x && x.actions.dataReceived && x.actions.dataReceived.n ? x.actions.dataReceived.bytes / x.actions.dataReceived.n : null);
    const nbody = body(nh);
    const bbody = body(bh);
    add('syncData body, heartbeat only (mean bytes)', nbody ? `${nbody.toFixed(0)} B` : 'n/a', B ? (bbody ? `${bbody.toFixed(0)} B` : 'n/a') : null, '≤ raftq\'s', bbody && nbody ? nbody <= bbody : null, B ? ratio(nbody, bbody) : null);
    for (const [k, label] of [
      ['heartbeatOnly', 'CPU per node, whole Express process, heartbeat only (mean of 4; leader)'],
      ['bigValue', 'CPU per node, whole Express process, 100 KB value (mean of 4; leader)'],
    ]) {
      const n = w(N, k);
      const b = B && w(B, k);
      const t = (x) => (x ? `${pctf(x.cpuPerProcessPct)} (leader ${pctf(x.cpuLeaderPct)})` : 'n/a');
      add(label, t(n), B ? t(b) : null, '', null, B ? ratio(n && n.cpuPerProcessPct, b && b.cpuPerProcessPct) : null);
    }
  }

  // in-process CPU and event-loop delay
  for (const [k, label] of [
    ['cpuDemo', 'Library CPU per node, in-process, heartbeat 100 ms (4 nodes, minus the idle host)'],
    ['cpuFast', 'Library CPU per node, in-process, heartbeat 10 ms (4 nodes, minus the idle host)'],
  ]) {
    const n = N[k] && !N[k].error ? N[k].map((x) => x.libraryCpuPerNodePct) : null;
    const b = B && B[k] && !B[k].error ? B[k].map((x) => x.libraryCpuPerNodePct) : null;
    const t = (xs) => (xs ? `${pctf(median(xs))} of a core (p90 ${pctf(summary(xs).p90)}, n=${xs.length})` : 'n/a');
    add(label, t(n), B ? t(b) : null, B ? '≤ raftq\'s' : '≤ raftq\'s (needs the baseline)', n && b ? median(n) <= median(b) : null, B ? ratio(n && median(n), b && median(b)) : null);
  }
  {
    const n = N.cpuFast && !N.cpuFast.error ? N.cpuFast.map((x) => x.eldAddedP99) : null;
    const b = B && B.cpuFast && !B.cpuFast.error ? B.cpuFast.map((x) => x.eldAddedP99) : null;
    const t = (xs) => (xs ? `${ms(median(xs))} (p90 ${ms(summary(xs).p90)}, n=${xs.length})` : 'n/a');
    add('Event-loop delay p99 added to the host, heartbeat 10 ms (4 nodes on one loop)', t(n), B ? t(b) : null, '≤ 1 ms', n ? median(n) <= 1 : null, B ? ratio(n && median(n), b && median(b)) : null);
  }

  // throughput
  {
    const n = N.dispatch && !N.dispatch.error ? N.dispatch.rates : null;
    const b = B && B.dispatch && !B.dispatch.error ? B.dispatch.rates : null;
    const t = (xs, d) => (xs ? `${rate(median(xs))} (slowest run ${rate(Math.min(...xs))}, n=${xs.length}; heartbeat body ${d.heartbeatBytes} B)` : 'n/a');
    add('In-process dispatch on one follower, heartbeats as fast as the JS thread can', t(n, N.dispatch), B ? t(b, B.dispatch) : null, B ? '≥ raftq\'s' : '≥ raftq\'s (needs the baseline)', n && b ? median(n) >= median(b) : null, B ? ratio(n && median(n), b && median(b)) : null);
    const c = N.core && !N.core.error ? N.core : null;
    add(
      "Core step rate, heartbeats only (5-node cluster, one thread, cargo bench)",
      c ? `${rate(c.msgsPerSec)} (${c.nsPerMsg} ns/msg; ${n ? `${(c.msgsPerSec / median(n)).toFixed(0)}× dispatch` : ''})` : `n/a (${N.core ? N.core.error : 'not run'})`,
      B ? 'no core: pure JS' : null,
      'shows the napi boundary\'s cost',
      null,
      B ? '—' : null,
    );
  }

  // scale
  const bound = 3 * DEMO.maximumElectionTime;
  for (const size of SIZES) {
    const n = N.scale && !N.scale.error ? N.scale[size] : null;
    const b = B && B.scale && !B.scale.error ? B.scale[size] : null;
    const t = (x, key) => {
      if (!x) return 'n/a';
      const s = summary(x[key]);
      const extra = [x.timeouts && key === 'next' ? `${x.timeouts} timed out` : '', x.noAgreement && key === 'next' ? `${x.noAgreement} never agreed` : ''].filter(Boolean).join(', ');
      const cut = x.ran < SCALE_TRIALS ? ` of ${SCALE_TRIALS} planned` : '';
      return `p50 ${ms(s.p50)}, p90 ${ms(s.p90)} (n=${s.n}${cut}${extra ? `, ${extra}` : ''})`;
    };
    const nf = n && summary(n.first);
    const nn = n && summary(n.next);
    add(`Scale ${size} nodes in-process (heartbeat 100, elections 200–800 ms): first leader`, t(n, 'first'), B ? t(b, 'first') : null, `p90 ≤ ${bound} ms`, nf && nf.p90 !== null ? nf.p90 <= bound : null, B ? ratio(nf && nf.p50, b && summary(b.first).p50) : null);
    add(
      `Scale ${size} nodes: next leader after the leader's crash handler`,
      t(n, 'next'),
      B ? t(b, 'next') : null,
      `p90 < ${DEMO.minimumElectionTime} ms (no election timeout waited)`,
      nn && nn.p90 !== null ? nn.p90 < DEMO.minimumElectionTime && !n.timeouts && !n.noAgreement : null,
      B ? ratio(nn && nn.p50, b && summary(b.next).p50) : null,
    );
  }
  return rows;
}

function printTable(m, rows, withBase) {
  const esc = (s) => String(s ?? '').replace(/\|/g, '\\|');
  const lines = [];
  lines.push(`raftq-native benchmark — ${m.date}`);
  lines.push(`machine: ${m.machine}; Node ${m.node}; ${m.raftqNative}${m.baseline ? `; baseline: ${m.baseline}` : '; no baseline (RAFTQ_BASELINE unset)'}`);
  lines.push(`command: ${m.command}`);
  lines.push(`load average (1 min, other work shares this machine): ${loads.map((l) => `${l.at} ${l.load1.toFixed(2)}`).join(', ')}`);
  lines.push(`took ${((now() - T0) / 1000).toFixed(0)} s; the HTTP rows use the README demo (4 Express processes, axios, heartbeat 100 ms, elections 200–800 ms) on 127.0.0.1`);
  lines.push('');
  if (withBase) {
    lines.push('| measure | raftq-native | raftq 1.0.0 | ratio native ÷ raftq | target | met |');
    lines.push('|---|---|---|---|---|---|');
  } else {
    lines.push('| measure | raftq-native | target | met |');
    lines.push('|---|---|---|---|');
  }
  for (const r of rows) {
    const met = r.met === null || r.met === undefined ? '' : r.met ? 'yes' : 'no';
    lines.push(
      withBase
        ? `| ${esc(r.measure)} | ${esc(r.native)} | ${esc(r.raftq)} | ${esc(r.ratio)} | ${esc(r.target)} | ${met} |`
        : `| ${esc(r.measure)} | ${esc(r.native)} | ${esc(r.target)} | ${met} |`,
    );
  }
  console.log(lines.join('\n'));
}

async function main() {
  try {
    require(ROOT);
  } catch (e) {
    throw new Error(`the addon does not load (${String(e.message).split('\n')[0]}): run \`npm run build\` first`);
  }
  const base = baselineLib();
  const libs = [{ key: 'native', name: 'raftq-native', lib: ROOT }];
  if (base) libs.push({ key: 'raftq', name: 'raftq 1.0.0', lib: base.lib });
  const res = { native: {}, raftq: base ? {} : null };
  markLoad('start');

  progress('core step rate (cargo bench)');
  res.native.core = await coreRate();

  for (const l of libs) {
    progress(`${l.name}: in-process dispatch rate`);
    res[l.key].dispatch = await inproc('dispatch', l.lib, { ms: 1500, trials: 5 }, 90000);
  }
  for (const [key, timing] of [
    ['cpuDemo', DEMO],
    ['cpuFast', FAST],
  ]) {
    for (const l of libs) res[l.key][key] = [];
    for (let i = 0; i < 3; i++) {
      for (const l of libs) {
        progress(`${l.name}: library CPU and event-loop delay, heartbeat ${timing.heartbeat} ms (${i + 1}/3)`);
        const r = await inproc('cpu', l.lib, { windowMs: 3000, timing }, 60000);
        if (r.error) res[l.key][key] = r;
        else if (Array.isArray(res[l.key][key])) res[l.key][key].push(r);
      }
    }
  }
  for (const l of libs) {
    progress(`${l.name}: scale ${SIZES.join(', ')} nodes × ${SCALE_TRIALS}`);
    const deadlineAt = now() + 120000; // trials stop there (the same monotonic clock in every process)
    res[l.key].scale = await inproc('scale', l.lib, { sizes: SIZES, trials: SCALE_TRIALS, timing: DEMO, timeoutMs: 5000, deadlineAt }, 240000);
  }
  markLoad('after in-process');

  progress('context: one axios POST between two processes, and the README persist agent\'s write');
  res.hop = await inprocLike([path.join(__dirname, 'hop.js'), '300']);

  for (let i = 0; i < libs.length; i++) {
    const l = libs[i];
    const left = DEADLINE - now() - 15000;
    const deadlineAt = now() + left / (libs.length - i);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `raftq-bench-${l.key}-`));
    progress(`${l.name}: 4 Express processes over HTTP (logs in ${dir}; trials stop ${((deadlineAt - now()) / 1000).toFixed(0)} s from now)`);
    try {
      res[l.key].http = await runHttp(l.lib, {
        trials: TRIALS,
        writes: WRITES,
        windowMs: 3000,
        blob: BLOB,
        deadlineAt,
        dir,
        progress: (m) => progress(`${l.name}: ${m}`),
      });
      if (!env.RAFTQ_BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      res[l.key].http = { error: String(e.message || e) };
      progress(`${l.name}: HTTP section failed: ${e.message} (logs kept in ${dir})`);
    }
    markLoad(`after HTTP ${l.name}`);
  }

  progress('issue 8: replicate() -> dataChanged on every follower, confirmLeadership() (bench/leadership.js)');
  res.leadership = await inprocLike([path.join(__dirname, 'leadership.js'), '--json']);

  progress(`issue 7 guard (bench/guard.js${env.RAFTQ_BEFORE ? `, before = ${env.RAFTQ_BEFORE}` : ''})`);
  const guard = require('./guard');
  const guardRows = guard.rows(guard.measure());
  res.guard = guardRows;

  const m = meta(base);
  const rows = buildRows(res.native, res.raftq, res.hop);
  printTable(m, rows, Boolean(base));
  console.log(`\nThe Rust class against an earlier checkout (bench/guard.js; RAFTQ_BEFORE=<dir> sets the before column):\n`);
  console.log(guard.table(guardRows));
  const L = res.leadership;
  const fmt = (x) => (x && typeof x.p50 === 'number' ? `median ${x.p50.toFixed(3)} ms, p90 ${x.p90.toFixed(3)} ms` : 'n/a');
  console.log(`\nLeadership and versions (bench/leadership.js, in memory, 4 nodes):\n`);
  if (L.error) console.log(`(failed: ${L.error})`);
  else {
    console.log('| measure | raftq-native |\n|---|---|');
    console.log(`| replicate() -> dataChanged on every follower | ${fmt(L.toFollowers)} |`);
    console.log(`| replicate() -> resolved { term, index } on the leader | ${fmt(L.toCommit)} |`);
    console.log(`| confirmLeadership() -> true | ${fmt(L.confirm)} |`);
    console.log(`| read() -> { data, term, index } (issue 15) | ${fmt(L.read)} |`);
    console.log(`| read({ lease: true }) | ${fmt(L.leaseRead)} |`);
    if (L.http && !L.http.error) {
      console.log(`| read() over HTTP (GET /read on the leader, 3 processes, heartbeat 50 ms) | ${fmt(L.http.read)} |`);
      console.log(`| read({ lease: true }) over HTTP | ${fmt(L.http.leaseRead)} |`);
    } else console.log(`| read() over HTTP | n/a${L.http ? ` (${L.http.error})` : ''} |`);
  }
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const doc = { meta: { ...m, seconds: (now() - T0) / 1000, load: loads }, rows, results: res };
  const text = `${JSON.stringify(doc, (k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v), 1)}\n`;
  fs.writeFileSync(path.join(dir, 'latest.json'), text);
  fs.writeFileSync(path.join(dir, `bench-${m.date.replace(/[:.]/g, '-')}.json`), text);
  progress(`JSON written to bench/results/latest.json`);
}

main()
  .then(() => {
    killAll();
    process.exit(0);
  })
  .catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    killAll();
    process.exit(1);
  });
