'use strict';
// The runtimes the package claims, each installed from the npm registry (deno, bun, and Node's
// own binary packages node-<platform>-<arch>@22 / @24) into one cache folder: the in-memory
// example, and the README's first-screen Express node run as a 3-process cluster (leader, a
// committed write on every node, a new leader after kill -9 of the first).
//
// Nothing is skipped: a runtime that cannot be installed fails its test, with npm's output.
// `.ci/run` installs them ahead (`node __test__/runtimes.test.js --install-only`); otherwise
// the first run installs them. RAFTQ_RUNTIMES_DIR moves the cache (default
// node_modules/.cache/raftq-runtimes).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { waitFor, freePorts, tempDir, spawnLogged, killAll, ROOT } = require('./_helpers');

const DIR = process.env.RAFTQ_RUNTIMES_DIR || path.join(ROOT, 'node_modules', '.cache', 'raftq-runtimes');
const nodePkg = `node-${process.platform}-${process.arch}`;
const exe = process.platform === 'win32' ? '.exe' : '';
const RUNTIMES = [
  { name: `Node ${process.versions.node} (the one running the tests)`, spec: null, bin: process.execPath, args: [], version: new RegExp(`^v${process.versions.node.replace(/\./g, '\\.')}$`) },
  { name: 'Deno 2', spec: 'deno@2', bin: path.join(DIR, 'node_modules', 'deno', `deno${exe}`), args: ['run', '-A'], version: /^deno 2\./ },
  { name: 'Bun 1', spec: 'bun@1', bin: path.join(DIR, 'node_modules', 'bun', 'bin', 'bun.exe'), args: [], version: /^1\./ },
  { name: 'Node 22', spec: `node22@npm:${nodePkg}@22`, bin: path.join(DIR, 'node_modules', 'node22', 'bin', `node${exe}`), args: [], version: /^v22\./ },
  { name: 'Node 24', spec: `node24@npm:${nodePkg}@24`, bin: path.join(DIR, 'node_modules', 'node24', 'bin', `node${exe}`), args: [], version: /^v24\./ },
];

/** Install whatever runtime is missing (one npm call); returns { ok, out }. */
function install() {
  const missing = RUNTIMES.filter((r) => r.spec && !fs.existsSync(r.bin));
  if (missing.length === 0) return { ok: true, out: 'all installed' };
  fs.mkdirSync(DIR, { recursive: true });
  if (!fs.existsSync(path.join(DIR, 'package.json'))) fs.writeFileSync(path.join(DIR, 'package.json'), '{ "private": true }\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--prefix', DIR, '--no-audit', '--no-fund', '--no-save', ...missing.map((x) => x.spec)], {
    encoding: 'utf8',
    timeout: 600_000,
    shell: process.platform === 'win32',
  });
  const out = `${r.stdout || ''}${r.stderr || ''}${r.error ? String(r.error) : ''}`;
  return { ok: r.status === 0 && RUNTIMES.every((x) => fs.existsSync(x.bin)), out };
}

if (process.argv.includes('--install-only')) {
  const r = install();
  console.log(r.out.trim());
  for (const x of RUNTIMES) console.log(`${x.name}: ${fs.existsSync(x.bin) ? x.bin : 'MISSING'}`);
  process.exit(r.ok ? 0 : 1);
}

let installed = null;
function ensure(rt) {
  if (rt.spec) installed ??= install();
  assert.ok(fs.existsSync(rt.bin), `${rt.name} could not be installed from the npm registry (${rt.spec}) into ${DIR}:\n${installed && installed.out}`);
  const v = spawnSync(rt.bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const version = `${v.stdout || ''}`.trim();
  assert.match(version, rt.version, `${rt.bin} --version: ${version} ${v.stderr || ''}`);
  return version.split('\n')[0];
}

/** The README's first ```js block: the complete node of the first screen. */
function readmeNode() {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = readme.match(/```js\n([\s\S]*?)```/);
  assert.ok(m, 'the README has a js code block');
  return m[1];
}

/** A folder holding the README node as an app that depends on raftq-native and express. */
function readmeApp(ports) {
  const dir = tempDir('raftq-readme-app-');
  let code = readmeNode();
  const peers = "['5050', '5051', '5052']";
  assert.ok(code.includes(peers), `the README node names its cluster as ${peers}`);
  assert.ok(code.includes('/tmp/raft-${port}.json'), 'the README node persists to /tmp/raft-<port>.json');
  code = code.replace(peers, JSON.stringify(ports)).replace('/tmp/raft-${port}.json', `${dir.replace(/\\/g, '/')}/raft-\${port}.json`);
  fs.writeFileSync(path.join(dir, 'node.js'), code);
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "readme-app", "private": true, "type": "commonjs" }\n');
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'raftq-native'), 'junction');
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'express'), path.join(dir, 'node_modules', 'express'), 'junction');
  return dir;
}

async function getJson(port, p) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(2000) });
    return { status: r.status, body: await r.json() };
  } catch {
    return null;
  }
}

async function postJson(port, p, body) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: r.status, body: await r.json() };
  } catch {
    return null;
  }
}

/** The leader every node in `ports` agrees on (and which says it leads), or null. */
async function agreed(ports) {
  const views = await Promise.all(ports.map((p) => getJson(p, '/raft/status')));
  if (views.some((v) => !v || !v.body)) return null;
  const l = views[0].body.leader;
  if (l === null || !views.every((v) => v.body.leader === l)) return null;
  const lv = views[ports.indexOf(String(l))];
  return lv && lv.body.role === 3 ? String(l) : null;
}

for (const rt of RUNTIMES) {
  test(`${rt.name}: examples/in-memory.js elects, replicates, fails over and exits 0`, { timeout: 660_000 }, async (t) => {
    const version = ensure(rt);
    t.diagnostic(`${rt.name}: ${rt.bin} (${version})`);
    const p = spawnLogged(rt.bin, [...rt.args, path.join(ROOT, 'examples', 'in-memory.js')], { cwd: ROOT });
    let timer;
    const exit = await Promise.race([p.exited, new Promise((r) => (timer = setTimeout(() => r(null), 60_000)))]);
    clearTimeout(timer);
    p.kill('SIGKILL');
    assert.ok(exit, `${rt.name} did not finish in 60 s:\n${p.output()}`);
    assert.equal(exit.code, 0, `${rt.name} exited ${JSON.stringify(exit)}:\n${p.output()}`);
    const out = p.output();
    assert.match(out, /write committed at version \d+:\d+/, out);
    assert.match(out, /new leader: [abc], data \{"greeting":"hello","at":1\}/, out);
  });

  test(`${rt.name}: the README's first-screen Express node as a 3-process cluster (leader, write on all, failover)`, { timeout: 660_000 }, async (t) => {
    ensure(rt);
    const ports = (await freePorts(3)).map(String);
    const dir = readmeApp(ports);
    const procs = new Map(
      ports.map((port) => [port, spawnLogged(rt.bin, [...rt.args, path.join(dir, 'node.js')], { cwd: dir, env: { ...process.env, PORT: port } })]),
    );
    try {
      const first = await waitFor(() => agreed(ports), 30_000, 'one leader all three agree on', 100);
      const w = await postJson(first, '/data', { hello: rt.name });
      assert.equal(w && w.status, 200, `write on the leader: ${JSON.stringify(w)}`);
      assert.ok(Number.isInteger(w.body.term) && Number.isInteger(w.body.index), JSON.stringify(w.body));
      const follower = ports.find((p) => p !== first);
      const refused = await postJson(follower, '/data', { no: 1 });
      assert.equal(refused && refused.status, 409, JSON.stringify(refused));
      assert.deepEqual(refused.body, { error: 'NOT_LEADER', leader: first });
      await waitFor(async () => {
        const all = await Promise.all(ports.map((p) => getJson(p, '/data')));
        return all.every((d) => d && JSON.stringify(d.body) === JSON.stringify({ hello: rt.name }));
      }, 10_000, 'the write on every node', 100);

      procs.get(first).kill('SIGKILL');
      await procs.get(first).exited;
      const rest = ports.filter((p) => p !== first);
      const second = await waitFor(async () => {
        const l = await agreed(rest);
        return l && l !== first ? l : null;
      }, 30_000, 'a new leader of the two left', 100);
      const d = await getJson(second, '/data');
      assert.deepEqual(d.body, { hello: rt.name }, 'the new leader has the committed write');
      const saved = JSON.parse(fs.readFileSync(path.join(dir, `raft-${second}.json`), 'utf8'));
      assert.deepEqual(saved.data, { hello: rt.name }, 'and it is in its file');
    } catch (err) {
      for (const [port, p] of procs) t.diagnostic(`${port}:\n${p.output()}`);
      throw err;
    } finally {
      await killAll([...procs.values()]);
    }
  });
}
