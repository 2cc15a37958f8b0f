'use strict';
// Issue 8: the error classes are the addon's exports (CommonJS and ESM named imports), and the
// new options are validated with clear TypeErrors.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const pkg = require('..');

const agent = { persist() {}, restore() {} };
const base = { heartbeat: 10, minimumElectionTime: 100, maximumElectionTime: 200, persistAgent: agent };

test('error classes: instanceof Error, name and code; exported to ESM named imports', () => {
  const cases = [['NotLeaderError', 'NOT_LEADER'], ['TimeoutError', 'TIMEOUT'], ['SupersededError', 'SUPERSEDED'], ['DestroyedError', 'DESTROYED']];
  for (const [name, code] of cases) {
    const C = pkg[name];
    assert.equal(typeof C, 'function', name);
    const e = new C('msg');
    assert.ok(e instanceof Error && e instanceof C, name);
    assert.equal(e.name, name);
    assert.equal(e.code, code);
    assert.equal(e.message, 'msg');
  }
  assert.equal(new pkg.NotLeaderError('x').leader, null);
  const url = require('node:url').pathToFileURL(path.join(__dirname, '..', 'index.js')).href;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    `import { NotLeaderError, TimeoutError, SupersededError, DestroyedError } from '${url}';
     const e = new NotLeaderError('m', 7);
     console.log(JSON.stringify([e instanceof Error, e.code, e.leader, typeof TimeoutError, typeof SupersededError, typeof DestroyedError]));`], { encoding: 'utf8', timeout: 20000 });
  assert.deepEqual(JSON.parse(out), [true, 'NOT_LEADER', 7, 'function', 'function', 'function']);
});

test('options: preVote, checkQuorum, replicateTimeout, logLevel are checked', () => {
  const bad = [
    [{ preVote: 1 }, /options\.preVote must be a boolean/],
    [{ checkQuorum: 'yes' }, /options\.checkQuorum must be a boolean/],
    [{ replicateTimeout: 0 }, /options\.replicateTimeout must be a number > 0/],
    [{ replicateTimeout: '5' }, /options\.replicateTimeout must be a number > 0/],
    [{ replicateTimeout: Infinity }, /options\.replicateTimeout must be a number > 0/],
    [{ logLevel: 'loud' }, /options\.logLevel must be one of/],
  ];
  for (const [o, re] of bad) assert.throws(() => new pkg.Raftq({ ...base, ...o }), (e) => e instanceof TypeError && re.test(e.message), JSON.stringify(o));
  for (const o of [{ preVote: false, checkQuorum: false }, { replicateTimeout: 50 }, { logLevel: 'silent' }, { logLevel: 'warn' }]) {
    new pkg.Raftq({ ...base, ...o }).destroy();
  }
});

test('logLevel filters the log event: silent emits nothing, warn keeps rejections, debug everything', async () => {
  const lines = {};
  for (const level of ['debug', 'warn', 'silent']) {
    const raft = new pkg.Raftq({ ...base, logLevel: level });
    lines[level] = [];
    raft.subscribe('log', (m) => lines[level].push(m.message));
    await raft.dispatch('serviceStarted', { node: { id: 1, time: 1 } });
    await raft.dispatch('voteRequestReceived', { term: 'x' }); // malformed: 'raft rejected ...'
    await raft.destroy();
  }
  assert.ok(lines.debug.some((l) => l.startsWith('raft rejected')), lines.debug.join(' | '));
  assert.ok(lines.debug.length > lines.warn.length, `${lines.debug.length} vs ${lines.warn.length}`);
  assert.ok(lines.warn.some((l) => l.startsWith('raft rejected')), lines.warn.join(' | '));
  assert.ok(lines.warn.every((l) => !l.startsWith('raft started')), lines.warn.join(' | '));
  assert.deepEqual(lines.silent, []);
});
