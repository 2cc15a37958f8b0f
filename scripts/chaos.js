#!/usr/bin/env node
'use strict';
// Multi-process chaos run: 5 raftq-native nodes (__test__/fixtures/chaos-node.js), each an
// Express transport on 127.0.0.1 persisting to its own file, under a seeded random schedule of
// SIGKILLs and restarts from the file, partitions, dropped and delayed messages and heals, while
// a writer does read-modify-write on whoever leads. Checks:
//   (1) one leader per term, from every incarnation's ROLE lines; and a restarted node never
//       comes back with a term below one it led in (its term must have been on disk);
//   (2) every write acknowledged with ok=true is in every node's data, in acknowledgement order,
//       and no write id appears twice;
//   (3) after healing everything, restarting the dead and acking every node on every node
//       again, the cluster converges within a bound: one leader named by all, one term, the same
//       data, commit version and committed configuration (all nodes) on all nodes;
//   (4) with --history FILE, a reader does `read()` on whoever leads beside the writer, and
//       every write and read goes to FILE as JSON lines (op write/read, value: the write id,
//       invoke and complete times in ms, indeterminate for writes whose outcome is unknown),
//       which `cargo test -p raftq-lincheck` checks for linearizability (RAFTQ_LINCHECK_HISTORY
//       names the file; `npm test` does both). --reads lease|dirty reads with `read({ lease })`
//       or the old recipe confirmLeadership() + getData() (the check should catch the latter).
// Besides kills, power cuts, partitions and message faults, the schedule changes membership the
// way raftq apps do: ackNode with time 0 for a node (the leader too) reaching only some nodes,
// re-added later; sometimes one node replaced by another at once.
// The run is cut into rounds (default 30 s of chaos each); (2) and (3) are checked after every
// round, (1) after every round and at the end.
//
//   node scripts/chaos.js [--seconds 600] [--seed N] [--round-seconds 30] [--converge-ms 15000]
//                         [--heartbeat 50] [--min-election 200] [--max-election 400]
//                         [--unsafe-persist early|never] [--keep] [--verbose]
//                         [--history FILE] [--reads read|lease|dirty]
//   environment alternatives: RAFTQ_CHAOS_SECONDS, RAFTQ_CHAOS_SEED, RAFTQ_CHAOS_UNSAFE_PERSIST
//
// The same --seed and --seconds replay the same schedule (the processes' timing, and so which
// node leads when a "kill the leader" event fires, still varies). --unsafe-persist starts the
// nodes with a persist agent that acknowledges before writing (a demonstration that the checks
// catch it; never the default). Exit code 0 when every check passed, 1 otherwise.

const path = require('node:path');
const fs = require('node:fs');
const { waitFor, withTimeout, delay, freePorts, tempDir, spawnLogged, killAll, ROOT } = require('../__test__/_helpers');

const FIXTURE = path.join(ROOT, '__test__', 'fixtures', 'chaos-node.js');

// every child still running, killed synchronously if this process exits in any way it can
// catch (a SIGKILL of this process closes the children's stdin, and they exit by themselves)
const running = new Set();
const unfinishedDirs = new Set(); // temp dirs of runs cut short (removed at exit unless --keep)
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
  for (const d of unfinishedDirs) fs.rmSync(d, { recursive: true, force: true });
});

const DEFAULTS = {
  seconds: 25,
  roundSeconds: 30,
  seed: undefined,
  nodes: 5,
  heartbeat: 50,
  minElection: 200,
  maxElection: 400,
  convergeMs: 15000,
  startMs: 20000,
  maxDead: 2,
  writeGapMs: 10,
  unsafePersist: '',
  history: '',
  reads: 'read',
  readGapMs: 10,
  keep: false,
  verbose: false,
  log: (line) => console.log(line),
};

/** mulberry32: a small seeded PRNG, uniform in [0, 1) */
function makeRng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  next.shuffle = (arr) => {
    const a = arr.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
  return next;
}

/**
 * The events of one round, from the seeded RNG only (so a seed replays the schedule). Times are
 * ms from the round's start; nodes are indexes 0..n-1. Follow-ups (restart after a kill, end of
 * a partition or of a fault window) carry their own durations.
 */
function makeSchedule(rng, roundMs, n) {
  const events = [];
  let at = rng.int(300, 1200);
  const idx = [...Array(n).keys()];
  while (at < roundMs - 800) {
    const r = rng();
    if (r < 0.27) {
      events.push({ at, type: 'kill', target: rng() < 0.5 ? 'leader' : rng.int(0, n - 1), downMs: rng.int(800, 5000) });
    } else if (r < 0.33) {
      // a power cut: a majority or the whole cluster at once (beyond the one-at-a-time limit)
      const count = rng() < 0.5 ? Math.floor(n / 2) + 1 : n;
      events.push({ at, type: 'crash', nodes: rng.shuffle(idx).slice(0, count), downMs: rng.int(300, 3000) });
    } else if (r < 0.55) {
      const order = rng.shuffle(idx);
      const shape = rng();
      const cuts = shape < 0.5 ? [2] : shape < 0.8 ? [1] : [2, 4];
      const groups = [];
      let from = 0;
      for (const c of [...cuts, n]) {
        groups.push(order.slice(from, c));
        from = c;
      }
      // half of them put whoever leads at that moment into the smallest group
      events.push({ at, type: 'partition', groups, leaderAlone: rng() < 0.5, durationMs: rng.int(1000, 5000) });
    } else if (r < 0.75) {
      const nodes = rng() < 0.4 ? idx : rng.shuffle(idx).slice(0, rng.int(1, 3));
      // one window in four is slow enough (up to 2 x 300 ms) to cost elections
      const delayMax = rng() < 0.25 ? rng.int(100, 300) : rng.int(0, 120);
      events.push({
        at,
        type: 'faults',
        nodes,
        drop: Math.round(rng() * 30) / 100,
        delayMin: rng.int(0, Math.floor(delayMax / 2)),
        delayMax,
        durationMs: rng.int(1500, 6000),
      });
    } else if (r < 0.92) {
      events.push(memberEvent(rng, at, n));
    } else {
      events.push({ at, type: 'heal' });
    }
    at += rng.int(500, 2500);
  }
  if (events.length > 1 && !events.some((e) => e.type === 'crash')) {
    // every round has a power cut: the strongest test of what is on disk
    const k = rng.int(1, events.length - 1);
    events[k] = { at: events[k].at, type: 'crash', nodes: rng.shuffle(idx).slice(0, rng() < 0.5 ? Math.floor(n / 2) + 1 : n), downMs: rng.int(300, 3000) };
  }
  if (events.length > 2 && !events.some((e) => e.type === 'member')) {
    // and a membership change
    const k = events.findIndex((e, j) => j > 0 && e.type !== 'crash');
    if (k > 0) events[k] = memberEvent(rng, events[k].at, n);
  }
  return events;
}

/** ackNode with time 0 for one node (often the leader), reaching a share of the nodes. */
function memberEvent(rng, at, n) {
  return {
    at,
    type: 'member',
    target: rng() < 0.3 ? 'leader' : rng.int(0, n - 1),
    share: 0.3 + rng() * 0.7, // the share of the nodes its app's ackNode reaches
    replace: rng() < 0.3, // and re-add one removed earlier, at once
    readdMs: rng.int(800, 6000),
  };
}

function describeEvent(e, ids) {
  switch (e.type) {
    case 'kill':
      return `kill ${e.target === 'leader' ? 'the leader' : ids[e.target]} for ${e.downMs} ms`;
    case 'crash':
      return `SIGKILL ${e.nodes.map((i) => ids[i]).join(',')} at once (power cut), restart in ${e.downMs} ms`;
    case 'partition':
      return `partition ${e.groups.map((g) => `{${g.map((i) => ids[i]).join(',')}}`).join(' | ')}${e.leaderAlone ? ' (leader in the smallest)' : ''} for ${e.durationMs} ms`;
    case 'member':
      return `membership: remove ${e.target === 'leader' ? 'the leader' : ids[e.target]} on ${Math.round(e.share * 100)} % of the nodes${e.replace ? ', re-add another' : ''}, re-add in ${e.readdMs} ms`;
    case 'faults':
      return `faults on ${e.nodes.map((i) => ids[i]).join(',')}: drop ${e.drop}, delay ${e.delayMin}-${e.delayMax} ms for ${e.durationMs} ms`;
    default:
      return e.type;
  }
}

/** expand `{ writes: [[lo, hi], ...] }` into the list of write ids, in order */
function writesOf(data) {
  const out = [];
  if (!data || !Array.isArray(data.writes)) return out;
  for (const run of data.writes) {
    if (!Array.isArray(run) || !Number.isSafeInteger(run[0]) || !Number.isSafeInteger(run[1]) || run[1] < run[0] || run[1] - run[0] > 1e7) {
      out.push(NaN); // malformed: makes the checks fail loudly
      continue;
    }
    for (let w = run[0]; w <= run[1]; w++) out.push(w);
  }
  return out;
}

async function request(port, method, route, body, timeoutMs) {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { code: res.status, body: json };
}

const refused = (err) => {
  const c = err && (err.code || (err.cause && err.cause.code));
  return c === 'ECONNREFUSED';
};

/** Parse the ROLE/STARTED lines of every incarnation of every node. */
function checkElections(nodes) {
  const byTerm = new Map(); // term -> Set of ids
  const violations = [];
  let unsure = 0;
  let maxTerm = 0;
  for (const node of nodes) {
    let ledUpTo = 0; // highest term this node led in, over its previous incarnations
    node.incarnations.forEach((proc, k) => {
      for (const { text } of proc.lines) {
        let m = /^STARTED (\S+) (\d+) /.exec(text);
        if (m) {
          const term = Number(m[2]);
          if (k > 0 && term < ledUpTo) {
            violations.push(`node ${node.id} restarted (incarnation ${k}) with term ${term}, but it had led in term ${ledUpTo}: its term was not on disk`);
          }
          continue;
        }
        m = /^ROLE (\S+) (\d+) (LEADER|FOLLOWER|CANDIDATE)( \?)?$/.exec(text);
        if (!m) continue;
        const term = Number(m[2]);
        maxTerm = Math.max(maxTerm, term);
        if (m[3] !== 'LEADER') continue;
        if (m[4]) {
          unsure++;
          continue;
        }
        ledUpTo = Math.max(ledUpTo, term);
        if (!byTerm.has(term)) byTerm.set(term, new Set());
        byTerm.get(term).add(m[1]);
      }
    });
  }
  for (const [term, ids] of [...byTerm.entries()].sort((a, b) => a[0] - b[0])) {
    if (ids.size > 1) violations.push(`two leaders in term ${term}: ${[...ids].join(' and ')}`);
  }
  return { violations, leaderTerms: byTerm.size, maxTerm, unsure };
}

/**
 * Run the chaos schedule against a fresh 5-process cluster. Resolves with
 * `{ ok, seed, violations, summary, dir }`; every child process is killed before it resolves or
 * rejects.
 */
async function runChaos(options = {}) {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (!['', 'early', 'never'].includes(o.unsafePersist || '')) throw new TypeError('unsafePersist must be early or never');
  const seed = o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(o.seed) >>> 0;
  const rng = makeRng(seed);
  const t0 = Date.now();
  const stamp = () => `${((Date.now() - t0) / 1000).toFixed(2).padStart(7)}s`;
  const log = (line) => o.log(`[chaos ${stamp()}] ${line}`);
  const vlog = (line) => {
    if (o.verbose) log(line);
  };
  const totalMs = Math.max(1000, Math.round(o.seconds * 1000));
  const roundMs = Math.min(totalMs, Math.max(5000, Math.round(o.roundSeconds * 1000)));
  const rounds = Math.max(1, Math.round(totalMs / roundMs));
  log(`seed ${seed} (replay: node scripts/chaos.js --seed ${seed} --seconds ${o.seconds}${o.roundSeconds !== DEFAULTS.roundSeconds ? ` --round-seconds ${o.roundSeconds}` : ''}), ${rounds} round(s) of ${roundMs} ms, ${o.nodes} nodes${o.unsafePersist ? `, UNSAFE persist agent: ${o.unsafePersist}` : ''}`);

  const ports = await freePorts(o.nodes);
  const ids = ports.map(String);
  const dir = tempDir('raftq-chaos-');
  if (!o.keep) unfinishedDirs.add(dir);
  const violations = [];
  const stats = {
    kills: 0,
    leaderKills: 0,
    crashes: 0,
    restarts: 0,
    partitions: 0,
    faultWindows: 0,
    heals: 0,
    removals: 0,
    readds: 0,
    replacements: 0,
    skipped: 0,
    acked: 0,
    failed: 0,
    unknown: 0,
    redirects: 0,
    convergeMs: [],
  };
  const acked = []; // write ids acknowledged ok=true, in acknowledgement order
  // the history for the linearizability check (--history): one JSON line per operation
  const history = [];
  const clock = () => performance.timeOrigin + performance.now();
  const reads = { ok: 0, failed: 0 };
  const allProcs = [];
  const nodes = ids.map((id, i) => ({
    i,
    id,
    port: ports[i],
    proc: null,
    state: 'down', // 'starting' | 'up' | 'down'
    incarnations: [],
    faults: { drop: 0, delayMin: 0, delayMax: 0 },
    faultGen: 0,
  }));
  let partition = null; // array of groups of indexes, or null
  let partitionGen = 0;

  const blockedFor = (i) => {
    if (!partition) return [];
    const mine = partition.find((g) => g.includes(i)) || [i];
    return nodes.filter((n) => !mine.includes(n.i)).map((n) => n.id);
  };
  const configFor = (i) => ({ ...nodes[i].faults, blocked: blockedFor(i) });

  async function pushConfig(i) {
    const n = nodes[i];
    if (n.state !== 'up') return true; // a starting node gets it when it is up
    try {
      const r = await request(n.port, 'POST', '/faults', configFor(i), 1000);
      return r.code === 200;
    } catch {
      return false;
    }
  }
  const pushAll = () => Promise.all(nodes.map((n) => pushConfig(n.i)));
  /** No partition, no drops or delays anywhere (pending follow-ups of older windows void). */
  function healAll() {
    partition = null;
    partitionGen++;
    for (const n of nodes) {
      n.faults = { drop: 0, delayMin: 0, delayMax: 0 };
      n.faultGen++;
    }
    return pushAll();
  }

  /**
   * Spawn node i from its file; resolves once it printed STARTED (throws otherwise). While the
   * node was down, its port may have been taken as the local port of some outgoing connection
   * on this machine: a listen failure is retried a few times (bounded), nothing else is.
   */
  async function spawnNode(i) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await spawnOnce(i);
      } catch (err) {
        if (!err.cannotListen || attempt >= 5) throw err;
        log(`node ${nodes[i].id}: port busy, retrying the start (${attempt})`);
        await delay(500);
      }
    }
  }

  async function spawnOnce(i) {
    const n = nodes[i];
    const proc = spawnLogged(process.execPath, [FIXTURE], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'], // stdin: the node exits when we are gone
      env: {
        ...process.env,
        CHAOS_ID: n.id,
        CHAOS_PEERS: ids.join(','),
        CHAOS_DIR: dir,
        CHAOS_HEARTBEAT: String(o.heartbeat),
        CHAOS_MIN_ELECTION: String(o.minElection),
        CHAOS_MAX_ELECTION: String(o.maxElection),
        CHAOS_SEED: String((seed + i * 7919 + n.incarnations.length * 104729) >>> 0),
        CHAOS_FAULTS: JSON.stringify(configFor(i)),
        CHAOS_MAX_LIFETIME_MS: String(totalMs + 10 * 60 * 1000),
        CHAOS_UNSAFE_PERSIST: o.unsafePersist || '',
      },
    });
    proc.killedByUs = false;
    allProcs.push(proc);
    running.add(proc);
    proc.exited.then(() => running.delete(proc));
    n.incarnations.push(proc);
    n.proc = proc;
    n.state = 'starting';
    try {
      await proc.waitForLine(/^STARTED /, o.startMs);
    } catch (err) {
      if (proc.killedByUs) return false;
      n.state = 'down';
      proc.kill('SIGKILL');
      const e = new Error(`node ${n.id} did not start (incarnation ${n.incarnations.length - 1}): ${err.message}\n${proc.output().split('\n').slice(-15).join('\n')}`);
      e.cannotListen = proc.lines.some((l) => /cannot listen/.test(l.text));
      throw e;
    }
    if (proc.killedByUs) return false;
    n.state = 'up';
    await pushConfig(i); // the faults may have changed while it started
    return true;
  }

  async function killNode(i) {
    const n = nodes[i];
    const proc = n.proc;
    n.state = 'down';
    proc.killedByUs = true;
    proc.kill('SIGKILL');
    await withTimeout(proc.exited, 5000);
  }

  async function statusOf(i, timeoutMs = 1000) {
    const r = await request(nodes[i].port, 'GET', '/status', undefined, timeoutMs);
    if (r.code !== 200 || !r.body) throw new Error(`status ${r.code} from ${nodes[i].id}`);
    return r.body;
  }

  async function currentLeader() {
    const sts = await Promise.all(nodes.map((n) => (n.state === 'up' ? statusOf(n.i, 800).catch(() => null) : null)));
    let best = -1;
    sts.forEach((s, i) => {
      if (s && s.role === 3 && (best < 0 || s.term > sts[best].term)) best = i;
    });
    return best;
  }

  // ---- the writer: sequential read-modify-write on whoever leads ----
  const writer = { stop: false, paused: false, idle: Promise.resolve(), done: null };
  async function writeLoop() {
    let wid = 1;
    let target = -1;
    while (!writer.stop) {
      if (writer.paused) {
        await delay(20);
        continue;
      }
      const up = nodes.filter((n) => n.state === 'up').map((n) => n.i);
      if (up.length === 0) {
        await delay(50);
        continue;
      }
      const i = up.includes(target) ? target : up[Math.floor(Math.random() * up.length)];
      let finish;
      writer.idle = new Promise((r) => (finish = r));
      const invoke = clock();
      // the outcome unknown: it may have committed, now or later
      const indeterminate = () => history.push({ op: 'write', value: wid, invoke, complete: null, indeterminate: true });
      try {
        const r = await request(nodes[i].port, 'POST', '/rmw', { wid }, o.maxElection + 3000);
        if (r.code === 409 && r.body && r.body.notLeader) {
          // refused before any proposal: no operation
          stats.redirects++;
          const hint = ids.indexOf(String(r.body.leader));
          target = hint >= 0 && hint !== i ? hint : -1;
          if (target < 0) await delay(30); // no leader known yet
        } else if (r.code === 200 && r.body && r.body.ok === true) {
          history.push({ op: 'write', value: wid, invoke, complete: clock() });
          acked.push(wid++);
          stats.acked++;
          target = i;
        } else {
          // replicate() rejected (timed out, superseded): it may still be committed
          indeterminate();
          stats.failed++;
          wid++;
          target = -1;
          await delay(30);
        }
      } catch (err) {
        if (!refused(err)) {
          indeterminate();
          stats.unknown++; // timed out or cut: it may or may not have been proposed
          wid++;
        }
        target = -1;
        await delay(30);
      } finally {
        finish();
      }
      if (o.writeGapMs > 0) await delay(o.writeGapMs);
    }
  }
  // ---- the reader (--history): read() on whoever leads, beside the writer ----
  const reader = { stop: false, done: null };
  async function readLoop() {
    let target = -1;
    const query = o.reads === 'lease' ? '?lease=1' : o.reads === 'dirty' ? '?dirty=1' : '';
    while (!reader.stop) {
      const up = nodes.filter((n) => n.state === 'up').map((n) => n.i);
      if (up.length === 0) {
        await delay(50);
        continue;
      }
      const i = up.includes(target) ? target : up[Math.floor(Math.random() * up.length)];
      const invoke = clock();
      try {
        const r = await request(nodes[i].port, 'GET', `/read${query}`, undefined, o.maxElection + 3000);
        if (r.code === 200 && r.body && r.body.ok === true && Number.isSafeInteger(r.body.last)) {
          history.push({ op: 'read', value: r.body.last, invoke, complete: clock() });
          reads.ok++;
          target = i;
        } else {
          // a failed read has no effect: not in the history
          reads.failed++;
          const hint = r.body && r.body.notLeader ? ids.indexOf(String(r.body.leader)) : -1;
          target = hint >= 0 && hint !== i ? hint : -1;
          if (target < 0) await delay(30);
        }
      } catch {
        reads.failed++;
        target = -1;
        await delay(30);
      }
      if (o.readGapMs > 0) await delay(o.readGapMs);
    }
  }

  async function pauseWriter() {
    writer.paused = true;
    await withTimeout(writer.idle, o.maxElection + 5000);
  }

  /** all nodes up, one leader named by all in one term, the same data and commit everywhere */
  const removed = new Set(); // indexes whose removal was asked and not yet undone
  /** The app's ackNode for node `x` on node `i` (false when it is not up or did not answer). */
  async function tell(i, x, keep) {
    if (nodes[i].state !== 'up') return false;
    try {
      return (await request(nodes[i].port, 'POST', '/member', { id: ids[x], keep }, 1000)).code === 200;
    } catch {
      return false;
    }
  }
  const readd = async (x) => {
    removed.delete(x);
    stats.readds++;
    await Promise.all(nodes.map((n) => tell(n.i, x, true)));
  };
  const sameIds = (list) => Array.isArray(list) && list.length === ids.length && ids.every((id) => list.map(String).includes(id));

  async function converged() {
    if (nodes.some((n) => n.state !== 'up')) return false;
    const sts = await Promise.all(nodes.map((n) => statusOf(n.i)));
    if (!sts.every((s) => s.configuration && sameIds(s.configuration.committed))) return false;
    const leaders = sts.filter((s) => s.role === 3);
    if (leaders.length !== 1) return false;
    const l = leaders[0];
    if (l.version.term !== l.commit.term || l.version.index !== l.commit.index) return false;
    const data = JSON.stringify(l.data);
    for (const s of sts) {
      if (s.leader !== l.id || s.term !== l.term) return false;
      if (s.commit.term !== l.commit.term || s.commit.index !== l.commit.index) return false;
      if (JSON.stringify(s.data) !== data) return false;
    }
    return sts;
  }

  function checkWrites(sts, when) {
    const out = [];
    for (const s of sts) {
      const list = writesOf(s.data);
      const pos = new Map();
      const dups = [];
      list.forEach((w, k) => {
        if (pos.has(w)) dups.push(w);
        pos.set(w, k);
      });
      if (dups.length) out.push(`${when}: node ${s.id} holds write ids twice: ${dups.slice(0, 10).join(',')}`);
      if (list.some((w) => !Number.isSafeInteger(w))) out.push(`${when}: node ${s.id} holds a malformed writes list`);
      const missing = acked.filter((w) => !pos.has(w));
      if (missing.length) {
        out.push(`${when}: node ${s.id} lost ${missing.length} of ${acked.length} acknowledged writes (e.g. ${missing.slice(0, 10).join(',')})`);
      }
      let last = -1;
      let disorder = 0;
      for (const w of acked) {
        const p = pos.get(w);
        if (p === undefined) continue;
        if (p < last) disorder++;
        last = p;
      }
      if (disorder) out.push(`${when}: node ${s.id} holds ${disorder} acknowledged writes out of acknowledgement order`);
    }
    return out;
  }

  const restarts = new Set();
  const sleepers = new Set(); // wake-ups of restarts still waiting, called at the round's end
  function sleep(ms) {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }
  function scheduleRestart(i, afterMs) {
    const p = (async () => {
      await sleep(afterMs);
      if (nodes[i].state !== 'down' || roundOver) return;
      stats.restarts++;
      vlog(`restart ${nodes[i].id}`);
      await spawnNode(i);
    })().catch((err) => violations.push(err.message));
    restarts.add(p);
    p.finally(() => restarts.delete(p));
  }
  let roundOver = false;

  async function run(event, followUps) {
    switch (event.type) {
      case 'kill': {
        let i = event.target;
        if (i === 'leader') {
          i = await currentLeader();
          if (i >= 0) stats.leaderKills++;
        }
        const dead = nodes.filter((n) => n.state !== 'up').length;
        if (i < 0 || nodes[i].state !== 'up' || dead >= o.maxDead) {
          stats.skipped++;
          vlog(`skip: ${describeEvent(event, ids)}`);
          return;
        }
        stats.kills++;
        log(`SIGKILL ${nodes[i].id}${event.target === 'leader' ? ' (leader)' : ''}, restart in ${event.downMs} ms`);
        await killNode(i);
        scheduleRestart(i, event.downMs);
        return;
      }
      case 'crash': {
        const victims = event.nodes.filter((i) => nodes[i].state === 'up');
        if (victims.length === 0) {
          stats.skipped++;
          return;
        }
        stats.crashes++;
        stats.kills += victims.length;
        log(describeEvent({ ...event, nodes: victims }, ids));
        await Promise.all(victims.map((i) => killNode(i)));
        for (const i of victims) scheduleRestart(i, event.downMs);
        return;
      }
      case 'partition': {
        stats.partitions++;
        let groups = event.groups.map((g) => g.slice());
        if (event.leaderAlone) {
          const l = await currentLeader();
          const small = groups.reduce((a, g) => (g.length < a.length ? g : a));
          if (l >= 0 && !small.includes(l)) {
            // swap the leader with the first node of the smallest group
            const from = groups.find((g) => g.includes(l));
            from[from.indexOf(l)] = small[0];
            small[0] = l;
          }
        }
        partition = groups;
        const gen = ++partitionGen;
        log(describeEvent({ ...event, groups }, ids));
        await pushAll();
        followUps.push({
          at: Date.now() + event.durationMs,
          run: async () => {
            if (gen !== partitionGen) return;
            partition = null;
            vlog('partition over');
            await pushAll();
          },
        });
        return;
      }
      case 'faults': {
        stats.faultWindows++;
        log(describeEvent(event, ids));
        const gens = event.nodes.map((i) => {
          nodes[i].faults = { drop: event.drop, delayMin: event.delayMin, delayMax: event.delayMax };
          return ++nodes[i].faultGen;
        });
        await Promise.all(event.nodes.map((i) => pushConfig(i)));
        followUps.push({
          at: Date.now() + event.durationMs,
          run: async () => {
            const clear = event.nodes.filter((i, k) => nodes[i].faultGen === gens[k]);
            for (const i of clear) nodes[i].faults = { drop: 0, delayMin: 0, delayMax: 0 };
            await Promise.all(clear.map((i) => pushConfig(i)));
          },
        });
        return;
      }
      case 'member': {
        let x = event.target;
        if (x === 'leader') x = await currentLeader();
        if (x < 0 || removed.has(x) || removed.size >= 2) {
          stats.skipped++;
          return;
        }
        if (event.replace && removed.size > 0) {
          stats.replacements++;
          await readd([...removed][0]);
        }
        removed.add(x);
        stats.removals++;
        log(describeEvent(event, ids).replace('the leader', `the leader ${ids[x]}`));
        await Promise.all(nodes.map((n) => (rng() < event.share ? tell(n.i, x, false) : false)));
        followUps.push({
          at: Date.now() + event.readdMs,
          run: async () => {
            if (removed.has(x)) await readd(x);
          },
        });
        return;
      }
      default: {
        stats.heals++;
        log('heal partitions and faults');
        await healAll();
      }
    }
  }

  let result;
  try {
    // ---- start: every node acks all 5, then starts ----
    await Promise.all(nodes.map((n) => spawnNode(n.i)));
    await waitFor(async () => (await currentLeader()) >= 0, o.startMs, 'a first leader', 50);
    log(`cluster of ${o.nodes} up on ports ${ids.join(',')}, dir ${dir}`);
    writer.done = writeLoop();
    if (o.history) reader.done = readLoop();

    for (let round = 0; round < rounds && violations.length === 0; round++) {
      const events = makeSchedule(rng, roundMs, o.nodes);
      const start = Date.now();
      roundOver = false;
      writer.paused = false;
      log(`round ${round + 1}/${rounds}: ${events.length} events`);
      const followUps = [];
      let k = 0;
      while (Date.now() - start < roundMs) {
        // due follow-ups first, then the next scheduled event, each awaited (bounded requests)
        followUps.sort((a, b) => a.at - b.at);
        while (followUps.length && followUps[0].at <= Date.now()) await followUps.shift().run();
        if (k < events.length && start + events[k].at <= Date.now()) {
          await run(events[k++], followUps);
          continue;
        }
        const next = Math.min(start + roundMs, k < events.length ? start + events[k].at : Infinity, followUps.length ? followUps[0].at : Infinity);
        await delay(Math.max(1, Math.min(50, next - Date.now())));
      }
      roundOver = true;
      for (const wake of [...sleepers]) wake();

      // ---- heal everything, restart the dead, wait for convergence ----
      await pauseWriter(); // the data must hold still to be compared
      const healAt = Date.now();
      await healAll();
      await withTimeout(Promise.all([...restarts]), o.startMs + 1000);
      const dead = nodes.filter((n) => n.state === 'down');
      stats.restarts += dead.length;
      await Promise.all(dead.map((n) => spawnNode(n.i).catch((err) => violations.push(err.message))));
      await waitFor(async () => (await pushAll()).every(Boolean), 5000, 'every node to take the healed configuration', 50).catch((err) => violations.push(err.message));
      // every app wants every node again
      removed.clear();
      for (const x of nodes.map((n) => n.i)) await Promise.all(nodes.map((n) => tell(n.i, x, true)));
      let sts = null;
      try {
        sts = await waitFor(converged, o.convergeMs, `convergence within ${o.convergeMs} ms after the heal`, 50);
      } catch (err) {
        const now = await Promise.all(nodes.map((n) => statusOf(n.i).catch((e) => ({ id: n.id, error: e.message }))));
        violations.push(`${err.message}\n${now.map((s) => JSON.stringify({ ...s, data: s.data ? `${writesOf(s.data).length} writes` : undefined })).join('\n')}`);
      }
      if (sts) {
        const ms = Date.now() - healAt;
        stats.convergeMs.push(ms);
        violations.push(...checkWrites(sts, `after round ${round + 1}`));
        log(`round ${round + 1}: converged ${ms} ms after the heal: leader ${sts.find((s) => s.role === 3).id}, term ${sts[0].term}, commit ${sts[0].commit.term}.${sts[0].commit.index}, ${writesOf(sts[0].data).length} writes held, ${acked.length} acknowledged`);
      }
      const el = checkElections(nodes);
      violations.push(...el.violations.filter((v) => !violations.includes(v)));
    }
    writer.stop = true;
    reader.stop = true;
    await withTimeout(writer.done, o.maxElection + 5000);
    await withTimeout(reader.done || Promise.resolve(), o.maxElection + 5000);
    if (o.history) {
      fs.mkdirSync(path.dirname(path.resolve(o.history)), { recursive: true });
      fs.writeFileSync(o.history, history.map((h) => JSON.stringify(h)).join('\n') + '\n');
      log(`history: ${history.length} operations (${reads.ok} reads) written to ${o.history}`);
    }

    const el = checkElections(nodes);
    for (const v of el.violations) if (!violations.includes(v)) violations.push(v);
    const summary = {
      seed,
      seconds: o.seconds,
      rounds,
      elapsedMs: Date.now() - t0,
      kills: stats.kills,
      leaderKills: stats.leaderKills,
      crashes: stats.crashes,
      restarts: stats.restarts,
      partitions: stats.partitions,
      faultWindows: stats.faultWindows,
      heals: stats.heals,
      membership: { removals: stats.removals, readds: stats.readds, replacements: stats.replacements },
      skippedKills: stats.skipped,
      writes: { acked: stats.acked, failed: stats.failed, unknown: stats.unknown, redirects: stats.redirects },
      reads: { ...reads },
      leaderTerms: el.leaderTerms,
      maxTerm: el.maxTerm,
      unsureRoleLines: el.unsure,
      convergeMs: stats.convergeMs,
      maxConvergeMs: stats.convergeMs.length ? Math.max(...stats.convergeMs) : null,
    };
    result = { ok: violations.length === 0, seed, violations, summary, dir };
  } finally {
    writer.stop = true;
    reader.stop = true;
    await killAll(allProcs);
    unfinishedDirs.delete(dir);
    if (result && !result.ok) {
      // keep the evidence: every incarnation's output next to the data files
      for (const n of nodes) {
        n.incarnations.forEach((p, k) => fs.writeFileSync(path.join(dir, `node-${n.id}-${k}.log`), `${p.output()}\n`));
      }
    } else if (!o.keep) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return result;
}

function formatSummary(r) {
  const s = r.summary;
  const lines = [
    `chaos ${r.ok ? 'PASSED' : 'FAILED'}: seed ${s.seed}, ${s.seconds} s of chaos in ${s.rounds} round(s), ${(s.elapsedMs / 1000).toFixed(1)} s wall`,
    `  kills ${s.kills} (${s.leaderKills} of the leader, ${s.crashes} power cuts of 3 or 5 nodes, ${s.skippedKills} skipped), restarts ${s.restarts}, partitions ${s.partitions}, fault windows ${s.faultWindows}, heals ${s.heals}`,
    `  membership changes asked: ${s.membership.removals} removals (to some nodes only), ${s.membership.readds} re-adds, ${s.membership.replacements} replacements`,
    `  writes: ${s.writes.acked} acked, ${s.writes.failed} failed (ok=false), ${s.writes.unknown} unknown (timeout), ${s.writes.redirects} redirects; reads: ${s.reads.ok} answered, ${s.reads.failed} failed`,
    `  leader terms ${s.leaderTerms}, max term ${s.maxTerm}${s.unsureRoleLines ? `, ${s.unsureRoleLines} unsure ROLE lines` : ''}`,
    `  convergence after heal: max ${s.maxConvergeMs} ms (${s.convergeMs.join(', ')})`,
  ];
  if (!r.ok) {
    lines.push(`  ${r.violations.length} violation(s):`);
    for (const v of r.violations) lines.push(`  - ${v}`);
    lines.push(`  node logs and files kept in ${r.dir}`);
    lines.push(`  replay: node scripts/chaos.js --seed ${s.seed} --seconds ${s.seconds}`);
  }
  return lines.join('\n');
}

function parseArgs(argv) {
  const o = {};
  const env = process.env;
  if (env.RAFTQ_CHAOS_SECONDS) o.seconds = Number(env.RAFTQ_CHAOS_SECONDS);
  if (env.RAFTQ_CHAOS_SEED) o.seed = Number(env.RAFTQ_CHAOS_SEED);
  if (env.RAFTQ_CHAOS_UNSAFE_PERSIST) o.unsafePersist = env.RAFTQ_CHAOS_UNSAFE_PERSIST;
  if (env.RAFTQ_CHAOS_HISTORY) o.history = env.RAFTQ_CHAOS_HISTORY;
  if (env.RAFTQ_CHAOS_READS) o.reads = env.RAFTQ_CHAOS_READS;
  const numeric = {
    '--seconds': 'seconds',
    '--seed': 'seed',
    '--round-seconds': 'roundSeconds',
    '--converge-ms': 'convergeMs',
    '--heartbeat': 'heartbeat',
    '--min-election': 'minElection',
    '--max-election': 'maxElection',
  };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s) : [a, undefined];
    const value = () => (inline !== undefined ? inline : argv[++k]);
    if (numeric[flag]) {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`);
      o[numeric[flag]] = v;
    } else if (flag === '--unsafe-persist') {
      const v = value();
      if (v !== 'early' && v !== 'never') throw new Error('--unsafe-persist takes early or never');
      o.unsafePersist = v;
    } else if (flag === '--history') o.history = value();
    else if (flag === '--reads') {
      const v = value();
      if (!['read', 'lease', 'dirty'].includes(v)) throw new Error('--reads takes read, lease or dirty');
      o.reads = v;
    } else if (flag === '--keep') o.keep = true;
    else if (flag === '--verbose') o.verbose = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

module.exports = { runChaos, formatSummary, makeSchedule, makeRng, writesOf, checkElections };

if (require.main === module) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  // children exit by themselves when our stdin pipe to them closes, i.e. when we die in any way
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
  runChaos(opts).then(
    (r) => {
      console.log(formatSummary(r));
      process.exit(r.ok ? 0 : 1);
    },
    (err) => {
      console.error(err && err.stack ? err.stack : err);
      process.exit(1);
    },
  );
}
