'use strict';
// The over-the-wire half of `npm run bench`: four copies of bench/demo-node.js (the raftq
// README's Express demo, one library path swapped) on 127.0.0.1, driven over their IPC
// channels. Measures, for one library:
//   - wire bytes/s, CPU per process and request-body sizes at steady state (heartbeat-only, then
//     with a 100 KB value);
//   - replication latency: `replicateData` on the leader -> every follower's getData() has it;
//   - failover after SIGINT (the README's crash handler) and after SIGKILL of the leader, with
//     the moments two live processes claim LEADER at once.
// Every child is forked here, tracked in CHILDREN and SIGKILLed by killAll() (run.js calls it on
// every exit path); a child also runs the README's crash handler if the parent goes away.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { fork } = require('node:child_process');
const { now, delay, poll } = require('./stats');

const SCRIPT = path.join(__dirname, 'demo-node.js');
const CHILDREN = new Set();

function killAll() {
  for (const c of CHILDREN) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      await new Promise((res, rej) => {
        srv.once('error', rej);
        srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, res);
      });
      servers.push(srv);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

class Cluster {
  constructor(lib, dir) {
    this.lib = lib;
    this.dir = dir;
    this.procs = new Map(); // port -> current process record
    this.records = []; // every process ever started: { pid, port, bornAt, diedAt, roles: [{role, at}] }
    this.leaderLogs = []; // { pid, port, at } of `node become LEADER`
    this.seen = new Map(); // pid -> Map(seq -> at) from `data` events
    this.nextId = 1;
    this.seq = 0;
  }

  async start() {
    this.ports = (await freePorts(4)).map(String);
    // the README's join: each node acks the ones already running, so start them one by one
    for (const port of this.ports) {
      const p = this.spawn(port);
      if (!(await this.started(p, 15000))) throw new Error(`node ${port} did not start (see ${this.logPath(port)})`);
    }
  }

  logPath(port) {
    return path.join(this.dir, `${port}.log`);
  }

  spawn(port) {
    const fd = fs.openSync(this.logPath(port), 'a');
    const child = fork(SCRIPT, [], {
      env: { ...process.env, RAFTQ_BENCH_LIB: this.lib, RAFTQ_PORT: port, RAFTQ_PORTS: this.ports.join(','), RAFTQ_DIR: this.dir },
      stdio: ['ignore', fd, fd, 'ipc'],
      execArgv: [],
    });
    fs.closeSync(fd);
    CHILDREN.add(child);
    const rec = { pid: child.pid, port, child, bornAt: now(), diedAt: null, roles: [], startedAt: null, pending: new Map() };
    rec.exited = new Promise((resolve) =>
      child.on('exit', () => {
        CHILDREN.delete(child);
        if (rec.diedAt === null) rec.diedAt = now();
        for (const r of rec.pending.values()) r(null);
        rec.pending.clear();
        resolve();
      }),
    );
    child.on('error', () => {});
    child.on('message', (m) => this.onMessage(rec, m));
    this.procs.set(port, rec);
    this.records.push(rec);
    this.seen.set(rec.pid, new Map());
    return rec;
  }

  onMessage(rec, m) {
    if (!m || typeof m !== 'object') return;
    if (m.id !== undefined) {
      const r = rec.pending.get(m.id);
      if (r) {
        rec.pending.delete(m.id);
        r(m);
      }
      return;
    }
    switch (m.ev) {
      case 'started':
        rec.startedAt = m.at;
        break;
      case 'role':
        rec.roles.push({ role: m.role, at: m.at });
        break;
      case 'log':
        if (/LEADER/.test(m.message)) this.leaderLogs.push({ pid: rec.pid, port: rec.port, at: m.at });
        break;
      case 'data':
        if (m.seq !== undefined) this.seen.get(rec.pid).set(m.seq, m.at);
        break;
      default:
        break;
    }
  }

  started(rec, timeoutMs) {
    return poll(() => rec.startedAt !== null || rec.diedAt !== null, timeoutMs, 10).then(() => rec.startedAt !== null);
  }

  live() {
    return [...this.procs.values()].filter((r) => r.diedAt === null);
  }

  /** Send a command over IPC; the reply, or null after `timeoutMs` or if the process is gone. */
  request(rec, cmd, extra = {}, timeoutMs = 3000) {
    if (rec.diedAt !== null || !rec.child.connected) return Promise.resolve(null);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        rec.pending.delete(id);
        resolve(null);
      }, timeoutMs);
      rec.pending.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      try {
        rec.child.send({ id, cmd, ...extra });
      } catch {
        clearTimeout(timer);
        rec.pending.delete(id);
        resolve(null);
      }
    });
  }

  /**
   * Wait until all four processes run, exactly one is LEADER, the other three name it, and all
   * four show the same data seq, on 3 polls in a row spanning at least 200 ms. Its port, or null.
   */
  async stable(timeoutMs = 15000) {
    let streak = 0;
    let since = 0;
    return poll(
      async () => {
        const live = this.live();
        const states = live.length === 4 ? await Promise.all(live.map((r) => this.request(r, 'state'))) : [];
        const li = states.findIndex((s) => s && s.role === 3);
        const lport = li >= 0 ? live[li].port : null;
        const ok =
          states.length === 4 &&
          states.every(Boolean) &&
          live.every((r) => r.startedAt !== null) &&
          states.filter((s) => s.role === 3).length === 1 &&
          states.every((s, i) => i === li || (s.role === 2 && s.leader === lport)) &&
          states.every((s) => s.seq === states[0].seq);
        if (!ok) {
          streak = 0;
          return null;
        }
        if (streak++ === 0) since = now();
        return streak >= 3 && now() - since >= 200 ? lport : null;
      },
      timeoutMs,
      50,
    );
  }

  /** Totals of every live process (CPU, socket bytes, request bodies per action). */
  async stats() {
    const live = this.live();
    const s = await Promise.all(live.map((r) => this.request(r, 'stats')));
    return live.map((r, i) => ({ port: r.port, pid: r.pid, s: s[i] }));
  }

  /**
   * Steady state over `ms`: wire bytes/s (request + response bytes through every server socket:
   * HTTP headers and bodies, not TCP/IP headers), CPU per process (% of one core), request-body
   * bytes per action. `leader` is the leader's port before the window; checked after it.
   */
  async window(ms, leader) {
    const a = await this.stats();
    await delay(ms);
    const b = await this.stats();
    const after = await this.stable(2000);
    const procs = [];
    let bytes = 0;
    const actions = {};
    for (const x of a) {
      const y = b.find((e) => e.pid === x.pid);
      if (!x.s || !y || !y.s) continue;
      const wall = y.s.at - x.s.at;
      const cpu = (y.s.cpu.user - x.s.cpu.user + y.s.cpu.system - x.s.cpu.system) / 1000;
      bytes += y.s.bytesIn - x.s.bytesIn + (y.s.bytesOut - x.s.bytesOut);
      procs.push({ port: x.port, leader: x.port === leader, cpuPct: (cpu / wall) * 100, wallMs: wall });
      for (const [k, v] of Object.entries(y.s.actions)) {
        const v0 = x.s.actions[k] || { n: 0, bytes: 0 };
        const t = actions[k] || (actions[k] = { n: 0, bytes: 0 });
        t.n += v.n - v0.n;
        t.bytes += v.bytes - v0.bytes;
      }
    }
    const wallMs = procs.length ? procs.reduce((s, p) => s + p.wallMs, 0) / procs.length : ms;
    return {
      ms: wallMs,
      processes: procs.length,
      bytesPerSec: (bytes / wallMs) * 1000,
      cpuPerProcessPct: procs.length ? procs.reduce((s, p) => s + p.cpuPct, 0) / procs.length : null,
      cpuLeaderPct: (procs.find((p) => p.leader) || {}).cpuPct ?? null,
      actions,
      sameLeaderAfter: after === leader,
    };
  }

  /** Replicate `{ seq }` (plus a `blob` of that many bytes) on the leader; time until every follower shows it. */
  async write(leader, blob = 0, timeoutMs = 3000) {
    const rec = this.procs.get(leader);
    const seq = ++this.seq;
    const r = await this.request(rec, 'write', { seq, blob });
    if (!r) return { seq, ms: null };
    const followers = this.live().filter((x) => x.port !== leader);
    const done = await poll(() => followers.every((f) => this.seen.get(f.pid).has(seq)), timeoutMs, 1);
    if (!done) return { seq, ms: null };
    return { seq, ms: Math.max(...followers.map((f) => this.seen.get(f.pid).get(seq))) - r.at };
  }

  async replication(n, deadlineAt) {
    const lat = [];
    let lost = 0;
    let leader = await this.stable();
    for (let i = 0; i < n && leader && now() < deadlineAt; i++) {
      const w = await this.write(leader);
      if (w.ms === null) {
        lost++;
        leader = await this.stable();
      } else {
        lat.push(w.ms);
      }
      await delay(Math.random() * 100); // a uniform phase against the 100 ms heartbeat
    }
    return { samples: lat, lost };
  }

  /** LEADER intervals [start, end) of every process ever started. */
  leaderIntervals() {
    const out = [];
    for (const rec of this.records) {
      let start = null;
      for (const e of rec.roles) {
        if (e.role === 3 && start === null) start = e.at;
        else if (e.role !== 3 && start !== null) {
          out.push({ pid: rec.pid, port: rec.port, start, end: e.at });
          start = null;
        }
      }
      if (start !== null) out.push({ pid: rec.pid, port: rec.port, start, end: rec.diedAt ?? Infinity });
    }
    return out;
  }

  /** Moments in [t0, t1] when two live processes claimed LEADER at once: count and total ms. */
  twoLeaders(t0, t1) {
    const iv = this.leaderIntervals();
    let count = 0;
    let ms = 0;
    const moments = []; // when (ms after t0), how long, which ports
    for (let i = 0; i < iv.length; i++) {
      for (let j = i + 1; j < iv.length; j++) {
        if (iv[i].pid === iv[j].pid) continue;
        const s = Math.max(iv[i].start, iv[j].start, t0);
        const e = Math.min(iv[i].end, iv[j].end, t1);
        if (e > s) {
          count++;
          ms += e - s;
          moments.push({ afterMs: s - t0, ms: e - s, ports: [iv[i].port, iv[j].port] });
        }
      }
    }
    return { count, ms, moments };
  }

  /**
   * One failover: stop the leader with `signal`, time until another process logs
   * `node become LEADER`, restart the stopped node (same port, same persist file) and wait
   * until the cluster is stable again.
   */
  async failover(signal) {
    const leader = await this.stable();
    if (!leader) return { error: 'no stable leader before the trial' };
    const old = this.procs.get(leader);
    const t0 = now();
    old.child.kill(signal);
    if (signal === 'SIGKILL') old.diedAt = t0;
    const ev = await poll(() => this.leaderLogs.find((e) => e.at > t0 && e.pid !== old.pid), 5000, 2);
    const exited = await Promise.race([old.exited.then(() => true), delay(3000).then(() => false)]);
    if (!exited) {
      old.child.kill('SIGKILL');
      await Promise.race([old.exited, delay(3000)]);
    }
    const rec = this.spawn(leader);
    const restarted = await this.started(rec, 15000);
    const stableAgain = restarted ? await this.stable() : null;
    const t1 = now();
    return {
      ms: ev ? ev.at - t0 : null,
      newLeader: ev ? ev.port : null,
      exitMs: old.diedAt !== null ? old.diedAt - t0 : null,
      twoLeaders: this.twoLeaders(t0, t1),
      stableAgain: stableAgain !== null,
    };
  }

  async close() {
    const live = [...this.procs.values()].filter((r) => r.diedAt === null);
    for (const r of live) r.child.kill('SIGKILL');
    await Promise.race([Promise.all(live.map((r) => r.exited)), delay(5000)]);
  }
}

/**
 * Everything over HTTP for one library. `opts`: trials (failover, per kind), writes,
 * windowMs, blob (bytes of the big value), deadlineAt (monotonic ms: trials stop there),
 * dir (a fresh folder for persist files and the four logs), progress (a logger).
 */
async function runHttp(lib, opts) {
  const { trials, writes, windowMs, blob, deadlineAt, dir, progress } = opts;
  const c = new Cluster(lib, dir);
  const out = { loadavg: [require('node:os').loadavg()[0]] };
  try {
    await c.start();
    let leader = await c.stable();
    if (!leader) throw new Error(`no stable leader after start (logs in ${dir})`);
    progress(`cluster up, leader ${leader}; steady state, heartbeat only`);
    await delay(500);
    out.heartbeatOnly = await c.window(windowMs, leader);

    progress(`replication latency, ${writes} writes`);
    out.replication = await c.replication(writes, deadlineAt);

    leader = await c.stable();
    progress(`steady state with a ${blob}-byte value`);
    const big = leader ? await c.write(leader, blob, 5000) : { ms: null };
    if (big.ms !== null) {
      await delay(500);
      out.bigValue = await c.window(windowMs, leader);
      out.bigValue.firstReplicationMs = big.ms;
    } else {
      out.bigValue = { error: 'the big value did not reach every follower within 5 s' };
    }
    leader = await c.stable();
    if (leader) await c.write(leader, 0, 5000); // back to a small value for the failovers

    for (const signal of ['SIGINT', 'SIGKILL']) {
      const rows = [];
      for (let i = 0; i < trials && now() < deadlineAt; i++) {
        const r = await c.failover(signal);
        rows.push(r);
        if (r.error || !r.stableAgain) {
          progress(`${signal} trial ${i + 1}: ${r.error || 'not stable again within 15 s'}; continuing`);
          if (!(await c.stable())) break;
        }
      }
      progress(`${signal}: ${rows.length} trials, median ${medianOf(rows)} ms`);
      out[signal === 'SIGINT' ? 'graceful' : 'hard'] = rows;
    }
  } finally {
    out.loadavg.push(require('node:os').loadavg()[0]);
    await c.close();
  }
  return out;
}

function medianOf(rows) {
  const xs = rows.map((r) => r.ms).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return xs.length ? xs[Math.floor((xs.length - 1) / 2)].toFixed(1) : 'n/a';
}

module.exports = { runHttp, killAll, CHILDREN };
