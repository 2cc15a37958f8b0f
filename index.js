'use strict';
// raftq-native: a drop-in replacement for `raftq`.
//
// The Raft logic is native (Rust, `raftq-core`); this file is the thin JS layer on top of it.
// It keeps what is JS-native: the event bus (listeners run in microtasks, `dispatch` resolves
// when all have finished and never rejects), the members' objects as acked, the JS type of every
// node id, the persist queue and the promises of replicate() / transferLeadership(), which the
// core's outcome records settle. The native `NativeNode` converts, steps the core, keeps the
// data value of each version (by reference, released when the core says so) and returns its
// outputs as records; everything about their layout (record kinds, channels, fields, tags, the
// roles) comes from the addon's `protocol()` and enums, from which the hot-path code below is
// generated once at load.

const crypto = require('node:crypto');
const native = loadNative();
const { NativeNode } = native;

function loadNative() {
  const { platform, arch } = process;
  const candidates = [];
  const abi = platform === 'linux' ? (isMusl() ? '-musl' : '-gnu') : platform === 'win32' ? '-msvc' : '';
  const suffix = `${platform}-${arch}${abi}`;
  candidates.push(`./raftq-native.${suffix}.node`);
  candidates.push(`raftq-native-${suffix}`);
  candidates.push('./raftq-native.node');
  const errors = [];
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      errors.push(`${c}: ${e && e.message}`);
    }
  }
  throw new Error(
    `raftq-native: cannot load the native addon for ${suffix} (run \`npm run build\`):\n  ${errors.join('\n  ')}`,
  );
}

function isMusl() {
  try {
    const report = process.report && process.report.getReport();
    const header = report && (typeof report === 'string' ? JSON.parse(report) : report).header;
    return !(header && header.glibcVersionRuntime);
  } catch {
    return false;
  }
}

/** raftq's roles (from the addon), a real (non-const) enum with reverse mapping:
 * `RaftRole[3] === 'LEADER'`. */
const RaftRole = {};
for (const [name, value] of Object.entries(native.RaftRole)) {
  if (typeof value === 'number') {
    RaftRole[name] = value;
    RaftRole[value] = name;
  }
}
Object.freeze(RaftRole);

const PROTOCOL = native.protocol();
const {
  Role: REC_ROLE,
  Leader: REC_LEADER,
  Data: REC_DATA,
  Log: REC_LOG,
  Proposal: REC_PROPOSAL,
  Transfer: REC_TRANSFER,
} = native.RecordKind;
const { to: SEND_TO, channel: SEND_CHANNEL, data: SEND_DATA } = PROTOCOL.send;

/** incoming event name -> channel index; per channel, its spec */
const CHANNELS = Object.create(null);
PROTOCOL.channels.forEach((c, i) => {
  CHANNELS[c.incoming] = i;
});
const SPECS = PROTOCOL.channels;

/** A JS identifier from the protocol, checked before it goes into generated code. */
function ident(name) {
  if (typeof name !== 'string' || !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) {
    throw new Error(`raftq-native: the addon's protocol has a bad field name ${JSON.stringify(name)}`);
  }
  return name;
}

// Body builders, one per channel, generated from the protocol: a send record's fields become an
// object literal (as fast as a hand-written one). `(r, destination, timeout, self) => body`.
const BUILDERS = SPECS.map((c) => {
  const at = PROTOCOL.send.fields;
  const props = c.outFields.map((f, i) => `${ident(f)}: r[${at + i}]`);
  const tail = `destination, timeout, ${ident(c.sender)}: self`;
  const full = `{ ${props.join(', ')}, ${tail} }`;
  if (!c.lastOptional) return new Function('r', 'destination', 'timeout', 'self', `return ${full};`);
  const short = `{ ${props.slice(0, -1).join(', ')}, ${tail} }`;
  return new Function('r', 'destination', 'timeout', 'self', `return r.length > ${at + props.length - 1} ? ${full} : ${short};`);
});

// The field buffer of `NativeNode.receiveFields`: per field a tag and a value (layout in
// PROTOCOL.fields). JS only reads and classifies the fields; the core checks them. One buffer
// per thread: filled and consumed within one synchronous call.
const FB = PROTOCOL.fields;
const FIELDS = new Float64Array(FB.length);
const TYPE_TAGS = Object.create(null);
FB.typeNames.forEach((n, i) => {
  TYPE_TAGS[n] = FB.typeTags[i];
});

function putField(slot, v) {
  if (typeof v === 'number') {
    FIELDS[slot] = FB.tagNumber;
    FIELDS[slot + 1] = v;
  } else if (typeof v === 'boolean') {
    FIELDS[slot] = FB.tagBool;
    FIELDS[slot + 1] = v ? 1 : 0;
  } else if (v === undefined || v === null) {
    FIELDS[slot] = FB.tagMissing;
  } else {
    FIELDS[slot] = TYPE_TAGS[typeof v] || FB.tagUnknown;
  }
}

// Field readers, one per channel, generated from the protocol: exactly the fields the core's
// `wire::decode` reads on it. `(m) => void`, filling FIELDS.
const FILLERS = SPECS.map((c) => {
  const lines = c.inFields.map((f) => `put(${2 * FB.slotNames.indexOf(f)}, m.${ident(f)});`);
  if (c.carriesData) {
    lines.push(`F[${2 * FB.slotNames.length}] = data === undefined ? ${FB.tagMissing} : ${FB.tagNumber};`);
  }
  return new Function('F', 'put', `return function fill(m, data) { ${lines.join(' ')} };`)(FIELDS, putField);
});

/** Fill FIELDS with exactly the fields the core's `wire::decode` reads on `channel`; `data` is
 * the body's `data`, read once by the caller. */
function fillFields(channel, m, data) {
  FILLERS[channel](m, data);
}

const NO_LISTENERS = Object.freeze([]);

function noop() {}

function isObject(v) {
  return typeof v === 'object' && v !== null;
}

function isCounter(v) {
  return Number.isSafeInteger(v) && v >= 0;
}

function isId(v) {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function describe(e) {
  if (e instanceof Error) return e.message;
  try {
    return String(e);
  } catch {
    return 'unknown error';
  }
}

function validateOptions(options) {
  if (!isObject(options)) throw new TypeError('Raftq: options must be an object');
  for (const name of ['heartbeat', 'minimumElectionTime', 'maximumElectionTime']) {
    const v = options[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > Number.MAX_SAFE_INTEGER) {
      throw new TypeError(`Raftq: options.${name} must be a number > 0 and at most 2^53 - 1 ms (got ${describe(v)})`);
    }
  }
  if (options.minimumElectionTime > options.maximumElectionTime) {
    throw new TypeError('Raftq: options.minimumElectionTime must be <= options.maximumElectionTime');
  }
  const agent = options.persistAgent;
  if (!isObject(agent) || typeof agent.persist !== 'function' || typeof agent.restore !== 'function') {
    throw new TypeError('Raftq: options.persistAgent must have persist(node, data) and restore(node) functions');
  }
  const { secret, cluster } = options;
  if (secret !== undefined && secret !== null) {
    if (!(typeof secret === 'string' || secret instanceof Uint8Array) || secret.length === 0) {
      throw new TypeError('Raftq: options.secret must be a non-empty string, Buffer or Uint8Array');
    }
  }
  if (cluster !== undefined && cluster !== null) {
    if (typeof cluster !== 'string' || cluster.length === 0 || cluster.length > 256) {
      throw new TypeError('Raftq: options.cluster must be a non-empty string of at most 256 characters');
    }
  }
}

// ---- authentication (options `secret`, `cluster`; the tag itself: src/binding/auth.rs) ----


/** SHA-256 of `JSON.stringify(data)` (what a tag covers of `data`); throws when it is not JSON. */
function dataDigest(data) {
  const text = JSON.stringify(data);
  if (typeof text !== 'string') throw new TypeError(`data is not JSON (${typeof data})`);
  return crypto.hash ? crypto.hash('sha256', text, 'buffer') : crypto.createHash('sha256').update(text).digest();
}

/** The digest of an incoming syncData's `data` (undefined without data, or when it is not JSON:
 * the native side then drops a body that has data but no digest). */
function receivedDigest(data) {
  try {
    return data !== undefined ? dataDigest(data) : undefined;
  } catch {
    return undefined;
  }
}

/** Why JSON cannot represent `value` (so no persist agent could write it), or null. */
function jsonProblem(value) {
  try {
    return JSON.stringify(value) === undefined ? `${typeof value} is not JSON` : null;
  } catch (e) {
    return describe(e);
  }
}

/** An id as a log line shows it: strings quoted, so `1` and `'1'` read differently. */
function showId(v) {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' ? String(v) : `a ${typeof v}`;
}

/**
 * What `persistAgent.restore(node)` returned, as the native start expects it, plus the data
 * values. Throws a TypeError for a shape it cannot trust (the node then does not start: safer
 * than forgetting a vote), or for a body another node (or cluster) persisted: its term and vote
 * are not ours.
 */
function parseRestored(r, id, cluster) {
  if (r === undefined || r === null) {
    return { term: 0, votedFor: null, dataTerm: 0, dataIndex: 0, commitTerm: 0, commitIndex: 0, data: {}, committedData: undefined };
  }
  if (!isObject(r)) throw new TypeError(`restored data must be an object, got ${typeof r}`);
  // raftq 1.0.0's bodies have no `nodeId` (nor `cluster`): they restore as before
  if (r.nodeId !== undefined && r.nodeId !== id) {
    throw new TypeError(`the persisted state belongs to another node (nodeId ${showId(r.nodeId)}, this node is ${showId(id)})`);
  }
  // options.cluster: a body that names a cluster restores only into that cluster
  if (r.cluster !== undefined && r.cluster !== cluster) {
    const mine = cluster === undefined ? 'has no options.cluster' : `is in ${showId(cluster)}`;
    throw new TypeError(`the persisted state belongs to another cluster (${showId(r.cluster)}, this node ${mine})`);
  }
  if (!isCounter(r.term)) throw new TypeError('restored `term` must be a non-negative integer');
  const votedFor = r.votedFor === undefined ? null : r.votedFor;
  if (votedFor !== null && !isId(votedFor)) throw new TypeError('restored `votedFor` must be a node id or null');
  const data = r.data === undefined ? {} : r.data;
  const ours = ['dataTerm', 'dataIndex', 'commitTerm', 'commitIndex'];
  const present = ours.filter((f) => r[f] !== undefined);
  if (present.length === 0) {
    // raftq 1.0.0's `{ term, votedFor, data }`: its data is version zero
    return { term: r.term, votedFor, dataTerm: 0, dataIndex: 0, commitTerm: 0, commitIndex: 0, data, committedData: undefined };
  }
  for (const f of ours) {
    if (!isCounter(r[f])) throw new TypeError(`restored \`${f}\` must be a non-negative integer`);
  }
  const sameVersion = r.dataTerm === r.commitTerm && r.dataIndex === r.commitIndex;
  if (!sameVersion && !('committedData' in r)) {
    throw new TypeError('restored `committedData` is missing (the commit version differs from the data version)');
  }
  if (r.commitTerm > r.dataTerm || (r.commitTerm === r.dataTerm && r.commitIndex > r.dataIndex)) {
    throw new TypeError('restored commit version is ahead of the data version');
  }
  return {
    term: r.term,
    votedFor,
    dataTerm: r.dataTerm,
    dataIndex: r.dataIndex,
    commitTerm: r.commitTerm,
    commitIndex: r.commitIndex,
    data,
    committedData: sameVersion ? undefined : r.committedData,
  };
}

class Raftq {
  constructor(options) {
    validateOptions(options);
    this._options = options;
    this._agent = options.persistAgent;
    this._timeout = options.minimumElectionTime / 2;
    const secret = options.secret === null ? undefined : options.secret;
    /** with a secret: outgoing bodies are tagged, incoming ones checked */
    this._auth = secret !== undefined;
    this._cluster = options.cluster === null ? undefined : options.cluster;
    this._native = new NativeNode(
      options.heartbeat,
      options.minimumElectionTime,
      options.maximumElectionTime,
      typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret,
      this._cluster,
      this._agent,
    );
    /** @type {Map<string, Function[]>} copy-on-write listener arrays */
    this._listeners = new Map();
    /** members as acked: key -> RaftNode */
    this._members = new Map();
    /** key -> id in its JS type, for members and this node only (any key decodes to its id) */
    this._ids = new Map();
    /** id -> key (or null for an invalid id), a cache of `NativeNode.key` */
    this._keys = new Map();
    this._role = RaftRole.FOLLOWER;
    this._leader = null;
    this._selfKey = null;
    this._node = undefined;
    this._placeholder = { id: undefined, time: 0 };
    this._started = false;
    this._destroyed = false;
    this._destroying = null;
    this._startGen = 0;
    /** the start generation whose restart is restoring (the core is suspended), or 0 */
    this._restoring = 0;
    /** send records whose destination is not a member: dropped, never addressed to `{ id }` */
    this._dropped = 0;
    /** inputs whose message threw while it was read (counted with the rejected ones) */
    this._unreadableCount = 0;
    // replicate() promises by version key, and transferLeadership() promises oldest first: the
    // core decides each (REC_PROPOSAL, REC_TRANSFER)
    this._waiters = new Map();
    this._transferWaiters = [];
    // the native side's drain callback: timer outputs, what a completed persist released, log
    // lines (also after destroy(): a failed final write is reported)
    this._wake = () => {
      try {
        this._apply(this._native.drain());
      } catch (e) {
        this._log(`raft internal error: ${describe(e)}`);
      }
    };
    this._log('raft initialized');
  }

  // ---- public API (raftq) ----

  getLeader() {
    return this._leader === null ? null : this._idOf(this._leader);
  }

  getRole() {
    return this._role;
  }

  getNode() {
    return this._node !== undefined ? this._node : this._placeholder;
  }

  getFollowers() {
    const out = [];
    for (const [key, node] of this._members) if (key !== this._selfKey) out.push(node);
    return out;
  }

  getData() {
    return this._native.data();
  }

  subscribe(type, listener) {
    if (typeof listener !== 'function') throw new TypeError('Raftq.subscribe: listener must be a function');
    const current = this._listeners.get(type) || NO_LISTENERS;
    this._listeners.set(type, current.concat([listener]));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const ls = this._listeners.get(type);
      if (!ls) return;
      const i = ls.indexOf(listener);
      if (i < 0) return;
      const next = ls.slice(0, i).concat(ls.slice(i + 1));
      if (next.length) this._listeners.set(type, next);
      else this._listeners.delete(type);
    };
  }

  dispatch(type, message) {
    const tasks = [];
    try {
      const r = this._input(type, message);
      if (r !== undefined) tasks.push(r.catch((e) => this._unreadable(type, e)));
    } catch (e) {
      this._unreadable(type, e);
    }
    const ls = this._listeners.get(type);
    if (ls) {
      for (const l of ls) {
        tasks.push(
          Promise.resolve()
            .then(() => l(message))
            .catch((e) => this._listenerFailed(type, e)),
        );
      }
    }
    if (tasks.length === 0) return Promise.resolve();
    return Promise.all(tasks).then(noop, noop);
  }

  destroy() {
    if (this._destroying) return this._destroying;
    this._destroying = this._destroy();
    return this._destroying;
  }

  // ---- extras ----

  getStatus() {
    const s = this._native.status();
    const id = (k) => (k === null || k === undefined ? null : this._idOf(k));
    return {
      id: this._node !== undefined ? this._node.id : null,
      role: this._role,
      preCandidate: s.preCandidate,
      term: s.term,
      votedFor: id(s.votedFor),
      leader: this.getLeader(),
      version: s.version,
      commit: s.commit,
      members: s.members.map((k) => this._idOf(k)),
      persist: { requested: s.persistRequested, done: s.persistDone },
      rejected: s.rejected + this._unreadableCount,
      held: s.held,
      strangers: s.strangers,
      dropped: this._dropped,
      unauthenticated: s.unauthenticated,
      values: s.values,
    };
  }

  replicate(data) {
    try {
      return this._replicate(data);
    } catch (e) {
      this._log(`raft error in replicate: ${describe(e)}`);
      return Promise.resolve(false);
    }
  }

  transferLeadership(id) {
    if (!this._started || this._destroyed) return Promise.resolve(false);
    let r;
    try {
      r = this._native.transfer(id === undefined ? null : id);
    } catch (e) {
      this._log(`raft error in transferLeadership: ${describe(e)}`);
      return Promise.resolve(false);
    }
    if (r.target === null) {
      this._log(`raft transfer refused: ${r.reason}`);
      this._apply(r.records);
      return Promise.resolve(false);
    }
    const promise = new Promise((resolve) => this._transferWaiters.push(resolve));
    this._apply(r.records);
    return promise;
  }

  // ---- inputs ----

  /** The internal handler of an input event; returns a Promise to wait for, or undefined. */
  _input(type, message) {
    switch (type) {
      case 'voteRequestReceived':
      case 'voteResponseReceived':
      case 'dataReceived':
      case 'dataResponseReceived':
        this._receive(type, message);
        return undefined;
      case 'ackNode':
        this._ackNode(message);
        return undefined;
      case 'replicateData':
        return this._replicate(message).then(noop);
      case 'serviceStarted':
        return this._serviceStarted(message);
      case 'serviceCrashed':
        this._serviceCrashed(message);
        return undefined;
      default:
        return undefined;
    }
  }

  /** An input whose message threw while it was read (a getter, a Proxy): rejected, counted. */
  _unreadable(type, e) {
    this._unreadableCount++;
    this._log(`raft rejected ${describe(type)}: the message cannot be read: ${describe(e)}`);
  }

  _receive(type, message) {
    if (!this._started || this._destroyed || this._restoring) return;
    const channel = CHANNELS[type];
    // each field is read once: a getter may answer differently the second time
    const data = SPECS[channel].carriesData && typeof message === 'object' && message !== null ? message.data : undefined;
    const digest = this._auth ? receivedDigest(data) : undefined;
    const sender = typeof message === 'object' && message !== null ? message[SPECS[channel].sender] : undefined;
    if (typeof sender !== 'object' || sender === null) {
      // not the usual shape: the native side reads and rejects it with the exact reason
      this._apply(this._native.receive(channel, message, digest, data));
      return;
    }
    const id = sender.id;
    const key = this._keyOf(id);
    fillFields(channel, message, data);
    const r = this._native.receiveFields(channel, message, key, FIELDS, digest, data);
    // nothing is kept per sender here: ids of members are known from ackNode, any other key
    // decodes to its id (`_idOf`)
    if (r === null) return;
    this._apply(r);
  }

  /** The native key of a node id (null when invalid), cached: ids repeat on every message. The
   * cache is bounded and keeps valid ids only (at most 256 characters each). */
  _keyOf(id) {
    let key = this._keys.get(id);
    if (key === undefined) {
      key = this._native.key(id);
      if (key === null) return null;
      if (this._keys.size >= 1024) this._keys.clear();
      this._keys.set(id, key);
    }
    return key;
  }

  _ackNode(node) {
    if (this._destroyed) return;
    if (!isObject(node)) {
      this._log('raft rejected ackNode: the message must be a RaftNode object');
      return;
    }
    const keep = !!node.time;
    const r = this._native.ackNode(node.id, keep);
    const key = r.key;
    if (key === null) {
      this._log(`raft rejected ackNode: \`id\` ${r.reason}`);
      return;
    }
    if (keep) {
      const known = this._members.has(key);
      this._members.set(key, node);
      this._ids.set(key, node.id);
      if (!known) this._log(`raft node added: ${node.id}`);
    } else if (this._members.delete(key)) {
      if (key !== this._selfKey) this._ids.delete(key);
      this._log(`raft node destroyed: ${node.id}`);
    }
    this._apply(r.records);
  }

  async _serviceStarted(message) {
    if (this._destroyed) return;
    const node = isObject(message) ? message.node : undefined;
    if (!isObject(node) || !isId(node.id)) {
      this._log('raft rejected serviceStarted: `node` must be a RaftNode with a string or number id');
      return;
    }
    const problem = this._native.idProblem(node.id);
    if (problem !== null) {
      this._log(`raft rejected serviceStarted: \`node.id\` ${problem}`);
      return;
    }
    const gen = ++this._startGen;
    if (this._started || this._restoring) {
      // a restart: nothing is stepped and no timer fires until the restored state is in (a
      // vote given meanwhile would be forgotten by the start: two votes in one term)
      this._restoring = gen;
      this._started = false;
      this._apply(this._native.suspend());
      this._setRole(RaftRole.FOLLOWER);
      if (this._leader !== null) {
        this._leader = null;
        this._emit('leaderChanged', null);
      }
    }
    const failed = (why) => {
      if (gen !== this._startGen) return;
      this._restoring = 0;
      this._log(`raft not started: ${why}`);
    };
    let restored;
    try {
      // a restart reads what was persisted: let requested writes land first (bounded)
      const waited = await this._native.settle();
      if (waited !== null) this._log(`raft restart: a persist has not settled after ${waited} ms; restoring anyway`);
      if (gen !== this._startGen || this._destroyed) return; // superseded
      restored = parseRestored(await this._agent.restore(node), node.id, this._cluster);
    } catch (e) {
      failed(`restore failed: ${describe(e)}`);
      return;
    }
    if (gen !== this._startGen || this._destroyed) return; // superseded
    let r;
    try {
      r = this._native.start(node, restored, this._wake);
    } catch (e) {
      failed(describe(e));
      return;
    }
    this._restoring = 0;
    this._node = node;
    this._started = true;
    this._selfKey = r.self;
    this._ids.set(r.self, node.id);
    const hadLeader = this._leader !== null;
    this._leader = null;
    if (hadLeader) this._emit('leaderChanged', null);
    this._apply(r.records);
  }

  _serviceCrashed(message) {
    if (this._destroyed) return;
    const reason = isObject(message) ? message.reason : message;
    this._log(`raft crashed: ${describe(reason)}`);
    if (!this._started) return;
    // the core persists the crashed state itself (a Persist output)
    this._apply(this._native.crashed());
  }

  _replicate(value) {
    if (this._destroyed || !this._started) {
      this._log('raft ignored replicateData: the node is not started');
      return Promise.resolve(false);
    }
    if (value === undefined) {
      this._log('raft rejected replicateData: the data must not be undefined');
      return Promise.resolve(false);
    }
    // checked on the leader only (elsewhere it is ignored anyway, at no cost): a value JSON
    // cannot hold would make every node's persist agent fail on it, for good
    const notJson = this._role === RaftRole.LEADER ? jsonProblem(value) : null;
    if (notJson !== null) {
      this._log(`raft rejected replicateData: the data must be a JSON value (${notJson})`);
      return Promise.resolve(false);
    }
    const r = this._native.propose(value);
    if (r.version === null) {
      this._log(`raft ignored replicateData: ${r.reason}`);
      this._apply(r.records);
      return Promise.resolve(false);
    }
    const promise = new Promise((resolve) => this._waiters.set(r.version, resolve));
    this._apply(r.records);
    return promise;
  }

  // ---- outputs ----

  /** Handle the records of one native call. */
  _apply(records) {
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (Array.isArray(r)) {
        this._send(r);
        continue;
      }
      switch (r.kind) {
        case REC_ROLE:
          this._setRole(r.role);
          break;
        case REC_LEADER:
          this._leader = r.leader;
          this._emit('leaderChanged', this.getLeader());
          break;
        case REC_DATA:
          this._emit('dataChanged', r.value);
          break;
        case REC_PROPOSAL: {
          const resolve = this._waiters.get(r.version);
          if (resolve !== undefined) {
            this._waiters.delete(r.version);
            resolve(r.committed);
          }
          break;
        }
        case REC_TRANSFER: {
          const resolve = this._transferWaiters.shift();
          if (resolve !== undefined) resolve(r.succeeded);
          break;
        }
        case REC_LOG:
          this._log(r.message);
          break;
        default:
          break;
      }
    }
  }

  _setRole(role) {
    if (role !== this._role) {
      this._role = role;
      this._emit('roleChanged', role);
    }
  }

  /** A send record (layout in PROTOCOL.send): the body is built by the channel's generated
   * builder, only when someone listens to its event. */
  _send(r) {
    const to = r[SEND_TO];
    const destination = this._members.get(to);
    if (destination === undefined) {
      // only members are ever addressed (a removed member's held reply, say): dropped, counted
      this._dropped++;
      return;
    }
    const channel = r[SEND_CHANNEL];
    const spec = SPECS[channel];
    if (!this._listeners.has(spec.outgoing)) return;
    const body = BUILDERS[channel](r, destination, this._timeout, this._node);
    const data = r[SEND_DATA];
    if (data !== undefined) body.data = data;
    this._emit(spec.outgoing, this._tagged(channel, to, body));
  }

  /** With a secret: `body` with its `tag` (src/binding/auth.rs), for the node whose key is `to`.
   * A body that cannot be signed (data that is not JSON) goes untagged: receivers drop it. */
  _tagged(channel, to, body) {
    if (!this._auth) return body;
    try {
      const digest = SPECS[channel].carriesData && body.data !== undefined ? dataDigest(body.data) : undefined;
      fillFields(channel, body, body.data);
      body.tag = this._native.sign(channel, to, body, FIELDS, digest);
    } catch (e) {
      this._log(`raft cannot sign ${SPECS[channel].outgoing}: ${describe(e)}`);
    }
    return body;
  }

  _idOf(key) {
    const id = this._ids.get(key);
    if (id !== undefined) return id;
    // not seen yet: decode the key itself
    return key.startsWith('n:') ? Number(key.slice(2)) : key.slice(2);
  }

  // ---- persistence ----

  // ---- event bus ----

  _emit(type, payload) {
    const ls = this._listeners.get(type);
    if (!ls) return;
    for (const l of ls) {
      queueMicrotask(() => {
        try {
          const r = l(payload);
          if (r && typeof r.then === 'function') r.then(undefined, (e) => this._listenerFailed(type, e));
        } catch (e) {
          this._listenerFailed(type, e);
        }
      });
    }
  }

  _listenerFailed(type, e) {
    if (type === 'log') return; // never loop
    this._log(`raft listener for ${describe(type)} failed: ${describe(e)}`);
  }

  _log(message) {
    this._emit('log', { message });
  }

  async _destroy() {
    const wasStarted = this._started || this._restoring !== 0;
    this._destroyed = true;
    this._started = false;
    this._restoring = 0;
    this._startGen++;
    try {
      // the final state goes through the native persist queue (after the call in flight,
      // never beside it), covering any request still pending
      this._native.stop(wasStarted);
    } catch (e) {
      this._log(`raft internal error: ${describe(e)}`);
    }
    for (const resolve of this._waiters.values()) resolve(false);
    this._waiters.clear();
    for (const resolve of this._transferWaiters.splice(0)) resolve(false);
    const waited = await this._native.settle();
    if (waited !== null) {
      this._log(`raft destroy: a persist has not settled after ${waited} ms; the final state is not written`);
      // nothing more is written: a late write could land over a newer instance's state
      this._native.closePersist();
    }
    this._log('raft destroyed');
    // the log listeners run in microtasks: let them see the last line before removing them
    await Promise.resolve();
    this._listeners.clear();
    this._native.release();
  }
}

exports.Raftq = Raftq;
exports.RaftRole = RaftRole;
