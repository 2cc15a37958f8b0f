'use strict';
// The raftq README's Express demo, unchanged but for `from 'raftq'` -> `from 'raftq-native'`:
// it type-checks with `tsc --strict`, and four copies elect a leader and fail over on SIGINT.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { waitFor, withTimeout, tempDir, spawnLogged, killAll, portIsFree, localBin, ROOT } = require('./_helpers');

const README = path.resolve(ROOT, '..', 'shared', 'seed', 'raftq-README.txt');
const NODE_MODULES = process.env.SEED_DEMO_NODE_MODULES || path.join(ROOT, 'node_modules');
const DEMO_PORTS = [5050, 5051, 5052, 5053];
const DEMO_DIR = '/tmp/raftq';
const TSC = localBin('tsc');
const TS_FLAGS = ['--strict', '--module', 'commonjs', '--target', 'es2022', '--esModuleInterop'];

/** The README lost its code fences: the demo runs from `import axios ...` to the line `bootstrap();`. */
function extractDemo(text) {
  const start = text.indexOf("import axios from 'axios';");
  if (start < 0) throw new Error('README: no "import axios from \'axios\';"');
  const m = /(^|\n)bootstrap\(\);/.exec(text.slice(start));
  if (!m) throw new Error('README: no line starting with "bootstrap();" after the imports');
  return text.slice(start, start + m.index + m[0].length) + '\n';
}

function run(cmd, args, opts) {
  return new Promise((resolve) =>
    execFile(cmd, args, { timeout: 120000, ...opts }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}`, err }),
    ),
  );
}

let work; // temp project: node_modules (links) + demo.ts + types.ts
const procs = [];
test.after(async () => {
  await killAll(procs);
  if (work) fs.rmSync(work, { recursive: true, force: true });
  cleanDemoFiles();
});

function cleanDemoFiles() {
  for (const p of DEMO_PORTS) {
    for (const f of [`${p}.json`, `${p}.json.tmp`]) fs.rmSync(path.join(DEMO_DIR, f), { force: true });
  }
  try {
    fs.rmdirSync(DEMO_DIR); // only if empty
  } catch {
    /* not empty or absent */
  }
}

function setup() {
  if (work) return work;
  const readme = fs.readFileSync(README, 'utf8');
  const demo = extractDemo(readme);
  assert.equal(demo.split("from 'raftq'").length - 1, 1, "exactly one `from 'raftq'` in the demo");
  work = tempDir('raftq-seed-');
  const nm = path.join(work, 'node_modules');
  fs.mkdirSync(nm);
  for (const entry of fs.readdirSync(NODE_MODULES)) {
    if (entry.startsWith('.')) continue;
    fs.symlinkSync(path.join(NODE_MODULES, entry), path.join(nm, entry), 'dir');
  }
  fs.symlinkSync(ROOT, path.join(nm, 'raftq-native'), 'dir');
  fs.writeFileSync(path.join(work, 'demo.ts'), demo.replace("from 'raftq'", "from 'raftq-native'"));
  fs.writeFileSync(path.join(work, 'types.ts'), "export * from 'raftq-native';\n");
  return work;
}

const readmeMissing = fs.existsSync(README) ? false : `seed README not found at ${README}`;
const tscMissing = TSC ? false : 'node_modules/.bin/tsc not installed (typescript devDependency)';

test('the README demo block is found in the seed README', { skip: readmeMissing }, () => {
  const demo = extractDemo(fs.readFileSync(README, 'utf8'));
  assert.match(demo, /^import axios from 'axios';/);
  assert.match(demo, /\nbootstrap\(\);\n$/);
  assert.match(demo, /new Raftq\(\{/);
  assert.match(demo, /handleCrash/);
});

test('the README demo type-checks with tsc --strict against raftq-native', { skip: readmeMissing || tscMissing, timeout: 120000 }, async () => {
  const dir = setup();
  const r = await run(TSC, [...TS_FLAGS, '--noEmit', 'demo.ts', 'types.ts'], { cwd: dir });
  assert.equal(r.code, 0, `tsc --strict failed:\n${r.out}`);
});

test('the package types: RaftRole is a real enum under isolatedModules, dispatch/subscribe are typed', { skip: tscMissing || readmeMissing, timeout: 120000 }, async () => {
  const dir = setup();
  fs.writeFileSync(
    path.join(dir, 'typed.ts'),
    `import { Raftq, RaftRole } from 'raftq-native';
import type { RaftNode, RaftNodeId, RaftqOptions, RaftPersistentData, RaftVoteRequestBody, RaftEventType } from 'raftq-native';
const options: RaftqOptions = {
  heartbeat: 10, minimumElectionTime: 20, maximumElectionTime: 40,
  persistAgent: {
    async persist(node: RaftNode, data: RaftPersistentData) { void node.id; void data.term; },
    async restore(node: RaftNode) { void node; return undefined; },
  },
};
const raft = new Raftq(options);
const leader: RaftNodeId | null = raft.getLeader();
const role: RaftRole = raft.getRole();
const name: string = RaftRole[RaftRole.LEADER];
const followers: RaftNode[] = raft.getFollowers();
const unsubscribe: () => void = raft.subscribe('roleChanged', (r: RaftRole) => { void r; });
raft.subscribe('voteRequest', (m: RaftVoteRequestBody) => { const id: RaftNodeId = m.destination.id; const t: number = m.timeout + m.term; void id; void t; void m.candidate.id; });
raft.subscribe('syncData', (m) => { void m.node.id; void m.destination.id; });
raft.subscribe('log', ({ message }) => { const s: string = message; void s; });
const p: Promise<void> = raft.dispatch('replicateData', { anything: [1, 'two'] });
const q: Promise<void> = raft.dispatch('ackNode', { id: 5050, time: Date.now() });
const ev: RaftEventType = 'serviceStarted';
// @ts-expect-error a vote request body is not a number
raft.dispatch('voteRequestReceived', 5);
void [leader, role, name, followers, unsubscribe, p, q, ev];
`,
  );
  const r = await run(TSC, [...TS_FLAGS, '--noEmit', '--isolatedModules', 'typed.ts'], { cwd: dir });
  assert.equal(r.code, 0, `tsc --isolatedModules failed:\n${r.out}`);
});

function expressMajor() {
  try {
    return Number(JSON.parse(fs.readFileSync(path.join(NODE_MODULES, 'express', 'package.json'), 'utf8')).version.split('.')[0]);
  } catch {
    return null;
  }
}

test('four copies of the README demo elect one leader; SIGINT the leader, another takes over', { skip: readmeMissing || tscMissing, timeout: 120000 }, async (t) => {
  const major = expressMajor();
  if (major === null) return t.skip('express is not installed');
  if (major >= 5) {
    // express 5's app.listen() also calls its callback with the EADDRINUSE error, so the
    // README's "try the next port" loop starts the raft twice in every copy but the first
    return t.skip(`express ${major} is installed; the README demo's port walking needs express 4 (devDependency "express": "^4")`);
  }
  for (const p of DEMO_PORTS) {
    if (!(await portIsFree(p))) return t.skip(`port ${p} is in use; the README demo needs ports 5050-5053`);
  }
  const dir = setup();
  const emit = await run(TSC, [...TS_FLAGS, '--outDir', 'out', 'demo.ts', 'types.ts'], { cwd: dir });
  assert.equal(emit.code, 0, `tsc emit failed:\n${emit.out}`);
  const demoJs = path.join(dir, 'out', 'demo.js');
  assert.ok(fs.existsSync(demoJs));
  cleanDemoFiles();

  // start the copies one after another, as a person would: each takes the next port
  const copies = [];
  for (let i = 0; i < DEMO_PORTS.length; i++) {
    const p = spawnLogged(process.execPath, [demoJs], { cwd: dir, env: { ...process.env } });
    procs.push(p);
    copies.push(p);
    await p.waitForLine(new RegExp(`running express on ${DEMO_PORTS[i]}`), 10000);
    await p.waitForLine(/raft started/, 5000);
  }
  const roleOf = (p) => {
    for (let i = p.lines.length - 1; i >= 0; i--) {
      const m = /node become (LEADER|FOLLOWER|CANDIDATE)/.exec(p.lines[i].text);
      if (m) return { role: m[1], at: p.lines[i].at };
    }
    return { role: 'FOLLOWER', at: 0 };
  };
  const describe = () => copies.map((p, i) => `--- ${DEMO_PORTS[i]}\n${p.output().split('\n').slice(-10).join('\n')}`).join('\n');
  const oneLeader = (among) => {
    const ls = among.filter((p) => roleOf(p).role === 'LEADER');
    return ls.length === 1 ? ls[0] : false;
  };

  const leader = await waitFor(() => oneLeader(copies), 10000, 'exactly one copy logging "node become LEADER"', 20).catch((err) => {
    throw new Error(`${err.message}\n${describe()}`);
  });
  const leaderPort = DEMO_PORTS[copies.indexOf(leader)];
  // the others have heard from it (a follower's log shows no competing leadership)
  const killedAt = Date.now();
  leader.kill('SIGINT');
  const exit = await withTimeout(leader.exited, 5000);
  assert.ok(exit, `the leader on ${leaderPort} did not exit within 5 s of SIGINT`);
  assert.ok(leader.lines.some((l) => /raft crashed: SIGINT/.test(l.text)), `crash handler ran:\n${leader.output()}`);
  assert.ok(fs.existsSync(path.join(DEMO_DIR, `${leaderPort}.json`)), 'the crashed leader persisted its state');

  const rest = copies.filter((p) => p !== leader);
  const next = await waitFor(() => {
    const l = oneLeader(rest);
    return l && roleOf(l).at >= killedAt ? l : false;
  }, 10000, 'a new leader among the 3 remaining copies', 20).catch((err) => {
    throw new Error(`${err.message}\n${describe()}`);
  });
  assert.notEqual(next, leader);
  await killAll(copies);
});
