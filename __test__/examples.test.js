'use strict';
// The examples run: the atomic file persist agent (examples/persist-file.js) and what a corrupt
// file does to a node; examples/helper-cluster.js as 3 processes; examples/express-cluster.ts
// type-checked with tsc --strict, compiled and run as 3 processes; examples/in-memory.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { waitFor, withTimeout, freePorts, tempDir, spawnLogged, killAll, canResolve, localBin, postData, ROOT } = require('./_helpers');
const { Raftq } = require('..');
const { filePersistAgent } = require('../examples/persist-file');

const EX = path.join(ROOT, 'examples');
// elections of 300-600 ms: the examples' agent fsyncs every write (1 ms typical here, tens of ms
// on a loaded disk), and a vote waits for its write
const TIMING = { RAFTQ_HEARTBEAT: '50', RAFTQ_MIN_ELECTION: '300', RAFTQ_MAX_ELECTION: '600' };
const TSC = localBin('tsc');
const noExpress = canResolve('express') ? false : 'express (devDependency) is not installed';
const noTsc = TSC ? false : 'node_modules/.bin/tsc not installed (typescript devDependency)';

const procs = [];
const dirs = [];
test.after(async () => {
  await killAll(procs);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const scratch = (prefix) => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
};

function run(cmd, args, opts = {}) {
  return new Promise((resolve) =>
    execFile(cmd, args, { timeout: 120000, ...opts }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
    ),
  );
}

const STATE = { term: 3, votedFor: 'b', data: { list: [1, 2, 3] } };

// ---- the persist agent ----

test('file persist agent: round trip, no temp file left, a missing file restores as undefined', async () => {
  const dir = path.join(scratch('raftq-pf-'), 'not', 'yet');
  const agent = filePersistAgent(dir);
  assert.equal(await agent.restore({ id: 'a' }), undefined, 'no folder: a fresh node');
  await agent.persist({ id: 'a' }, STATE);
  assert.deepEqual(await agent.restore({ id: 'a' }), STATE);
  await agent.persist({ id: 'a' }, { ...STATE, term: 4 });
  assert.deepEqual(await agent.restore({ id: 'a' }), { ...STATE, term: 4 });
  assert.deepEqual(fs.readdirSync(dir), ['a.json'], 'only the state file: the temp file was renamed over it');
  assert.equal(await agent.restore({ id: 'b' }), undefined, 'another node, no file');
  await agent.persist({ id: '../x/y' }, STATE);
  assert.ok(fs.existsSync(path.join(dir, '..%2Fx%2Fy.json')), 'ids are file names, never paths');
});

test('file persist agent: restore throws on a corrupt file, a non-object, or a folder where the file should be', async () => {
  const dir = scratch('raftq-pf-');
  const agent = filePersistAgent(dir);
  fs.writeFileSync(path.join(dir, 'torn.json'), '{"term":3,"votedFor":"b","da');
  await assert.rejects(agent.restore({ id: 'torn' }), /torn\.json is not valid JSON/);
  fs.writeFileSync(path.join(dir, 'null.json'), 'null');
  await assert.rejects(agent.restore({ id: 'null' }), /does not hold a persisted raft state object/);
  fs.writeFileSync(path.join(dir, 'empty.json'), '');
  await assert.rejects(agent.restore({ id: 'empty' }), /not valid JSON/);
  fs.mkdirSync(path.join(dir, 'dir.json'));
  await assert.rejects(agent.restore({ id: 'dir' }), (err) => err.code === 'EISDIR');
});

test('file persist agent: persist rejects when it cannot write (the folder is a file)', async () => {
  const base = scratch('raftq-pf-');
  const file = path.join(base, 'plain-file');
  fs.writeFileSync(file, 'x');
  await assert.rejects(filePersistAgent(file).persist({ id: 'a' }, STATE), (err) => ['EEXIST', 'ENOTDIR'].includes(err.code));
  await assert.rejects(filePersistAgent(path.join(file, 'sub')).persist({ id: 'a' }, STATE), (err) => ['EEXIST', 'ENOTDIR'].includes(err.code));
});

test('file persist agent: kill -9 while it writes big states in a loop never leaves a torn file', { timeout: 60000 }, async () => {
  const dir = scratch('raftq-pf-kill-');
  const script = `
    const { filePersistAgent } = require(${JSON.stringify(path.join(EX, 'persist-file.js'))});
    const agent = filePersistAgent(${JSON.stringify(dir)});
    const blob = 'x'.repeat(512 * 1024);
    (async () => {
      for (let seq = 1; seq <= 2000; seq++) {
        await agent.persist({ id: 'n' }, { term: seq, votedFor: null, data: { seq, blob } });
        console.log('wrote ' + seq);
      }
    })();`;
  for (let round = 0; round < 3; round++) {
    const p = spawnLogged(process.execPath, ['-e', script]);
    procs.push(p);
    await p.waitForLine(new RegExp(`^wrote ${3 + round * 2}$`), 20000);
    p.kill('SIGKILL');
    await p.exited;
    const last = Math.max(...p.lines.map((l) => Number((/^wrote (\d+)$/.exec(l.text) || [])[1] || 0)));
    const state = await filePersistAgent(dir).restore({ id: 'n' });
    assert.ok(state && state.data.seq >= last, `round ${round}: restored seq ${state && state.data.seq}, last reported ${last}`);
    assert.equal(state.data.blob.length, 512 * 1024, 'the whole value');
  }
});

test('a node whose state file is corrupt does not start ("raft not started: restore failed"); a missing file starts fresh', { timeout: 30000 }, async () => {
  const dir = scratch('raftq-pf-node-');
  fs.writeFileSync(path.join(dir, 'a.json'), '{"term":7,"votedFor":"b"'); // torn
  const make = () => {
    const raft = new Raftq({ heartbeat: 20, minimumElectionTime: 100, maximumElectionTime: 200, persistAgent: filePersistAgent(dir) });
    const logs = [];
    raft.subscribe('log', ({ message }) => logs.push(message));
    return { raft, logs };
  };
  const bad = make();
  await bad.raft.dispatch('serviceStarted', { node: { id: 'a', time: Date.now() } });
  await waitFor(() => bad.logs.some((l) => l.startsWith('raft not started: restore failed')), 5000, 'the restore failure on the log', 5);
  assert.match(bad.logs.find((l) => l.startsWith('raft not started')), /a\.json is not valid JSON/);
  assert.ok(!bad.logs.includes('raft started'), bad.logs.join(' | '));
  assert.equal(bad.raft.getStatus().id, null, 'not started');
  assert.equal(fs.readFileSync(path.join(dir, 'a.json'), 'utf8'), '{"term":7,"votedFor":"b"', 'the file is left as it was');
  await bad.raft.destroy();

  const fresh = make();
  await fresh.raft.dispatch('serviceStarted', { node: { id: 'b', time: Date.now() } });
  await waitFor(() => fresh.logs.includes('raft started'), 5000, '"raft started" for a node without a file', 5);
  assert.equal(fresh.raft.getStatus().id, 'b');
  await fresh.raft.destroy();
});

// ---- the HTTP examples as processes ----

async function getJson(port, p) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(1000) });
  if (!res.ok) throw new Error(`${p}: ${res.status} from ${port}`);
  return res.json();
}

/** `n` processes of `script` (node args), configured as one cluster; elect, write, read back. */
async function clusterRuns(args, { n = 3, env = {}, cwd = ROOT } = {}) {
  const ports = await freePorts(n);
  const dir = scratch('raftq-ex-');
  const mine = [];
  try {
    for (const port of ports) {
      const p = spawnLogged(process.execPath, args, {
        cwd,
        env: { ...process.env, ...TIMING, ...env, RAFTQ_PORTS: ports.join(','), RAFTQ_PORT: String(port), RAFTQ_DIR: dir, RAFTQ_HOST: '127.0.0.1' },
      });
      procs.push(p);
      mine.push(p);
    }
    await Promise.all(mine.map((p, i) => p.waitForLine(new RegExp(`running express on ${ports[i]}`), 15000)));
    const describe = () => mine.map((p, i) => `--- ${ports[i]}\n${p.output().split('\n').slice(-8).join('\n')}`).join('\n');
    const leader = await waitFor(
      async () => {
        const sts = await Promise.all(ports.map((port) => getJson(port, '/raft/status')));
        const leaders = sts.filter((s) => s.role === 3);
        if (leaders.length !== 1) return false;
        const l = leaders[0];
        return sts.every((s) => s.leader === l.id && s.term === l.term) ? l : false;
      },
      15000,
      `one agreed leader among ${n} processes`,
      50,
    ).catch((err) => {
      throw new Error(`${err.message}\n${describe()}`);
    });
    assert.equal(typeof leader.id, 'string', 'ids are the ports, as strings');
    assert.deepEqual(leader.members.sort(), ports.filter((p) => String(p) !== leader.id).map(String).sort());
    const follower = ports.find((p) => String(p) !== leader.id);
    const refused = await postData(follower, { nope: 1 });
    assert.equal(refused.code, 409, 'a follower refuses writes');
    assert.equal(refused.body.ok, false);
    // write through whoever leads now (on a loaded machine leadership may move meanwhile): a
    // client retries on 409 or ok:false, at the leader the answer names
    const value = { written: 'through the leader', n: [1, 2, 3] };
    let target = Number(leader.id);
    await waitFor(
      async () => {
        const w = await postData(target, value);
        if (w.code === 200 && w.body.ok === true) return true;
        if (w.body.leader) target = Number(w.body.leader);
        return false;
      },
      15000,
      'a committed write',
      50,
    ).catch((err) => {
      throw new Error(`${err.message}\n${describe()}`);
    });
    await waitFor(
      async () => (await Promise.all(ports.map((port) => getJson(port, '/data')))).every((d) => JSON.stringify(d) === JSON.stringify(value)),
      5000,
      'the value on every node',
      50,
    ).catch((err) => {
      throw new Error(`${err.message}\n${describe()}`);
    });
    for (const port of ports) {
      const s = await getJson(port, '/raft/status');
      assert.ok(s.transport.received > 0 && s.transport.sent > 0, `${port} carried traffic: ${JSON.stringify(s.transport)}`);
      if (env.RAFTQ_SECRET) assert.equal(s.unauthenticated, 0, `${port}: every body was signed`);
      assert.ok(fs.existsSync(path.join(dir, `${port}.json`)), `${port} persisted its state`);
    }
    // SIGTERM: each process persists, destroys and exits by itself
    for (const p of mine) p.kill('SIGTERM');
    const exits = await withTimeout(Promise.all(mine.map((p) => p.exited)), 10000);
    assert.ok(exits, `every process exits after SIGTERM:\n${describe()}`);
    for (const e of exits) assert.equal(e.code, 0);
    for (const port of ports) assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, `${port}.json`), 'utf8')).data, value);
  } finally {
    await killAll(mine);
  }
}

test('examples/helper-cluster.js: 3 processes with a secret elect a leader and replicate a write', { skip: noExpress, timeout: 90000 }, async () => {
  await clusterRuns([path.join(EX, 'helper-cluster.js')], { env: { RAFTQ_SECRET: 'examples test secret, 32 bytes or more' } });
});

test('examples/helper-cluster.js and http-cluster.js: a corrupt state file stops the node from starting', { skip: noExpress, timeout: 60000 }, async () => {
  const [port, other] = await freePorts(2);
  for (const script of ['helper-cluster.js', 'http-cluster.js']) {
    const dir = scratch('raftq-ex-corrupt-');
    fs.writeFileSync(path.join(dir, `${port}.json`), '{"term": 12, "votedFor": "');
    const p = spawnLogged(process.execPath, [path.join(EX, script)], {
      cwd: ROOT,
      env: { ...process.env, ...TIMING, RAFTQ_PORTS: `${port},${other}`, RAFTQ_PORT: String(port), RAFTQ_DIR: dir, RAFTQ_HOST: '127.0.0.1' },
    });
    procs.push(p);
    try {
      const line = await p.waitForLine(/raft not started: restore failed/, 15000).catch((err) => {
        throw new Error(`${script}: ${err.message}\n${p.output()}`);
      });
      assert.match(line.text, /is not valid JSON/);
      assert.ok(!p.lines.some((l) => /raft started/.test(l.text)), `${script} started anyway:\n${p.output()}`);
      if (script === 'helper-cluster.js') {
        const exit = await withTimeout(p.exited, 5000);
        assert.ok(exit, 'helper-cluster.js exits');
        assert.equal(exit.code, 1, 'with code 1');
      }
      assert.equal(fs.readFileSync(path.join(dir, `${port}.json`), 'utf8'), '{"term": 12, "votedFor": "', 'the file is untouched');
    } finally {
      await killAll([p]);
    }
  }
});

// ---- the TypeScript example ----

let tsWork;
function tsProject() {
  if (tsWork) return tsWork;
  tsWork = scratch('raftq-ts-');
  const nm = path.join(tsWork, 'node_modules');
  fs.mkdirSync(nm);
  const shared = path.join(ROOT, 'node_modules');
  for (const entry of fs.readdirSync(shared)) {
    if (entry.startsWith('.')) continue;
    fs.symlinkSync(path.join(shared, entry), path.join(nm, entry), 'dir');
  }
  fs.symlinkSync(ROOT, path.join(nm, 'raftq-native'), 'dir');
  fs.copyFileSync(path.join(EX, 'express-cluster.ts'), path.join(tsWork, 'express-cluster.ts'));
  return tsWork;
}
const TS_CJS = ['--strict', '--module', 'commonjs', '--target', 'es2022', '--esModuleInterop'];

test('examples/express-cluster.ts type-checks with tsc --strict (commonjs and nodenext resolution); misuse of raftRouter does not', { skip: noTsc || noExpress, timeout: 120000 }, async () => {
  const dir = tsProject();
  const cjs = await run(TSC, [...TS_CJS, '--noEmit', 'express-cluster.ts'], { cwd: dir });
  assert.equal(cjs.code, 0, `tsc --strict (commonjs) failed:\n${cjs.out}`);
  const next = await run(TSC, ['--strict', '--module', 'nodenext', '--target', 'es2022', '--noEmit', 'express-cluster.ts'], { cwd: dir });
  assert.equal(next.code, 0, `tsc --strict (nodenext, through package.json exports) failed:\n${next.out}`);
  // the types are real: each misuse below is an error (an unused @ts-expect-error would fail too)
  fs.writeFileSync(
    path.join(dir, 'misuse.ts'),
    `import { Raftq } from 'raftq-native';
import { raftRouter } from 'raftq-native/express';
import type { RaftRouter, RaftTransportStats } from 'raftq-native/express';
const raft = new Raftq({ heartbeat: 10, minimumElectionTime: 20, maximumElectionTime: 40, persistAgent: { persist() {}, restore() { return undefined; } } });
const r: RaftRouter = raftRouter(raft, { peers: ['a', 2, { id: 'c', url: 'http://h:1/raft' }], metrics: async () => 'x 1\\n' });
const s: RaftTransportStats = r.stats();
const n: number = s.sent + s.failed + s.received + s.rejected + s.inFlight;
r.close();
// @ts-expect-error url is a function of the node
raftRouter(raft, { url: 'http://localhost' });
// @ts-expect-error the first argument is a Raftq
raftRouter({});
// @ts-expect-error metrics returns text
raftRouter(raft, { metrics: () => 42 });
void n;
`,
  );
  for (const flags of [TS_CJS, ['--strict', '--module', 'nodenext', '--target', 'es2022']]) {
    const r = await run(TSC, [...flags, '--noEmit', 'misuse.ts'], { cwd: dir });
    assert.equal(r.code, 0, `misuse.ts (${flags.join(' ')}):\n${r.out}`);
  }
});

test('examples/express-cluster.ts, compiled with tsc: 3 processes elect a leader and replicate a write', { skip: noTsc || noExpress, timeout: 120000 }, async () => {
  const dir = tsProject();
  const emit = await run(TSC, [...TS_CJS, '--outDir', 'out', 'express-cluster.ts'], { cwd: dir });
  assert.equal(emit.code, 0, `tsc emit failed:\n${emit.out}`);
  const js = path.join(dir, 'out', 'express-cluster.js');
  assert.ok(fs.existsSync(js));
  await clusterRuns([js], { cwd: dir });
});

// ---- the in-memory example ----

test('examples/in-memory.js runs: a leader, the write on all 3, another leader after the first stops; exit 0', { timeout: 60000 }, async () => {
  const r = await run(process.execPath, [path.join(EX, 'in-memory.js')], { cwd: ROOT, timeout: 30000 });
  assert.equal(r.code, 0, r.out);
  const first = /^leader: (\w)$/m.exec(r.out);
  const second = /^new leader: (\w), data \{"greeting":"hello","at":1\}$/m.exec(r.out);
  assert.ok(first && second, r.out);
  assert.notEqual(second[1], first[1]);
  assert.match(r.out, /^write committed at version \d+:\d+$/m);
  for (const id of ['a', 'b', 'c']) assert.match(r.out, new RegExp(`^${id} has \\{"greeting":"hello","at":1\\}$`, 'm'));
});
