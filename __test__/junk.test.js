'use strict';
// Junk input at the real boundary: a healthy in-memory 3-node cluster receives tens of thousands of
// generated bodies on every input event (wrong types everywhere, missing fields, extreme numbers,
// symbols, bigints, functions, cyclic and frozen objects, getters and Proxies that throw, 1 MB ids,
// 10 MB values, well-formed bodies from strangers, term and index jumps from members). Nothing may
// crash, throw, reject or leak a junk value into the data; every malformed body is reported on
// `log`; afterwards the cluster has one agreed leader and still commits.
//
// Deterministic: JUNK_SEED=<uint32> (or JUNK_SEED=random) picks the generator's seed (printed),
// JUNK_COUNT the bodies per input event (default 10,000).

const test = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('node:v8');
const vm = require('node:vm');
const { waitFor, withTimeout, delay } = require('./_helpers');
const { Raftq, RaftRole } = require('..');
const { createMemoryCluster } = require('../examples/memory-cluster');

const COUNT = Math.max(1, Math.floor(Number(process.env.JUNK_COUNT)) || 10000);
const SEED =
  process.env.JUNK_SEED === 'random'
    ? (Math.random() * 2 ** 32) >>> 0
    : process.env.JUNK_SEED !== undefined && process.env.JUNK_SEED !== ''
      ? Number(process.env.JUNK_SEED) >>> 0
      : 0x6a756e6b; // "junk"
const REPLAY = `JUNK_SEED=${SEED} JUNK_COUNT=${COUNT}`;

const MAX = Number.MAX_SAFE_INTEGER;
const CLUSTER_IDS = [0, '0', 'z']; // 0 and '0' are different nodes (ids keep their JS type)
const isMemberId = (id) => CLUSTER_IDS.some((m) => m === id); // -0 === 0: member 0

// ---------------------------------------------------------------------------------------------
// a deterministic generator (mulberry32)

function makeRng(seed) {
  let a = seed >>> 0;
  const u32 = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const r = {
    u32,
    /** uniform integer in [0, n) */
    int: (n) => Math.floor((u32() / 2 ** 32) * n),
    chance: (p) => u32() / 2 ** 32 < p,
    pick: (xs) => xs[Math.floor((u32() / 2 ** 32) * xs.length)],
    /** uniform integer in [lo, hi], up to 2^53 - 1 */
    between: (lo, hi) => lo + Math.floor((u32() * 2 ** 21 + (u32() >>> 11)) / 2 ** 53 * (hi - lo + 1)),
    /** index by weights */
    weighted: (ws) => {
      let x = (u32() / 2 ** 32) * ws.reduce((s, w) => s + w, 0);
      for (let i = 0; i < ws.length; i++) if ((x -= ws[i]) < 0) return i;
      return ws.length - 1;
    },
  };
  return r;
}

/** one generator per test part, all derived from SEED */
const rngFor = (part) => makeRng(SEED ^ Math.imul(part + 1, 0x9e3779b1));

let bigStrings = null;
function big() {
  if (!bigStrings) bigStrings = { mb1: 'i'.repeat(1 << 20), mb10: 'd'.repeat(10 << 20) };
  return bigStrings;
}
/** a distinct 1 MB string */
const hugeString = (r) => big().mb1.slice(16) + String(r.u32()).padStart(16, '#');

const ODD_NUMBERS = [
  NaN, Infinity, -Infinity, -0, -1, -0.5, 0.5, 1.5, Number.EPSILON, Number.MIN_VALUE, 2 ** 53, 2 ** 53 + 2,
  -(2 ** 53), 1e21, 1e308, -1e308, Number.MAX_VALUE, 2 ** 64, 2 ** 53 - 1.5, 4.000000000000001,
];
const GOOD_NUMBERS = [0, 1, 2, 3, 2 ** 31 - 1, 2 ** 32, MAX];

/**
 * A junk value and a short label. `opts.huge` allows 1 MB / 10 MB strings (rarely), `opts.good`
 * mixes in valid counters.
 */
function junk(r, opts = {}) {
  switch (r.int(opts.good ? 19 : 18)) {
    case 0:
      return [undefined, 'undefined'];
    case 1:
      return [null, 'null'];
    case 2:
    case 3: {
      const n = r.pick(ODD_NUMBERS);
      return [n, `number ${Object.is(n, -0) ? '-0' : n}`];
    }
    case 4: {
      const n = (r.int(2001) - 1000) / r.pick([1, 2, 3, 8, 1000]);
      return [n, `number ${n}`];
    }
    case 5: {
      const b = r.pick([0n, 1n, 10n, -1n, 2n ** 64n, 2n ** 53n]);
      return [b, `bigint ${b}n`];
    }
    case 6: {
      if (opts.huge && r.chance(0.002)) return [big().mb10, 'string 10 MB'];
      if (opts.huge && r.chance(0.004)) return [hugeString(r), 'string 1 MB'];
      const s = r.pick(['', '0', '5', '1e3', 'NaN', 'true', 'null', ' 1', '☃', '\u0000', '9007199254740993', 'term']);
      return [s, `string ${JSON.stringify(s)}`];
    }
    case 7:
      return [r.chance(0.5), 'boolean'];
    case 8:
      return [Symbol('junk'), 'symbol'];
    case 9:
      return [r.pick([() => 1, async () => 1, function named() {}, class K {}, Math.max]), 'function'];
    case 10:
      return [r.pick([{}, { a: 1 }, { id: 'x', time: 1 }, { valueOf: () => 5 }, { toString: () => '5' }]), 'object'];
    case 11:
      return [r.pick([[], [1], [1, 2, 3], [[]], new Array(5)]), 'array'];
    case 12: {
      const c = { a: 1 };
      c.self = c;
      c.list = [c];
      return [c, 'cyclic object'];
    }
    case 13:
      return [Object.freeze({ term: 1, id: 'f', nested: Object.freeze({}) }), 'frozen object'];
    case 14:
      return [Object.create(null), 'null-prototype object'];
    case 15:
      return [r.pick([new Number(5), new String('5'), new Boolean(true), new Date(0), /x/, new Map(), new Uint8Array(4)]), 'boxed/builtin object'];
    case 16:
      return [new Proxy({ term: 1 }, {}), 'transparent Proxy'];
    case 17:
      return [r.pick([Promise.resolve(1), new Promise(() => {}), { then: 5 }]), 'promise-like'];
    default: {
      const n = r.pick(GOOD_NUMBERS);
      return [n, `number ${n}`];
    }
  }
}

/**
 * A value that throws when read: every property read throws, except for the last variant (only
 * `id` throws) unless `anyRead` asks for one that throws whatever is read.
 */
function unreadable(r, anyRead = false) {
  switch (r.int(anyRead ? 3 : 4)) {
    case 0:
      return [
        new Proxy({}, {
          get() {
            throw new Error('junk: Proxy get trap');
          },
        }),
        'Proxy whose get throws',
      ];
    case 1: {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return [proxy, 'revoked Proxy'];
    }
    case 2:
      return [
        new Proxy({ id: 'x', term: 1 }, {
          get(t, k) {
            if (k === 'then') return undefined;
            throw new TypeError(`junk: no ${String(k)}`);
          },
        }),
        'Proxy throwing TypeError',
      ];
    default:
      return [
        Object.defineProperty({}, 'id', {
          get() {
            throw new RangeError('junk: getter');
          },
          enumerable: true,
        }),
        'object with a throwing `id` getter',
      ];
  }
}

/** `obj` with a getter on `name` that throws */
function throwingGetter(obj, name) {
  Object.defineProperty(obj, name, {
    get() {
      throw new Error(`junk: getter ${name}`);
    },
    enumerable: true,
    configurable: true,
  });
  return obj;
}

// ---------------------------------------------------------------------------------------------
// the four channels, and an oracle written from the wire contract (not from the product's code)

const CHANNELS = [
  { event: 'voteRequestReceived', sender: 'candidate', ints: ['term', 'lastTerm', 'lastIndex'], bools: [], flags: ['preVote', 'transfer'] },
  { event: 'voteResponseReceived', sender: 'voter', ints: ['term'], bools: ['granted'], flags: ['preVote'] },
  { event: 'dataReceived', sender: 'node', ints: ['term', 'dataTerm', 'dataIndex', 'commitTerm', 'commitIndex'], bools: [], flags: ['transfer'] },
  { event: 'dataResponseReceived', sender: 'node', ints: ['term', 'dataTerm', 'dataIndex'], bools: ['success'], flags: [] },
];
CHANNELS.forEach((c, i) => {
  c.index = i;
  c.fields = [...c.ints, ...c.bools, ...c.flags];
});

/** a node id: a finite number, or a string of at most 256 UTF-16 units (src/binding/convert.rs) */
const ID_MAX_LEN = 256;
const isId = (v) => (typeof v === 'string' ? v.length <= ID_MAX_LEN : typeof v === 'number' && Number.isFinite(v));
const isCounter = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX;

/**
 * What the receiver must make of `body`: `{ ok: false, names }` (malformed; `names` are the
 * offending fields, one of which the log line must name) or `{ ok: true, id }` (well-formed).
 * Reads the body as JS does ([[Get]], prototype chain included).
 */
function judge(ch, body) {
  if (typeof body !== 'object' || body === null) return { ok: false, names: ['message'] };
  const names = [];
  let id;
  const s = body[ch.sender];
  if (typeof s !== 'object' || s === null) names.push(ch.sender);
  else if (!isId((id = s.id))) names.push(`${ch.sender}.id`);
  const v = {};
  for (const f of ch.ints) if (!isCounter((v[f] = body[f]))) names.push(f);
  for (const f of ch.bools) if (typeof body[f] !== 'boolean') names.push(f);
  for (const f of ch.flags) {
    const x = body[f];
    if (!(x === undefined || x === null || typeof x === 'boolean')) names.push(f);
  }
  const ok = (...fs) => fs.every((f) => isCounter(v[f]));
  switch (ch.index) {
    case 0:
      if (ok('term', 'lastTerm') && v.lastTerm > v.term) names.push('lastTerm', 'term');
      break;
    case 2:
      if (ok('term', 'dataTerm') && v.dataTerm !== v.term) names.push('dataTerm', 'term');
      if (ok('dataTerm', 'dataIndex', 'commitTerm', 'commitIndex') && (v.commitTerm > v.dataTerm || v.commitIndex > v.dataIndex)) {
        names.push('commitTerm', 'commitIndex', 'dataTerm', 'dataIndex');
      }
      break;
    case 3:
      if (ok('term', 'dataTerm') && v.dataTerm > v.term) names.push('dataTerm', 'term');
      break;
    default:
      break;
  }
  return names.length ? { ok: false, names } : { ok: true, id };
}

/** whether a rejection line names one of `names` */
function namesOneOf(line, names) {
  return names.some((n) => (n === 'message' ? /\bmessage\b/.test(line) : line.includes(`\`${n}\``)));
}

/** valid fields for `ch`, small numbers around `t` */
function validFields(r, ch, t) {
  const term = t + r.int(3);
  switch (ch.index) {
    case 0: {
      const lastTerm = r.int(term + 1);
      return { term, lastTerm, lastIndex: r.int(50), preVote: r.chance(0.5), ...(r.chance(0.2) ? { transfer: r.chance(0.5) } : {}) };
    }
    case 1:
      return { term, granted: r.chance(0.5), preVote: r.chance(0.5) };
    case 2: {
      const dataIndex = r.int(50);
      const commitTerm = r.int(term + 1);
      const commitIndex = r.int(dataIndex + 1);
      return { term, dataTerm: term, dataIndex, commitTerm, commitIndex, ...(r.chance(0.2) ? { transfer: false } : {}) };
    }
    default:
      return { term, success: r.chance(0.5), dataTerm: r.int(term + 1), dataIndex: r.int(50) };
  }
}

const STRANGER_IDS = ['s', '', ' ', 'Z', '0 ', '00', 'zz', '☃', '\u0000', '\n\u001b[31m', 'b'.repeat(ID_MAX_LEN), 'b'.repeat(ID_MAX_LEN + 1), '😀'.repeat(ID_MAX_LEN / 2 + 1), 1, -1, 0.5, 1e308, -1e308, Number.MIN_VALUE, 2 ** 53 + 2, MAX];
function strangerId(r) {
  if (r.chance(0.003)) return hugeString(r);
  if (r.chance(0.5)) return `stranger-${r.int(1000)}`;
  return r.pick(STRANGER_IDS);
}

/**
 * One generated body for `ch` sent to the node `target`. Returns { body, label, cls } where cls is
 * 'malformed' (must be rejected with a reason), 'stranger' (well-formed, sender never acked),
 * 'jump' (well-formed, from a member, term or index beyond the core's step limits) or
 * 'unreadable' (reading it throws).
 */
function receiveBody(r, ch, target, targetTerm) {
  const now = 1;
  const members = CLUSTER_IDS.filter((m) => m !== target);
  const kind = r.weighted([52, 13, 15, 5, 15]);
  if (kind === 4) {
    // unreadable: throws on a field the receiver must read
    const base = { ...validFields(r, ch, targetTerm), [ch.sender]: { id: r.pick(members), time: now } };
    switch (r.int(5)) {
      case 0: {
        const [u, l] = unreadable(r, true);
        return { body: u, label: `body: ${l}`, cls: 'unreadable' };
      }
      case 1:
        return { body: throwingGetter(base, ch.sender), label: `throwing getter on \`${ch.sender}\``, cls: 'unreadable' };
      case 2: {
        const [u, l] = unreadable(r);
        base[ch.sender] = u;
        return { body: base, label: `${ch.sender}: ${l}`, cls: 'unreadable' };
      }
      case 3:
        base[ch.sender] = throwingGetter({ time: now }, 'id');
        return { body: base, label: `throwing getter on \`${ch.sender}.id\``, cls: 'unreadable' };
      default: {
        const f = ch.index === 2 && r.chance(0.3) ? 'data' : r.pick(ch.fields);
        return { body: throwingGetter(base, f), label: `throwing getter on \`${f}\``, cls: 'unreadable' };
      }
    }
  }
  if (kind === 3) {
    // well-formed, from a member, with a term or an index far beyond what one message may move
    const from = r.pick(members);
    const J = r.between(2 ** 34, MAX);
    const I = r.between(2 ** 42, MAX);
    const termJump = ch.index === 1 || r.chance(0.5);
    const t = targetTerm;
    let f;
    switch (ch.index) {
      case 0:
        f = termJump
          ? { term: J, lastTerm: r.between(0, J), lastIndex: r.int(50), preVote: r.chance(0.5) }
          : { term: t + 1, lastTerm: t, lastIndex: I, preVote: r.chance(0.5), transfer: r.chance(0.3) };
        break;
      case 1:
        f = { term: J, granted: r.chance(0.5), preVote: r.chance(0.5) };
        break;
      case 2:
        f = termJump
          ? { term: J, dataTerm: J, dataIndex: r.int(50), commitTerm: 0, commitIndex: 0, transfer: r.chance(0.3) }
          : { term: t, dataTerm: t, dataIndex: I, commitTerm: t, commitIndex: r.between(0, I) };
        if (r.chance(0.5)) f.data = { junk: 'jump' };
        break;
      default:
        f = termJump
          ? { term: J, success: r.chance(0.5), dataTerm: r.between(0, J), dataIndex: r.int(50) }
          : { term: t, success: true, dataTerm: t, dataIndex: I };
        break;
    }
    return { body: { ...f, [ch.sender]: { id: from, time: now } }, label: `${termJump ? 'term' : 'index'} jump from member ${JSON.stringify(from)}: ${JSON.stringify(f)}`, cls: 'jump' };
  }
  let body;
  let label;
  if (kind === 2) {
    // well-formed from a stranger, in odd shapes
    const id = strangerId(r);
    const f = validFields(r, ch, targetTerm);
    label = `stranger ${typeof id === 'string' && id.length > 100 ? '(1 MB id)' : JSON.stringify(id)} ${JSON.stringify(f)}`;
    const sender = { id, time: r.pick([now, 0, undefined, -1]) };
    if (r.chance(0.2)) Object.assign(sender, { extra: junk(r)[0] });
    body = { ...f, [ch.sender]: sender };
    if (ch.index === 2 && r.chance(0.3)) {
      const [d, dl] = r.chance(0.01) ? [{ junk: big().mb10 }, '10 MB object'] : junk(r);
      body.data = d === undefined ? { junk: 'undefined' } : d;
      label += ` data: ${dl}`;
    }
    if (r.chance(0.2)) {
      body.destination = junk(r)[0];
      body.timeout = junk(r)[0];
      throwingGetter(body, 'notAField'); // fields the receiver never needs must not be read
    }
    switch (r.int(6)) {
      case 0:
        body = Object.freeze(body);
        label += ' (frozen)';
        break;
      case 1:
        body = Object.create(body); // every field inherited
        label += ' (fields on the prototype)';
        break;
      case 2:
        body = new Proxy(body, {});
        label += ' (transparent Proxy)';
        break;
      case 3: {
        const k = r.pick(ch.fields);
        if (k in body) {
          const val = body[k];
          Object.defineProperty(body, k, { get: () => val, enumerable: true });
          label += ` (\`${k}\` behind a getter)`;
        }
        break;
      }
      default:
        break;
    }
  } else if (kind === 1) {
    // the body or its sender has the wrong shape
    if (r.chance(0.5)) {
      const [b, bl] = junk(r, { huge: true });
      const isObj = typeof b === 'object' && b !== null;
      body = b;
      label = `body: ${bl}`;
      if (isObj && !Object.isFrozen(b) && r.chance(0.5)) {
        // an object, but not a message: keep it from being shared between bodies
        body = Object.assign(Array.isArray(b) ? [] : {}, validFields(r, ch, targetTerm));
        body[ch.sender] = junk(r)[0];
        label = `sender: junk object/array body`;
      }
    } else {
      body = validFields(r, ch, targetTerm);
      const [s, sl] = r.chance(0.5) ? junk(r) : [{ id: junk(r, { huge: true })[0], time: now }, 'RaftNode with a junk id'];
      if (r.chance(0.1)) delete body[ch.sender];
      else body[ch.sender] = s;
      label = `sender: ${sl}`;
    }
  } else {
    // a valid body, then one to three fields broken
    const from = r.chance(0.8) ? r.pick(members) : r.chance(0.5) ? target : strangerId(r);
    body = { ...validFields(r, ch, targetTerm), [ch.sender]: { id: from, time: now } };
    const parts = [];
    for (let i = 1 + r.int(3); i > 0; i--) {
      const f = r.pick(ch.fields);
      switch (r.int(5)) {
        case 0:
          delete body[f];
          parts.push(`no ${f}`);
          break;
        case 1:
          body[f] = null;
          parts.push(`${f}=null`);
          break;
        case 2: {
          // a relation broken by one
          const rel = [
            ['lastTerm', () => (body.lastTerm = body.term + 1)],
            ['dataTerm', () => (body.dataTerm = body.term + (ch.index === 2 && r.chance(0.5) ? -1 : 1))],
            ['commitIndex', () => (body.commitIndex = body.dataIndex + 1)],
            ['commitTerm', () => (body.commitTerm = body.dataTerm + 1)],
          ].filter(([k]) => ch.ints.includes(k));
          if (rel.length) {
            const [k, apply] = r.pick(rel);
            if (isCounter(body.term) && isCounter(body.dataTerm ?? 0) && isCounter(body.dataIndex ?? 0)) apply();
            parts.push(`${k} past its relation`);
            break;
          }
        }
        // falls through
        default: {
          const [v, vl] = junk(r, { huge: true, good: true });
          body[f] = v;
          parts.push(`${f}=${vl}`);
        }
      }
    }
    if (r.chance(0.05)) body = Object.freeze(body);
    label = `from ${typeof from === 'string' && from.length > 100 ? '(1 MB id)' : JSON.stringify(from)}: ${parts.join(', ')}`;
  }
  const j = judge(ch, body);
  if (!j.ok) return { body, label, cls: 'malformed', names: j.names };
  if (isMemberId(j.id) || j.id === target || Object.is(j.id, -0)) {
    // well-formed from a member (or the target itself): that is no longer junk but a forged
    // message; send it from a stranger instead
    const id = `stranger-${r.int(1000)}`;
    const sender = { id, time: now };
    body = Object.isFrozen(body) || typeof body !== 'object' ? { ...body, [ch.sender]: sender } : Object.assign(body, { [ch.sender]: sender });
    label += ` (re-sent from ${id})`;
    const j2 = judge(ch, body);
    if (!j2.ok) return { body, label, cls: 'malformed', names: j2.names };
  }
  return { body, label, cls: 'stranger' };
}

// ---------------------------------------------------------------------------------------------
// harness

/** Record uncaught exceptions and unhandled rejections while a test runs. */
function trapProcessErrors() {
  const seen = [];
  const onErr = (e) => seen.push(`uncaught exception: ${e && e.stack ? e.stack : String(e)}`);
  const onRej = (e) => seen.push(`unhandled rejection: ${e && e.stack ? e.stack : String(e)}`);
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onRej);
  return {
    seen,
    release() {
      process.off('uncaughtException', onErr);
      process.off('unhandledRejection', onRej);
    },
  };
}

const PENDING = Symbol('pending');

/** Dispatch and wait (bounded): 'resolved', 'rejected: ...', 'threw: ...' or 'pending'. */
async function settle(raft, type, body) {
  let p;
  try {
    p = raft.dispatch(type, body);
  } catch (e) {
    return `threw: ${e && e.message}`;
  }
  if (!p || typeof p.then !== 'function') return 'not a promise';
  const out = await withTimeout(
    p.then(
      () => 'resolved',
      (e) => `rejected: ${e && e.message}`,
    ),
    5000,
    PENDING,
  );
  return out === PENDING ? 'pending after 5 s' : out;
}

/** Per-node log capture with counters by prefix. */
function captureLogs(cluster) {
  const lines = new Map();
  for (const id of cluster.ids) {
    const arr = [];
    lines.set(id, arr);
    cluster.node(id).subscribe('log', (l) => {
      if (l && typeof l.message === 'string') arr.push(l.message);
    });
  }
  return lines;
}

/** the junk-related lines among `lines` from index `from` */
function reports(lines, from, event) {
  const rejected = [];
  const errors = [];
  const other = [];
  for (let i = from; i < lines.length; i++) {
    const m = lines[i];
    if (m.startsWith(`raft rejected ${event}: `)) rejected.push(m);
    else if (m.startsWith(`raft error in ${event}: `)) errors.push(m);
    else if (m.startsWith('raft rejected ') || m.startsWith('raft error') || m.startsWith('raft internal error') || m.startsWith('raft listener')) other.push(m);
  }
  return { rejected, errors, other };
}

/** Problems found, capped, with the replay command in the message. */
function problemLog() {
  const list = [];
  let total = 0;
  return {
    add(msg) {
      total++;
      if (list.length < 25) list.push(msg);
    },
    get total() {
      return total;
    },
    assertNone(what) {
      assert.equal(total, 0, `${what}: ${total} problem(s) (replay: ${REPLAY})\n  ${list.join('\n  ')}`);
    },
  };
}

const short = (s) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);

/** A persist agent that keeps the latest body by reference: the default one of
 * examples/memory-cluster.js JSON-clones every body (and keeps the last thousand in
 * `persistCalls`), which with 10 MB values under election churn slows persists past the election
 * timeout (before the cap it grew the heap to 4 GB and V8's out-of-memory abort). */
function leanAgent(id) {
  let stored;
  return {
    async persist(node, data) {
      stored = data;
    },
    async restore() {
      return stored;
    },
  };
}

async function startCluster() {
  const cluster = createMemoryCluster({
    ids: CLUSTER_IDS,
    // generous timing: the junk phases keep the event loop busy on a loaded 2-core machine
    heartbeat: 20,
    minimumElectionTime: 300,
    maximumElectionTime: 600,
    persistAgent: leanAgent,
  });
  const logs = captureLogs(cluster);
  await cluster.start();
  await cluster.waitForLeader(10000);
  return { cluster, logs };
}

/** Each node's status and last log lines, for a failure message. */
function dump(cluster, logs) {
  return cluster.ids
    .map((id) => {
      const { id: _, members, ...s } = cluster.node(id).getStatus();
      const tail = logs ? logs.get(id).slice(-8).map(short) : [];
      return `node ${JSON.stringify(id)}: ${JSON.stringify(s)}\n    last log: ${JSON.stringify(tail)}`;
    })
    .join('\n  ');
}

/**
 * The values a test replicated. The leader stores each as JSON holds it (a frozen copy, shared
 * by the in-memory nodes: issue 15), so a node shows an equal value, not the very object: `has`
 * compares by JSON, cached per object (frozen values never change), so a 10 MB value is
 * written out once per copy, not at every check.
 */
function legitValues() {
  const byId = new Map(); // legit id -> JSON of the value replicated
  const cache = new WeakMap();
  const json = (d) => {
    if (d === null || typeof d !== 'object') return JSON.stringify(d);
    if (!cache.has(d)) cache.set(d, JSON.stringify(d));
    return cache.get(d);
  };
  return {
    add: (v) => byId.set(v.legit, json(v)),
    has: (d) => d !== null && typeof d === 'object' && byId.has(d.legit) && byId.get(d.legit) === json(d),
    same: (d, v) => json(d) === json(v),
  };
}

/** the cluster has one agreed leader, a replicate commits, and every node shows the value */
async function assertHealthy(cluster, value, what, logs) {
  const deadline = Date.now() + 15000;
  let committed = false;
  let leader;
  try {
    while (!committed && Date.now() < deadline) {
      leader = await cluster.waitForLeader(Math.max(1, deadline - Date.now()));
      committed = await cluster.node(leader).replicate(value).then(() => true, () => false);
    }
    assert.ok(committed, 'a replicate commits on the agreed leader');
    // the value as JSON holds it (a copy the leader made, frozen), the same everywhere
    const want = JSON.stringify(value);
    await waitFor(() => cluster.ids.every((id) => JSON.stringify(cluster.node(id).getData()) === want), 5000, 'every node shows the committed value');
  } catch (e) {
    assert.fail(`${what}: ${e.message} (replay: ${REPLAY})\n  ${dump(cluster, logs)}`);
  }
  return leader;
}

// ---------------------------------------------------------------------------------------------

test(`junk on every input event of a live 3-node cluster (seed ${SEED}, ${COUNT} bodies per event)`, { timeout: 240000 }, async (t) => {
  t.diagnostic(`seed ${SEED}; replay: ${REPLAY} node --test __test__/junk.test.js`);
  const trap = trapProcessErrors();
  const { cluster, logs } = await startCluster();
  const problems = problemLog();
  const nodes = CLUSTER_IDS.map((id) => cluster.node(id));
  /** the data values the test itself replicated: no node may ever show anything else */
  const legit = legitValues();
  let legitN = 0;
  const legitValue = (extra) => {
    const v = { legit: ++legitN, ...extra };
    legit.add(v);
    return v;
  };
  const dataIsLegit = (what) => {
    for (const id of CLUSTER_IDS) {
      const d = cluster.node(id).getData();
      if (!legit.has(d)) problems.add(`${what}: node ${JSON.stringify(id)} shows a value the test never replicated (${short(typeof d === 'object' ? `object with keys ${Object.keys(d || {}).slice(0, 5)}` : typeof d)})`);
    }
  };
  const statusOf = (raft) => raft.getStatus();
  const hasStrangers = typeof statusOf(nodes[0]).strangers === 'number';
  if (!hasStrangers) t.diagnostic('getStatus().strangers is not there yet: well-formed bodies from strangers are not counted');
  const membersBefore = new Map(CLUSTER_IDS.map((id) => [id, JSON.stringify(statusOf(cluster.node(id)).members)]));
  const tally = {};
  const count = (k) => (tally[k] = (tally[k] || 0) + 1);
  const yieldEvery = 64;
  const timings = [];

  try {
    await assertHealthy(cluster, legitValue(), 'before the junk', logs);

    // -- the four message channels ------------------------------------------------------------
    for (const ch of CHANNELS) {
      const r = rngFor(ch.index);
      const t0 = Date.now();
      for (let i = 0; i < COUNT; i++) {
        if (i % yieldEvery === 0) await new Promise(setImmediate);
        const target = r.pick(CLUSTER_IDS);
        const raft = cluster.node(target);
        const before = statusOf(raft);
        const g = receiveBody(r, ch, target, before.term);
        count(`${ch.event}/${g.cls}`);
        const lines = logs.get(target);
        const from = lines.length;
        const outcome = await settle(raft, ch.event, g.body);
        const where = `${ch.event} #${i} to ${JSON.stringify(target)} (${g.cls}: ${short(g.label)})`;
        if (outcome !== 'resolved') problems.add(`${where}: dispatch ${outcome}`);
        const rep = reports(lines, from, ch.event);
        const after = statusOf(raft);
        if (rep.other.length) problems.add(`${where}: unexpected log ${short(rep.other[0])}`);
        switch (g.cls) {
          case 'malformed':
            if (rep.rejected.length !== 1 || rep.errors.length) {
              problems.add(`${where}: expected one "raft rejected ${ch.event}: ..." line, got ${JSON.stringify([...rep.rejected, ...rep.errors].map(short))}`);
            } else if (!namesOneOf(rep.rejected[0], g.names)) {
              problems.add(`${where}: the reason names none of ${g.names.join(', ')}: ${short(rep.rejected[0])}`);
            }
            if (after.rejected !== before.rejected + 1) problems.add(`${where}: getStatus().rejected went ${before.rejected} -> ${after.rejected}`);
            break;
          case 'unreadable':
            // a body that throws while it is read: rejected and counted like a malformed one
            if (rep.rejected.length !== 1 || rep.errors.length) problems.add(`${where}: expected one "raft rejected ${ch.event}: ..." line, got ${JSON.stringify([...rep.rejected, ...rep.errors].map(short))}`);
            if (after.rejected !== before.rejected + 1) problems.add(`${where}: getStatus().rejected went ${before.rejected} -> ${after.rejected}`);
            break;
          default:
            // well-formed: no rejection; strangers counted, members' jumps ignored
            if (rep.rejected.length || rep.errors.length) problems.add(`${where}: well-formed body reported: ${short([...rep.rejected, ...rep.errors][0])}`);
            if (after.rejected !== before.rejected) problems.add(`${where}: counted as rejected`);
            if (g.cls === 'stranger' && hasStrangers && after.strangers !== before.strangers + 1) {
              problems.add(`${where}: getStatus().strangers went ${before.strangers} -> ${after.strangers}`);
            }
            // (other traffic may move the term meanwhile by an election, never by 2^32)
            if (g.cls === 'jump' && after.term - before.term > 2 ** 32) problems.add(`${where}: the node's term jumped ${before.term} -> ${after.term}`);
            if (g.cls === 'jump' && after.version.index - before.version.index > 2 ** 40) {
              problems.add(`${where}: the node's version index jumped ${before.version.index} -> ${after.version.index}`);
            }
            break;
        }
      }
      timings.push(`${ch.event} ${Date.now() - t0} ms`);
      dataIsLegit(`after ${ch.event}`);
    }

    // -- ackNode: only bodies that must change nothing --------------------------------------
    {
      const r = rngFor(10);
      const t0 = Date.now();
      for (let i = 0; i < COUNT; i++) {
        if (i % yieldEvery === 0) await new Promise(setImmediate);
        const target = r.pick(CLUSTER_IDS);
        const raft = cluster.node(target);
        let body;
        let label;
        let cls;
        const kind = r.weighted([30, 30, 25, 15]);
        if (kind === 0) {
          [body, label] = junk(r, { huge: true });
          cls = typeof body === 'object' && body !== null ? null : 'malformed';
        } else if (kind === 1) {
          const [id, il] = junk(r, { huge: true });
          body = { id, time: r.pick([1, Date.now(), 0, undefined]) };
          label = `id: ${il}`;
        } else if (kind === 2) {
          // the removal of a node that was never acked: valid, and a no-op
          const id = strangerId(r);
          body = { id, time: r.pick([0, '', null, undefined, false, NaN, -0]) };
          label = `remove stranger ${typeof id === 'string' && id.length > 100 ? '(1 MB id)' : JSON.stringify(id)}`;
        } else {
          cls = 'unreadable';
          if (r.chance(0.5)) [body, label] = unreadable(r);
          else {
            body = throwingGetter({ id: 'z' }, r.pick(['id', 'time']));
            label = 'throwing getter';
          }
        }
        if (!cls) {
          const isObj = typeof body === 'object' && body !== null;
          const id = isObj ? body.id : undefined;
          if (!isObj || !isId(id)) cls = 'malformed';
          else if (isMemberId(id) || id === target || body.time) {
            // a valid ack of a member or an addition is not junk: make the id invalid instead
            body = { ...body, id: Symbol('not an id') };
            label += ' (id replaced by a symbol)';
            cls = 'malformed';
          } else cls = 'noop';
        }
        count(`ackNode/${cls}`);
        const lines = logs.get(target);
        const from = lines.length;
        const outcome = await settle(raft, 'ackNode', body);
        const where = `ackNode #${i} to ${JSON.stringify(target)} (${cls}: ${short(label)})`;
        if (outcome !== 'resolved') problems.add(`${where}: dispatch ${outcome}`);
        const rep = reports(lines, from, 'ackNode');
        const news = lines.slice(from);
        if (rep.other.length) problems.add(`${where}: unexpected log ${short(rep.other[0])}`);
        if (news.some((m) => m.startsWith('raft node added') || m.startsWith('raft node destroyed'))) problems.add(`${where}: membership changed: ${short(news.join(' | '))}`);
        if (cls === 'malformed') {
          if (rep.rejected.length !== 1 || rep.errors.length) problems.add(`${where}: expected one "raft rejected ackNode: ..." line, got ${JSON.stringify(news.map(short))}`);
          else if (!/`id`|RaftNode/.test(rep.rejected[0])) problems.add(`${where}: the reason names neither \`id\` nor RaftNode: ${rep.rejected[0]}`);
        } else if (cls === 'unreadable') {
          if (rep.rejected.length + rep.errors.length !== 1) problems.add(`${where}: expected one report line, got ${JSON.stringify(news.map(short))}`);
        } else if (rep.rejected.length || rep.errors.length) problems.add(`${where}: a no-op removal was reported: ${short(news.join(' | '))}`);
      }
      for (const id of CLUSTER_IDS) {
        const now = JSON.stringify(statusOf(cluster.node(id)).members);
        if (now !== membersBefore.get(id)) problems.add(`after ackNode junk: node ${JSON.stringify(id)}'s members went ${membersBefore.get(id)} -> ${short(now)}`);
        const followers = cluster.node(id).getFollowers().map((f) => f.id);
        if (followers.length !== 2 || !followers.every(isMemberId)) problems.add(`after ackNode junk: node ${JSON.stringify(id)} getFollowers() ${short(String(followers))}`);
      }
      timings.push(`ackNode ${Date.now() - t0} ms`);
    }

    // -- serviceStarted: only invalid bodies (a valid one restarts the node) -----------------
    {
      const r = rngFor(11);
      const t0 = Date.now();
      const nodeObjects = new Map(CLUSTER_IDS.map((id) => [id, cluster.node(id).getNode()]));
      const started = new Map(CLUSTER_IDS.map((id) => [id, logs.get(id).filter((m) => m === 'raft started').length]));
      for (let i = 0; i < COUNT; i++) {
        if (i % yieldEvery === 0) await new Promise(setImmediate);
        const target = r.pick(CLUSTER_IDS);
        const raft = cluster.node(target);
        let body;
        let label;
        switch (r.int(4)) {
          case 0:
            [body, label] = junk(r, { huge: true });
            break;
          case 1: {
            const [n, nl] = junk(r);
            body = { node: n };
            label = `node: ${nl}`;
            break;
          }
          case 2: {
            const [id, il] = junk(r, { huge: true });
            body = { node: { id, time: Date.now() } };
            label = `node.id: ${il}`;
            break;
          }
          default:
            body = { reason: 'no node', nodes: [{ id: 'z' }] };
            label = 'no `node` field';
            break;
        }
        // whatever came out valid is made invalid: a valid serviceStarted restarts the node
        const n = typeof body === 'object' && body !== null ? body.node : undefined;
        if (typeof n === 'object' && n !== null && isId(n.id)) {
          body = { node: { ...n, id: NaN } };
          label += ' (id replaced by NaN)';
        }
        count('serviceStarted/malformed');
        const lines = logs.get(target);
        const from = lines.length;
        const outcome = await settle(raft, 'serviceStarted', body);
        const where = `serviceStarted #${i} to ${JSON.stringify(target)} (${short(label)})`;
        if (outcome !== 'resolved') problems.add(`${where}: dispatch ${outcome}`);
        const rep = reports(lines, from, 'serviceStarted');
        if (rep.rejected.length !== 1 || rep.errors.length || rep.other.length) problems.add(`${where}: expected one "raft rejected serviceStarted: ..." line, got ${JSON.stringify(lines.slice(from).map(short))}`);
        else if (!/`node(\.id)?`/.test(rep.rejected[0])) problems.add(`${where}: the reason names neither \`node\` nor \`node.id\`: ${rep.rejected[0]}`);
      }
      for (const id of CLUSTER_IDS) {
        if (cluster.node(id).getNode() !== nodeObjects.get(id)) problems.add(`after serviceStarted junk: node ${JSON.stringify(id)}'s getNode() is another object`);
        const n = logs.get(id).filter((m) => m === 'raft started').length;
        if (n !== started.get(id)) problems.add(`after serviceStarted junk: node ${JSON.stringify(id)} restarted ${n - started.get(id)} time(s)`);
      }
      timings.push(`serviceStarted ${Date.now() - t0} ms`);
    }

    // -- serviceCrashed: only bodies that cannot be read (any readable body is a real crash) --
    {
      const r = rngFor(12);
      const t0 = Date.now();
      for (let i = 0; i < COUNT; i++) {
        if (i % yieldEvery === 0) await new Promise(setImmediate);
        const target = r.pick(CLUSTER_IDS);
        const raft = cluster.node(target);
        let body;
        let label;
        if (r.chance(0.5)) [body, label] = unreadable(r, true);
        else {
          body = throwingGetter({}, 'reason');
          label = 'throwing getter on `reason`';
        }
        count('serviceCrashed/unreadable');
        const lines = logs.get(target);
        const from = lines.length;
        const outcome = await settle(raft, 'serviceCrashed', body);
        const where = `serviceCrashed #${i} to ${JSON.stringify(target)} (${label})`;
        if (outcome !== 'resolved') problems.add(`${where}: dispatch ${outcome}`);
        const news = lines.slice(from);
        const rep = reports(lines, from, 'serviceCrashed');
        if (news.some((m) => m.startsWith('raft crashed'))) problems.add(`${where}: the node crashed on an unreadable body`);
        if (rep.rejected.length + rep.errors.length !== 1 || rep.other.length) problems.add(`${where}: expected one report line, got ${JSON.stringify(news.map(short))}`);
      }
      timings.push(`serviceCrashed ${Date.now() - t0} ms`);
    }

    // -- replicateData: junk to whoever is not the leader; valid values to the leader ---------
    {
      const r = rngFor(13);
      const t0 = Date.now();
      const proposals = [];
      for (let i = 0; i < COUNT; i++) {
        if (i % yieldEvery === 0) await new Promise(setImmediate);
        if (i % 100 === 50) {
          // a legit value to the current leader, now and then a 10 MB one
          const leader = cluster.leaders()[0];
          if (leader !== undefined) {
            const v = legitValue(i % 3000 === 50 ? { blob: big().mb10 } : { i });
            proposals.push(cluster.node(leader).dispatch('replicateData', v));
          }
        }
        const others = CLUSTER_IDS.filter((id) => cluster.node(id).getRole() !== RaftRole.LEADER);
        const target = r.pick(others);
        if (target === undefined) continue; // every node believes it leads (a stale view): skip
        const raft = cluster.node(target);
        const [body, label] = r.chance(0.03) ? [undefined, 'undefined'] : r.chance(0.1) ? unreadable(r) : junk(r, { huge: true });
        count('replicateData/to a non-leader');
        const lines = logs.get(target);
        const from = lines.length;
        const outcome = await settle(raft, 'replicateData', body);
        const where = `replicateData #${i} to non-leader ${JSON.stringify(target)} (${label})`;
        if (outcome !== 'resolved') problems.add(`${where}: dispatch ${outcome}`);
        const news = lines.slice(from).filter((m) => m.includes('replicateData') || m.startsWith('raft error') || m.startsWith('raft rejected'));
        const want = body === undefined ? 'raft rejected replicateData: ' : 'raft ignored replicateData: ';
        if (news.length !== 1 || !news[0].startsWith(want)) problems.add(`${where}: expected one "${want}..." line, got ${JSON.stringify(news.map(short))}`);
        if (!legit.has(raft.getData())) problems.add(`${where}: the node's data is no longer a replicated value`);
      }
      // the leader: `undefined` is rejected, the data stays
      const leader = cluster.leaders()[0];
      if (leader !== undefined) {
        const raft = cluster.node(leader);
        const lines = logs.get(leader);
        const from = lines.length;
        const before = raft.getData();
        const outcome = await settle(raft, 'replicateData', undefined);
        if (outcome !== 'resolved') problems.add(`replicateData(undefined) on the leader: dispatch ${outcome}`);
        if (!lines.slice(from).some((m) => m.startsWith('raft rejected replicateData: '))) problems.add('replicateData(undefined) on the leader: no "raft rejected replicateData" line');
        if (raft.getData() !== before) problems.add('replicateData(undefined) on the leader changed its data');
      }
      const settled = await withTimeout(Promise.allSettled(proposals), 20000, null);
      if (settled === null) problems.add('replicateData on the leader: some dispatch still pending after 20 s');
      else for (const s of settled) if (s.status !== 'fulfilled') problems.add(`replicateData on the leader rejected: ${s.reason}`);
      dataIsLegit('after replicateData junk');
      timings.push(`replicateData ${Date.now() - t0} ms (${proposals.length} legit proposals)`);
    }

    // -- unknown event names ----------------------------------------------------------------
    {
      const r = rngFor(14);
      const t0 = Date.now();
      const KNOWN = new Set(['voteRequestReceived', 'voteResponseReceived', 'dataReceived', 'dataResponseReceived', 'ackNode', 'serviceStarted', 'serviceCrashed', 'replicateData', 'voteRequest', 'voteResponse', 'syncData', 'dataResponse', 'roleChanged', 'log', 'dataChanged', 'leaderChanged']);
      const NAMES = ['', ' ', 'DataReceived', 'dataReceived ', 'ackNodes', 'replicatedata', 'servicestarted', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'then', 'prototype', '☃', 'custom:ping'];
      let pinged = 0;
      let pingBody;
      const unsubscribe = cluster.node('z').subscribe('custom:ping', (m) => {
        if (Object.is(m, pingBody)) pinged++;
      });
      let pingsSent = 0;
      for (let i = 0; i < COUNT; i++) {
        if (i % yieldEvery === 0) await new Promise(setImmediate);
        const target = r.pick(CLUSTER_IDS);
        const raft = cluster.node(target);
        let type;
        switch (r.int(4)) {
          case 0:
            type = r.pick(NAMES);
            break;
          case 1:
            type = r.chance(0.005) ? hugeString(r) : `junk-${r.u32().toString(36)}`;
            break;
          default:
            type = junk(r)[0];
            break;
        }
        if (KNOWN.has(type)) type = `not-${type}`;
        const [body] = r.chance(0.1) ? unreadable(r) : junk(r, { huge: true });
        if (type === 'custom:ping' && target === 'z') {
          pingBody = body;
          pingsSent++;
        }
        count('unknown events');
        const lines = logs.get(target);
        const from = lines.length;
        const outcome = await settle(raft, type, body);
        const where = `unknown event #${i} (${typeof type === 'string' ? JSON.stringify(short(type)) : typeof type}) to ${JSON.stringify(target)}`;
        if (outcome !== 'resolved') problems.add(`${where}: dispatch ${outcome}`);
        const bad = lines.slice(from).filter((m) => /^raft (rejected|error|internal error|listener|crashed|started|node)/.test(m));
        if (bad.length) problems.add(`${where}: logged ${short(bad[0])}`);
      }
      unsubscribe();
      if (pinged !== pingsSent) problems.add(`a subscribed custom event ran its listener ${pinged} times for ${pingsSent} dispatches`);
      timings.push(`unknown events ${Date.now() - t0} ms`);
    }

    t.diagnostic(`bodies: ${JSON.stringify(tally)}`);
    t.diagnostic(`time per phase: ${timings.join(', ')}`);
    problems.assertNone('junk bodies');

    // -- afterwards: terms did not jump, data is legit, one agreed leader that commits --------
    for (const id of CLUSTER_IDS) {
      const s = statusOf(cluster.node(id));
      assert.ok(s.term < 2 ** 32, `node ${JSON.stringify(id)}'s term is ${s.term}: a junk term was taken (replay: ${REPLAY})`);
      assert.ok(s.version.index < 2 ** 40, `node ${JSON.stringify(id)}'s version index is ${s.version.index} (replay: ${REPLAY})`);
    }
    dataIsLegit('at the end');
    problems.assertNone('data values');
    const leader = await assertHealthy(cluster, legitValue({ last: true }), 'after the junk', logs);
    t.diagnostic(`after the junk: leader ${JSON.stringify(leader)}, terms ${CLUSTER_IDS.map((id) => statusOf(cluster.node(id)).term).join('/')}, rejected ${CLUSTER_IDS.map((id) => statusOf(cluster.node(id)).rejected).join('/')}`);
    assert.deepEqual(trap.seen, [], `no uncaught exception or unhandled rejection (replay: ${REPLAY})`);
  } finally {
    trap.release();
    await cluster.destroy();
  }
});

/** A 3-node in-memory cluster whose nodes share `secret` (examples/memory-cluster.js takes no
 * secret): the four channels forwarded whole, in microtasks; persisted state kept per node. */
async function secretCluster(secret) {
  const MAPPING = { voteRequest: 'voteRequestReceived', voteResponse: 'voteResponseReceived', syncData: 'dataReceived', dataResponse: 'dataResponseReceived' };
  const key = (id) => `${typeof id}:${id}`;
  const nodes = new Map();
  const stored = new Map();
  for (const id of CLUSTER_IDS) {
    const raft = new Raftq({
      heartbeat: 20,
      minimumElectionTime: 300,
      maximumElectionTime: 600,
      secret,
      persistAgent: {
        async persist(node, data) {
          stored.set(key(node.id), data);
        },
        async restore(node) {
          return stored.get(key(node.id));
        },
      },
    });
    nodes.set(key(id), raft);
    for (const [out, inc] of Object.entries(MAPPING)) {
      raft.subscribe(out, (msg) => {
        const target = nodes.get(key(msg.destination.id));
        if (target) queueMicrotask(() => target.dispatch(inc, msg));
      });
    }
  }
  const node = (id) => nodes.get(key(id));
  const lines = new Map(CLUSTER_IDS.map((id) => [id, []]));
  for (const id of CLUSTER_IDS) node(id).subscribe('log', (l) => lines.get(id).push(l.message));
  for (const id of CLUSTER_IDS) for (const peer of CLUSTER_IDS) if (peer !== id) await node(id).dispatch('ackNode', { id: peer, time: 1 });
  await Promise.all(CLUSTER_IDS.map((id) => node(id).dispatch('serviceStarted', { node: { id, time: 1 } })));
  const agreedLeader = () => {
    const ls = CLUSTER_IDS.filter((id) => node(id).getRole() === RaftRole.LEADER);
    return ls.length === 1 && CLUSTER_IDS.every((id) => node(id).getLeader() === ls[0]) ? ls[0] : undefined;
  };
  return {
    ids: CLUSTER_IDS,
    node,
    lines,
    // (wrapped: the leader may be node 0, which is falsy)
    waitForLeader: async (ms) => (await waitFor(() => { const l = agreedLeader(); return l !== undefined && { l }; }, ms, 'one agreed leader')).l,
    destroy: () => Promise.all(CLUSTER_IDS.map((id) => node(id).destroy())),
  };
}

test(`junk on a 3-node cluster with a secret: nothing untagged gets in, nothing crashes (seed ${SEED})`, { timeout: 120000 }, async (t) => {
  const trap = trapProcessErrors();
  const cluster = await secretCluster('junk secret');
  const problems = problemLog();
  const per = Math.max(1, Math.floor(COUNT / 5));
  const legit = legitValues();
  let n = 0;
  const replicate = async (extra) => {
    const deadline = Date.now() + 15000;
    for (;;) {
      const leader = await cluster.waitForLeader(Math.max(1, deadline - Date.now()));
      const v = { legit: ++n, ...extra };
      legit.add(v);
      if (await cluster.node(leader).replicate(v).then(() => true, () => false)) {
        await waitFor(() => CLUSTER_IDS.every((id) => legit.same(cluster.node(id).getData(), v)), 5000, 'every node shows the value');
        return leader;
      }
      assert.ok(Date.now() < deadline, `a replicate commits with a secret (replay: ${REPLAY})`);
    }
  };
  let deep = [];
  for (let i = 0; i < 100000; i++) deep = [deep];
  const digestJunk = (r) =>
    r.pick([
      [deep, 'data nested 100,000 deep'],
      [{ toJSON() {
        throw new Error('junk: toJSON');
      } }, 'data whose toJSON throws'],
      [10n, 'data bigint'],
      [{ junk: big().mb10 }, 'data 10 MB'],
      [() => 1, 'data function'],
    ]);
  try {
    await replicate({});
    for (const ch of CHANNELS) {
      const r = rngFor(40 + ch.index);
      for (let i = 0; i < per; i++) {
        if (i % 64 === 0) await new Promise(setImmediate);
        const target = r.pick(CLUSTER_IDS);
        const raft = cluster.node(target);
        const before = raft.getStatus();
        const g = receiveBody(r, ch, target, before.term);
        let extra = '';
        if ((g.cls === 'stranger' || g.cls === 'jump') && Object.isExtensible(g.body) && r.chance(0.05)) {
          // well-formed: the tag is read, and reading it throws
          throwingGetter(g.body, 'tag');
          g.cls = 'unreadable';
          extra += ' throwing getter on `tag`';
        } else if (g.cls !== 'unreadable' && typeof g.body === 'object' && g.body !== null && Object.isExtensible(g.body)) {
          // a tag of any shape (never a valid one: the generator has no secret), and data the
          // digest must survive
          if (r.chance(0.5)) {
            const [tag, tl] = r.chance(0.3) ? ['0'.repeat(64), '64 zeros'] : junk(r, { huge: true });
            g.body.tag = tag;
            extra += ` tag: ${tl}`;
          }
          if (ch.index === 2 && r.chance(0.3)) {
            const [d, dl] = digestJunk(r);
            g.body.data = d;
            extra += ` ${dl}`;
          }
        }
        const lines = cluster.lines.get(target);
        const from = lines.length;
        const outcome = await settle(raft, ch.event, g.body);
        const after = raft.getStatus();
        const where = `${ch.event} #${i} to ${JSON.stringify(target)} (${g.cls}: ${short(g.label)}${extra})`;
        if (outcome !== 'resolved') problems.add(`${where}: dispatch ${outcome}`);
        const rep = reports(lines, from, ch.event);
        if (rep.other.length) problems.add(`${where}: unexpected log ${short(rep.other[0])}`);
        if (g.cls === 'unreadable') {
          if (rep.rejected.length + rep.errors.length !== 1) problems.add(`${where}: expected one report line, got ${JSON.stringify([...rep.rejected, ...rep.errors].map(short))}`);
        } else {
          // without a valid tag, every body is dropped before the core: counted, not stepped
          if (after.unauthenticated !== before.unauthenticated + 1) problems.add(`${where}: getStatus().unauthenticated went ${before.unauthenticated} -> ${after.unauthenticated}`);
          if (after.rejected !== before.rejected || after.strangers !== before.strangers) problems.add(`${where}: reached the core (rejected ${before.rejected} -> ${after.rejected}, strangers ${before.strangers} -> ${after.strangers})`);
          if (rep.rejected.length || rep.errors.length) problems.add(`${where}: reported ${short([...rep.rejected, ...rep.errors][0])}`);
        }
        if (after.term - before.term > 2 ** 32) problems.add(`${where}: term jumped ${before.term} -> ${after.term}`);
      }
    }
    for (const id of CLUSTER_IDS) {
      if (!legit.has(cluster.node(id).getData())) problems.add(`node ${JSON.stringify(id)} shows a value the test never replicated`);
    }
    problems.assertNone('junk with a secret');
    const leader = await replicate({ last: true });
    const st = CLUSTER_IDS.map((id) => cluster.node(id).getStatus());
    t.diagnostic(`${per} bodies per channel; after: leader ${JSON.stringify(leader)}, unauthenticated ${st.map((x) => x.unauthenticated).join('/')}, terms ${st.map((x) => x.term).join('/')}`);
    assert.deepEqual(trap.seen, [], `no uncaught exception or unhandled rejection (replay: ${REPLAY})`);
  } finally {
    trap.release();
    await cluster.destroy();
  }
});

test(`1,000 bad constructor option sets each throw a TypeError naming the option (seed ${SEED})`, { timeout: 30000 }, async () => {
  const r = rngFor(20);
  const agent = { async persist() {}, async restore() {} };
  const valid = () => ({ heartbeat: 50, minimumElectionTime: 200, maximumElectionTime: 400, persistAgent: agent });
  const TIMES = ['heartbeat', 'minimumElectionTime', 'maximumElectionTime'];
  const BAD_TIMES = [NaN, Infinity, -Infinity, 0, -0, -1, -1e-300, -(2 ** 53), '100', '', 100n, Symbol('t'), null, undefined, true, {}, [100], () => 100, new Number(100)];
  const BAD_AGENTS = [undefined, null, 5, 'agent', Symbol('a'), 1n, {}, [], { persist() {} }, { restore() {} }, { persist: 'x', restore() {} }, { persist() {}, restore: {} }, () => {}];
  const problems = problemLog();
  const tally = {};
  for (let i = 0; i < 1000; i++) {
    let options;
    let names; // the option(s) the message must name (one of)
    let label;
    const kind = r.int(10);
    if (kind === 0) {
      [options, label] = r.chance(0.5) ? [r.pick([undefined, null, 5, 'x', Symbol('o'), 3n, true, () => {}]), 'options not an object'] : [junk(r)[0], 'junk options'];
      if (typeof options === 'object' && options !== null) names = TIMES.slice(0, 1); // an object without the fields
      else names = ['options'];
    } else if (kind <= 6) {
      options = valid();
      const f = r.pick(TIMES);
      const v = r.pick(BAD_TIMES);
      if (r.chance(0.1)) delete options[f];
      else options[f] = v;
      // a bad earlier field is reported first or alone; make the others valid
      names = [f];
      label = `${f} = ${typeof v === 'symbol' ? 'symbol' : typeof v === 'bigint' ? `${v}n` : Object.is(v, -0) ? '-0' : String(v)}`;
    } else if (kind <= 8) {
      options = valid();
      options.persistAgent = r.pick(BAD_AGENTS);
      if (r.chance(0.1)) delete options.persistAgent;
      names = ['persistAgent'];
      label = 'persistAgent';
    } else {
      options = valid();
      const min = 1 + r.int(10000);
      options.minimumElectionTime = min;
      options.maximumElectionTime = Math.max(0.5, min - 1 - r.int(min));
      names = ['minimumElectionTime', 'maximumElectionTime'];
      label = `min ${min} > max ${options.maximumElectionTime}`;
    }
    if (r.chance(0.1) && typeof options === 'object' && options !== null) options = Object.freeze(options);
    tally[names[0]] = (tally[names[0]] || 0) + 1;
    let raft;
    try {
      raft = new Raftq(options);
    } catch (e) {
      if (!(e instanceof TypeError)) problems.add(`#${i} ${label}: threw ${e && e.constructor && e.constructor.name}: ${e && e.message}`);
      else if (!names.some((n) => e.message.includes(n))) problems.add(`#${i} ${label}: the message names none of ${names.join(', ')}: ${e.message}`);
      continue;
    }
    problems.add(`#${i} ${label}: accepted`);
    await raft.destroy();
  }
  problems.assertNone('bad options');
  // and valid extremes are accepted (a control: the loop above is not rejecting everything)
  for (const [h, mn, mx] of [[1, 1, 1], [0.001, 0.5, 0.75], [MAX, MAX, MAX], [1, 1, MAX]]) {
    const raft = new Raftq({ heartbeat: h, minimumElectionTime: mn, maximumElectionTime: mx, persistAgent: agent });
    await raft.destroy();
  }
});

// ---------------------------------------------------------------------------------------------
// product bugs this file found, each kept as a test (unreadable bodies, a field read twice,
// non-JSON data, a slow disk, option bounds)

/** A started single node with one peer acked, quiet timers; returns { raft, lines }. */
async function quietNode(opts = {}) {
  const raft = new Raftq({
    heartbeat: opts.heartbeat || 1000,
    minimumElectionTime: opts.minimumElectionTime || 20000,
    maximumElectionTime: opts.maximumElectionTime || 30000,
    persistAgent: { async persist() {}, async restore() {} },
  });
  const lines = [];
  raft.subscribe('log', (l) => lines.push(l.message));
  if (!opts.alone) await raft.dispatch('ackNode', { id: 'p', time: 1 });
  await raft.dispatch('serviceStarted', { node: { id: 'me', time: 1 } });
  return { raft, lines };
}

test(
  'unreadable bodies (throwing getters, Proxies) are rejected and counted like malformed ones',
  {
    timeout: 30000,
  },
  async () => {
    const r = rngFor(30);
    const { raft, lines } = await quietNode();
    const problems = problemLog();
    const summary = {};
    try {
      const events = [...CHANNELS.map((c) => c.event), 'ackNode', 'serviceStarted', 'serviceCrashed'];
      for (const event of events) {
        const ch = CHANNELS.find((c) => c.event === event);
        for (let i = 0; i < 50; i++) {
          let body;
          let label;
          if (ch && i % 2) {
            const base = { ...validFields(r, ch, 0), [ch.sender]: { id: 'p', time: 1 } };
            const f = r.pick([ch.sender, ...ch.fields]);
            body = throwingGetter(base, f);
            label = `throwing getter on \`${f}\``;
          } else if (event === 'serviceStarted' && i % 2) {
            body = { node: throwingGetter({ time: 1 }, 'id') };
            label = 'throwing getter on `node.id`';
          } else if (event === 'serviceCrashed' && i % 2) {
            body = throwingGetter({}, 'reason');
            label = 'throwing getter on `reason`';
          } else [body, label] = unreadable(r, true);
          const before = raft.getStatus().rejected;
          const from = lines.length;
          const outcome = await settle(raft, event, body);
          const news = lines.slice(from);
          const where = `${event} #${i} (${label})`;
          if (outcome !== 'resolved') problems.add(`${where}: dispatch ${outcome}`);
          const rej = news.filter((m) => m.startsWith(`raft rejected ${event}: `));
          const sum = (summary[event] = summary[event] || { rejected: 0, 'raft error': 0, silent: 0, uncounted: 0 });
          if (rej.length === 1 && !news.some((m) => m.startsWith('raft error'))) sum.rejected++;
          else {
            if (news.some((m) => m.startsWith('raft error'))) sum['raft error']++;
            else if (!rej.length) sum.silent++;
            problems.add(`${where}: expected one "raft rejected ${event}: ..." line, got ${JSON.stringify(news)}`);
          }
          if (ch && raft.getStatus().rejected !== before + 1) {
            sum.uncounted++;
            problems.add(`${where}: not counted in getStatus().rejected`);
          }
        }
      }
      problems.assertNone(`unreadable bodies, per event ${JSON.stringify(summary)}`);
    } finally {
      await raft.destroy();
    }
  },
);

test(
  'a field read twice by index.js cannot make getRole() disagree with the core',
  {
    timeout: 30000,
  },
  async () => {
    // a lone leader, then a peer acked; the peer's syncData of a higher term must make it a follower
    // (check-quorum runs every minimumElectionTime: long enough for the few steps below)
    const { raft, lines } = await quietNode({ alone: true, minimumElectionTime: 200, maximumElectionTime: 300 });
    try {
      await waitFor(() => raft.getRole() === RaftRole.LEADER, 5000, 'the lone node leads');
      await raft.dispatch('ackNode', { id: 'p', time: 1 });
      const s = raft.getStatus();
      let reads = 0;
      const body = { node: { id: 'p', time: 1 }, term: s.term + 1, dataTerm: s.term + 1, dataIndex: s.version.index + 1, commitTerm: s.commit.term, commitIndex: s.commit.index };
      Object.defineProperty(body, 'data', {
        get() {
          if (++reads === 1) return { from: 'p' };
          throw new Error('second read of data');
        },
      });
      assert.equal(await settle(raft, 'dataReceived', body), 'resolved');
      const after = raft.getStatus();
      if (after.term > s.term) {
        // the core took the higher term: it is no leader any more, and the JS side must know
        assert.notEqual(raft.getRole(), RaftRole.LEADER, `core at term ${after.term} > ${s.term}, yet getRole() is LEADER; log: ${JSON.stringify(lines.slice(-3))}`);
        assert.notEqual(raft.getLeader(), 'me', 'getLeader() still names the deposed node');
      }
    } finally {
      await raft.destroy();
    }
  },
);

test('a value JSON cannot hold is rejected on the leader (every persist agent would fail on it for good); the cluster keeps committing', { timeout: 30000 }, async () => {
  const cluster = createMemoryCluster({ ids: ['a', 'b', 'c'], heartbeat: 20, minimumElectionTime: 150, maximumElectionTime: 300 });
  const logs = captureLogs(cluster);
  try {
    await cluster.start();
    const leader = await waitFor(() => cluster.agreedLeader(), 5000, 'one agreed leader');
    const raft = cluster.node(leader);
    const cyclic = { a: 1 };
    cyclic.self = cyclic;
    for (const bad of [10n, cyclic, { nested: [1, 2n] }, Symbol('s'), () => 1]) {
      const before = raft.getStatus().version;
      await assert.rejects(raft.replicate(bad), TypeError, `replicate(${typeof bad}) did not reject with a TypeError`);
      assert.deepEqual(raft.getStatus().version, before, 'no version was made');
    }
    const rejected = logs.get(leader).filter((m) => m.startsWith('raft rejected replicateData: the data must be a JSON value'));
    assert.equal(rejected.length, 5, JSON.stringify(logs.get(leader).slice(-8)));
    assert.ok(await raft.replicate({ ok: true }), 'a JSON value still commits');
    await waitFor(() => cluster.ids.every((id) => JSON.stringify(cluster.node(id).getData()) === '{"ok":true}'), 3000, 'every node on the JSON value');
  } finally {
    await cluster.destroy();
  }
});

test('50,000 well-formed bodies from distinct strangers keep no memory and log a bounded number of lines', { timeout: 60000 }, async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const { raft, lines } = await quietNode();
  try {
    const N = 50000;
    const pad = 'x'.repeat(ID_MAX_LEN - 8); // the longest id accepted
    const s0 = raft.getStatus();
    const from = lines.length;
    gc();
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) {
      // as JSON.parse hands it over: a flat string of its own per message
      const id = JSON.parse(`"${String(i).padStart(8, '0')}${pad}"`);
      await raft.dispatch('dataReceived', { node: { id, time: 1 }, term: 0, dataTerm: 0, dataIndex: 0, commitTerm: 0, commitIndex: 0 });
      if (i % 500 === 0) await delay(0);
    }
    gc();
    const grown = (process.memoryUsage().heapUsed - h0) / 1e6;
    const s1 = raft.getStatus();
    const logged = lines.length - from;
    t.diagnostic(`heap grew ${grown.toFixed(1)} MB after ${N} strangers with ${ID_MAX_LEN}-character ids; ${logged} log lines; strangers ${s0.strangers} -> ${s1.strangers}`);
    // an id kept per stranger (key + id + map entry) would be ~30 MB here
    assert.ok(grown < 8, `heap grew ${grown.toFixed(1)} MB after ${N} stale heartbeats from distinct strangers`);
    if (typeof s1.strangers === 'number') assert.equal(s1.strangers - s0.strangers, N, 'every one counted in getStatus().strangers');
    assert.equal(s1.rejected, s0.rejected, 'none of them is malformed');
    assert.ok(logged < 100, `${logged} log lines for ${N} strangers: reporting is not bounded`);
    assert.equal(s1.term, s0.term, 'the term did not move');
  } finally {
    await raft.destroy();
  }
});

test(
  'a uniformly slow persistAgent (200 ms, the README timing) still lets a leader commit',
  { timeout: 30000 },
  async (t) => {
    // no junk at all: a disk that takes 200 ms per write, on every node, README's options
    const stored = new Map();
    const cluster = createMemoryCluster({
      ids: ['a', 'b', 'c'],
      heartbeat: 100,
      minimumElectionTime: 200,
      maximumElectionTime: 800,
      persistAgent: (id) => ({
        async persist(node, data) {
          await delay(200);
          stored.set(id, data);
        },
        async restore() {
          return stored.get(id);
        },
      }),
    });
    const logs = captureLogs(cluster);
    try {
      await cluster.start();
      const t0 = Date.now();
      let committed = false;
      while (!committed && Date.now() - t0 < 15000) {
        const leader = cluster.agreedLeader();
        if (leader === undefined) await delay(20);
        else committed = await cluster.node(leader).replicate({ slow: true }).then(() => true, () => false);
      }
      const all = [...logs.values()].flat();
      t.diagnostic(`after ${Date.now() - t0} ms: committed ${committed}; ${all.filter((m) => m === 'node become LEADER').length} leaders elected, ${all.filter((m) => m.startsWith('leader lost its majority')).length} lost their majority; terms ${cluster.ids.map((id) => cluster.node(id).getStatus().term).join('/')}`);
      assert.ok(committed, `no commit within 15 s with a 200 ms persist\n  ${dump(cluster, logs)}`);
    } finally {
      await cluster.destroy();
    }
  },
);

test(
  'timing options beyond 2^53 - 1 throw a TypeError naming the option',
  {
    timeout: 10000,
  },
  () => {
    const agent = { async persist() {}, async restore() {} };
    for (const name of ['heartbeat', 'minimumElectionTime', 'maximumElectionTime']) {
      for (const v of [2 ** 53, 1e300, Number.MAX_VALUE]) {
        const options = { heartbeat: 50, minimumElectionTime: 200, maximumElectionTime: 400, persistAgent: agent, [name]: v };
        if (name === 'minimumElectionTime') options.maximumElectionTime = v;
        let err = null;
        try {
          new Raftq(options).destroy();
        } catch (e) {
          err = e;
        }
        assert.ok(err instanceof TypeError && err.message.includes(name), `${name} = ${v}: ${err ? `${err.constructor.name}: ${err.message}` : 'accepted'}`);
      }
    }
  },
);
