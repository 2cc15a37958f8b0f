'use strict';
// Lifecycle edges of the binding: unsubscribe() drops an event's entry (a Symbol-named event's
// dispatch does not slow down after many names came and went), a restore() that never settles
// is bounded and settled by destroy() (no napi reference leaked at exit), ids and event names
// with lone surrogates stay distinct, the non-member log line keeps the id's type.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnLogged, killAll, withTimeout, delay, waitFor, ROOT } = require('./_helpers');
const { Raftq } = require('..');

const T = { timeout: 60000 };

function memoryAgent() {
  let stored;
  return {
    async persist(node, data) {
      stored = JSON.parse(JSON.stringify(data));
    },
    async restore() {
      return stored;
    },
  };
}

const created = [];
test.afterEach(async () => {
  await Promise.all(created.splice(0).map((r) => r.destroy()));
});

function quietRaft(persistAgent = memoryAgent()) {
  const raft = new Raftq({ heartbeat: 1000, minimumElectionTime: 20000, maximumElectionTime: 30000, persistAgent });
  created.push(raft);
  return raft;
}

const procs = [];
test.after(() => killAll(procs));

/** The least time (ms) of `rounds` runs of `n` dispatches of `type` (the least: the one
 * least disturbed by other work on the machine). */
async function dispatchCost(raft, type, n, rounds = 7) {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const all = [];
    for (let i = 0; i < n; i++) all.push(raft.dispatch(type, i));
    await Promise.all(all);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

test('unsubscribe() drops the event: after 4,000 Symbol names subscribed and unsubscribed, a Symbol-named dispatch costs what it did', T, async () => {
  const raft = quietRaft();
  const sym = Symbol('watched');
  const nobody = Symbol('nobody listens');
  let calls = 0;
  let unsub = raft.subscribe(sym, () => calls++);
  await dispatchCost(raft, sym, 200, 2); // warm up
  const before = await dispatchCost(raft, sym, 500);
  const beforeNobody = await dispatchCost(raft, nobody, 500);
  for (let i = 0; i < 4000; i++) raft.subscribe(Symbol(`gone ${i}`), () => {})();
  // strings too (they were kept as empty entries)
  for (let i = 0; i < 4000; i++) raft.subscribe(`gone ${i}`, () => {})();
  // subscribed again: behind whatever the 4,000 names left
  unsub();
  unsub = raft.subscribe(sym, () => calls++);
  const after = await dispatchCost(raft, sym, 500);
  const afterNobody = await dispatchCost(raft, nobody, 500);
  const ratio = after / before;
  const ratioNobody = afterNobody / beforeNobody;
  const us = (ms) => ((ms / 500) * 1000).toFixed(2);
  console.log(`Symbol-named dispatch: ${us(before)} µs before, ${us(after)} µs after 4,000 names came and went (${ratio.toFixed(2)}x); with no listener: ${us(beforeNobody)} -> ${us(afterNobody)} µs (${ratioNobody.toFixed(2)}x)`);
  // an entry per name left behind made it a 4,000-long === scan: 200x and more
  assert.ok(ratio < 5, `dispatch of a Symbol-named event ${ratio.toFixed(1)}x slower after 4,000 unsubscribed names`);
  assert.ok(ratioNobody < 5, `dispatch of a Symbol-named event nobody listens to ${ratioNobody.toFixed(1)}x slower after 4,000 unsubscribed names`);
  assert.equal(calls, 2 * 200 + 2 * 7 * 500, 'the listener ran on every dispatch');
  unsub();

  // the entry of a name with two listeners stays until the last one goes
  const seen = [];
  const u1 = raft.subscribe(sym, () => seen.push(1));
  const u2 = raft.subscribe(sym, () => seen.push(2));
  u1();
  await raft.dispatch(sym, 0);
  assert.deepEqual(seen, [2]);
  u2();
  u2(); // twice: nothing more
  await raft.dispatch(sym, 0);
  assert.deepEqual(seen, [2]);
  // a name subscribed again after its entry went works as before
  const again = [];
  const u3 = raft.subscribe('gone 7', (m) => again.push(m));
  await raft.dispatch('gone 7', 'x');
  u3();
  await raft.dispatch('gone 7', 'y');
  assert.deepEqual(again, ['x']);
});

test('unsubscribe() frees the memory of an event name: 200,000 distinct names subscribed and unsubscribed twice, the second round adds nothing', { timeout: 120000 }, async () => {
  // in a child with --expose-gc: the memory of the process, measured after a collection
  const script = `
const { Raftq } = require(${JSON.stringify(ROOT)});
const raft = new Raftq({ heartbeat: 1000, minimumElectionTime: 20000, maximumElectionTime: 30000, persistAgent: { async persist() {}, async restore() {} } });
const turn = () => new Promise((r) => setImmediate(r));
// in chunks: the unsubscribe functions' finalizers run between event-loop turns
const round = async (tag) => {
  for (let c = 0; c < 20; c++) {
    for (let i = 0; i < 10000; i++) raft.subscribe(tag + ':' + c + ':' + i + ':a fairly long event name, as apps make them', () => {})();
    await turn();
  }
};
const rss = async () => {
  for (let i = 0; i < 3; i++) { global.gc(); await turn(); }
  return process.memoryUsage().rss;
};
(async () => {
await round('warm');
await round('warm again');
const r1 = await rss();
await round('one');
await round('two');
const r2 = await rss();
console.log(JSON.stringify({ grew: r2 - r1 }));
await raft.destroy();
process.exit(0);
})();
`;
  const p = spawnLogged(process.execPath, ['--expose-gc', '-e', script], { cwd: ROOT });
  procs.push(p);
  const line = await p.waitForLine(/^\{"grew"/, 100000).catch((err) => {
    throw new Error(`${err.message}\n${p.output()}`);
  });
  const { grew } = JSON.parse(line.text);
  console.log(`400,000 more names subscribed and unsubscribed: the process grew ${(grew / 1e6).toFixed(1)} MB`);
  // an entry per name left behind: 85-130 MB here for 400,000 names; without, a few MB either way
  assert.ok(grew < 40e6, `the process grew ${(grew / 1e6).toFixed(1)} MB for 400,000 names that came and went`);
});

/** A child process whose persistAgent.restore never settles. */
const HANGING_RESTORE = (afterStart) => `
const { Raftq } = require(${JSON.stringify(ROOT)});
const raft = new Raftq({ heartbeat: 50, minimumElectionTime: 150, maximumElectionTime: 300, persistAgent: { async persist() {}, restore: () => new Promise(() => {}) } });
raft.subscribe('log', ({ message }) => console.log('LOG ' + message));
const t0 = Date.now();
raft.dispatch('serviceStarted', { node: { id: 'a', time: 1 } }).then(() => console.log('SETTLED ' + (Date.now() - t0) + ' ' + JSON.stringify(raft.getStatus().id)));
${afterStart}
`;

test('a restore() that never settles: serviceStarted resolves after the bound, on log; the node does not start; the process exits with no leaked reference', T, async () => {
  const p = spawnLogged(process.execPath, ['-e', HANGING_RESTORE('')], { cwd: ROOT });
  procs.push(p);
  // the bound: 5 x max(1000, maximumElectionTime) = 5 s
  const settled = await p.waitForLine(/^SETTLED /, 30000).catch((err) => {
    throw new Error(`${err.message}\n${p.output()}`);
  });
  const [, ms, started] = settled.text.split(' ');
  assert.ok(Number(ms) >= 4900, `settled after ${ms} ms, before the bound`);
  assert.equal(started, 'null', 'a node whose restore did not answer is not started');
  assert.ok(p.lines.some((l) => /^LOG raft not started: persistAgent\.restore has not settled after 5000 ms/.test(l.text)), p.output());
  const exit = await withTimeout(p.exited, 10000);
  assert.ok(exit, `the process did not exit by itself:\n${p.output()}`);
  assert.equal(exit.code, 0, p.output());
  assert.doesNotMatch(p.output(), /not unref|memory leak/i);
});

test('destroy() settles a serviceStarted waiting for restore(), at once; no napi reference leaked at exit; a restore within the bound starts as before', T, async () => {
  const p = spawnLogged(
    process.execPath,
    ['-e', HANGING_RESTORE(`setTimeout(async () => { console.log('DESTROYING'); await raft.destroy(); console.log('DESTROYED ' + (Date.now() - t0)); }, 300);`)],
    { cwd: ROOT },
  );
  procs.push(p);
  const exit = await withTimeout(p.exited, 20000);
  assert.ok(exit, `the process did not exit:\n${p.output()}`);
  assert.equal(exit.code, 0, p.output());
  const texts = p.lines.map((l) => l.text);
  const destroying = texts.indexOf('DESTROYING');
  const settled = texts.findIndex((t) => t.startsWith('SETTLED '));
  assert.ok(destroying >= 0 && settled > destroying, `serviceStarted settled by destroy():\n${p.output()}`);
  assert.ok(Number(texts[settled].split(' ')[1]) < 4900, 'settled by destroy(), not by the bound');
  assert.ok(texts.includes('LOG raft not started: destroyed while restoring'), p.output());
  assert.doesNotMatch(p.output(), /not unref|memory leak/i);
  await aRestoreWithinTheBound();
});

/** A restore() that answers within the bound starts the node as before, and the bound's timer
 * does not hold the process after destroy(). */
async function aRestoreWithinTheBound() {
  const script = `
const { Raftq } = require(${JSON.stringify(ROOT)});
const raft = new Raftq({ heartbeat: 50, minimumElectionTime: 150, maximumElectionTime: 300, persistAgent: { async persist() {}, restore: () => new Promise((r) => setTimeout(() => r({ term: 4, votedFor: null, data: { x: 1 } }), 200)) } });
const t0 = Date.now();
raft.dispatch('serviceStarted', { node: { id: 'a', time: 1 } }).then(async () => {
  console.log('STARTED ' + JSON.stringify(raft.getStatus().id) + ' ' + raft.getStatus().term + ' ' + JSON.stringify(raft.getData()));
  await raft.destroy();
  console.log('DESTROYED');
});
`;
  const q = spawnLogged(process.execPath, ['-e', script], { cwd: ROOT });
  procs.push(q);
  const line = await q.waitForLine(/^STARTED /, 20000);
  assert.ok(/^STARTED "a" \d+ \{"x":1\}$/.test(line.text), line.text);
  assert.ok(Number(line.text.split(' ')[2]) >= 4, 'the restored term');
  const destroyedAt = (await q.waitForLine(/^DESTROYED$/, 20000)).at;
  const exit = await withTimeout(q.exited, 10000);
  assert.ok(exit, 'exited');
  // the restore bound (5 s) would hold it otherwise
  assert.ok(exit.at - destroyedAt < 3000, `exited ${exit.at - destroyedAt} ms after destroy()`);
  assert.doesNotMatch(q.output(), /not unref|memory leak/i);
}

test('event names with lone surrogates stay distinct (they are not all U+FFFD)', T, async () => {
  const raft = quietRaft();
  const got = [];
  raft.subscribe('\uD800', (m) => got.push(['D800', m]));
  raft.subscribe('\uDBFF', (m) => got.push(['DBFF', m]));
  raft.subscribe('\uFFFD', (m) => got.push(['FFFD', m]));
  await raft.dispatch('\uD800', 1);
  await raft.dispatch('\uDBFF', 2);
  await raft.dispatch('\uFFFD', 3);
  await raft.dispatch('x\uDC00', 4); // nobody listens
  assert.deepEqual(got, [['D800', 1], ['DBFF', 2], ['FFFD', 3]]);
  const u = raft.subscribe('a\uD800b', (m) => got.push(['a-b', m]));
  await raft.dispatch('a\uD800b', 5);
  u();
  await raft.dispatch('a\uD800b', 6);
  assert.deepEqual(got.slice(3), [['a-b', 5]]);
});

test('ids with lone surrogates are refused with a clear line (two of them would be one node)', T, async () => {
  const raft = quietRaft();
  const logs = [];
  raft.subscribe('log', ({ message }) => logs.push(message));
  await raft.dispatch('ackNode', { id: 'peer\uD800', time: 1 });
  await raft.dispatch('ackNode', { id: 'peer\uDBFF', time: 1 });
  await raft.dispatch('ackNode', { id: 'peer\uFFFD', time: 1 }); // a real U+FFFD is an id like any
  await delay(0);
  assert.deepEqual(raft.getStatus().members, ['peer\uFFFD'], logs.join('\n'));
  assert.equal(logs.filter((l) => /lone surrogate/.test(l)).length, 2, logs.join('\n'));
  await raft.dispatch('serviceStarted', { node: { id: 'me\uDFFF', time: 1 } });
  await waitFor(() => logs.filter((l) => /lone surrogate/.test(l)).length === 3, 5000, 'serviceStarted refused', 5).catch((err) => {
    throw new Error(`${err.message}\n${logs.join('\n')}`);
  });
  assert.equal(raft.getStatus().id, null, 'not started');
});

test("the non-member log line keeps the id's type: \"5050\" (a string) and 5050 (a number) read differently", T, async () => {
  const raft = quietRaft();
  const logs = [];
  raft.subscribe('log', ({ message }) => logs.push(message));
  await raft.dispatch('ackNode', { id: 'p', time: 1 });
  await raft.dispatch('serviceStarted', { node: { id: 'me', time: 1 } });
  await raft.dispatch('voteResponseReceived', { voter: { id: '5050', time: 1 }, term: 1, granted: true, preVote: false });
  await raft.dispatch('voteResponseReceived', { voter: { id: 5050, time: 1 }, term: 1, granted: true, preVote: false });
  await delay(0);
  const lines = logs.filter((m) => m.startsWith('raft ignored '));
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('from non-member "5050" ')), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('from non-member 5050 ')), lines.join('\n'));
});
