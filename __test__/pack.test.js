'use strict';
// Install raftq-native the way a user gets it from npm: the main package and this machine's
// prebuilt platform package, packed as a release publishes them (scripts/pack.js), installed
// into a fresh app outside the repository by npm, with no Rust toolchain on PATH. The published
// package has no install script, so npm has nothing to warn about and runs nothing of ours.
// The app then runs a 3-node Express cluster over HTTP on 127.0.0.1, once through require()
// and once through `import { Raftq, RaftRole } from 'raftq-native'`.
// Without the platform package, `npx raftq-native-build` builds the addon from the shipped Rust
// sources when cargo is on PATH (the app then runs on that build), and without cargo it stops
// with a message naming the platform and what to install (and no package that does not exist).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { ROOT, freePorts, tempDir, spawnLogged, killAll, withTimeout } = require('./_helpers');

const FIXTURES = path.join(__dirname, 'fixtures', 'pack');
const INSTALL_MS = 240_000; // npm install; express may come from the registry on a cold cache
const APP_MS = 45_000; // the app gives up by itself after 20 s
const BUILD_MS = 900_000; // a release build (LTO) from a cold target dir on a loaded 2-core box

function platformArchAbi() {
  const { platform, arch } = process;
  let abi = '';
  if (platform === 'linux') {
    const { header } = process.report.getReport();
    abi = header && header.glibcVersionRuntime ? '-gnu' : '-musl';
  } else if (platform === 'win32') abi = '-msvc';
  return `${platform}-${arch}${abi}`;
}

const SUFFIX = platformArchAbi();
const PLATFORM_PKG = `raftq-native-${SUFFIX}`;
const rootManifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

const scratch = [];
const procs = [];
let packed; // { main, platforms: { [SUFFIX]: tarball } }
let env; // the environment of every npm and app process: no cargo, no outer npm's settings
let envWithCargo; // the same with this machine's PATH: cargo on it

/** Where `name` is on PATH, or null. */
function which(name, pathVar) {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * This process's environment with the Rust toolchain gone: PATH keeps no directory holding
 * cargo or rustc (node and npm are reached through links in a directory of their own, in case
 * they share one with cargo), no CARGO_*, RUSTUP_* variables; and none of the npm_* variables an
 * outer `npm test` sets (its npm_config_prefix would point a nested npm at the repository).
 */
function toolchainFreeEnv() {
  const npmPath = which('npm', process.env.PATH || '');
  assert.ok(npmPath, 'npm is on PATH');
  const bin = tempDir('raftq-native-bin-');
  scratch.push(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(fs.realpathSync(npmPath), path.join(bin, 'npm'));
  const dirs = (process.env.PATH || '')
    .split(path.delimiter)
    .filter((d) => d && !['cargo', 'rustc', 'rustup'].some((b) => fs.existsSync(path.join(d, b))));
  const out = withoutOuterNpm({ ...process.env, PATH: [bin, ...dirs].join(path.delimiter) });
  for (const k of Object.keys(out)) {
    if (/^(CARGO|RUSTUP|RUSTC)/.test(k)) delete out[k];
  }
  return out;
}

function withoutOuterNpm(vars) {
  const out = { ...vars };
  for (const k of Object.keys(out)) {
    // lower-case npm_* only: upper-case NPM_CONFIG_* are the user's own settings (a mirror, a CA)
    if (/^(npm_|INIT_CWD$)/.test(k)) delete out[k];
  }
  return out;
}

/** Run `cmd args` (bounded); resolves { code, output } whatever the exit status. */
async function run(cmd, args, options, ms) {
  const p = spawnLogged(cmd, args, options);
  procs.push(p);
  try {
    const info = await withTimeout(p.exited, ms, null);
    if (!info) throw new Error(`${cmd} ${args.join(' ')} did not finish in ${ms} ms:\n${p.output()}`);
    if (info.error) throw info.error;
    return { code: info.code, signal: info.signal, output: p.output(), lines: p.lines };
  } finally {
    await killAll([p]);
  }
}

function tarList(tarball) {
  return execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

function tarFile(tarball, entry) {
  return execFileSync('tar', ['-xzOf', tarball, entry], { encoding: 'utf8' });
}

/** Every file under `dir` whose name ends with `.node`. */
function nodeFiles(dir) {
  const found = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.node')) found.push(path.join(e.parentPath || e.path, e.name));
  }
  return found;
}

/** A fresh app outside the repository with these dependencies and the fixture entry points. */
function makeApp(prefix, dependencies) {
  const app = fs.realpathSync(tempDir(prefix));
  scratch.push(app);
  assert.ok(!app.startsWith(ROOT + path.sep), `${app} is outside the repository`);
  fs.writeFileSync(
    path.join(app, 'package.json'),
    `${JSON.stringify({ name: `${prefix}app`, version: '1.0.0', private: true, dependencies }, null, 2)}\n`,
  );
  for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(app, f));
  return app;
}

const npmInstall = (app, extra, { withCargo = false, ms = INSTALL_MS } = {}) =>
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=notice', ...extra],
    { cwd: app, env: withCargo ? envWithCargo : env },
    ms,
  );

/** The app's `raftq-native-build` command (what `npx raftq-native-build` runs). */
const buildBin = (app) => path.join(app, 'node_modules', '.bin', process.platform === 'win32' ? 'raftq-native-build.cmd' : 'raftq-native-build');

/** Run the fixture app `entry` in `app` on 3 free ports; returns its milestones by step. */
async function runApp(app, entry, appEnv) {
  const ports = await freePorts(3);
  const r = await run(
    process.execPath,
    [entry],
    { cwd: app, env: { ...appEnv, RAFTQ_APP_PORTS: ports.join(','), RAFTQ_APP_DIR: path.join(app, 'data') } },
    APP_MS,
  );
  assert.equal(r.code, 0, `${entry} failed:\n${r.output}`);
  const steps = Object.fromEntries(
    r.lines
      .filter((l) => l.stream === 'stdout' && l.text.startsWith('{'))
      .map((l) => JSON.parse(l.text))
      .map((s) => [s.step, s]),
  );
  const label = entry.endsWith('.mjs') ? 'esm' : 'cjs';
  assert.equal(steps.loaded && steps.loaded.label, label, `${entry} started:\n${r.output}`);
  assert.equal(steps.loaded.leaderName, 'LEADER', 'RaftRole imported with its reverse mapping');
  assert.ok(steps.leader && ports.map(String).includes(steps.leader.leader), `${entry}: a leader among ${ports}`);
  assert.equal(steps.replicated && steps.replicated.value.written, label, `${entry}: the write replicated`);
  assert.deepEqual(steps.replicated.nodes, ports.map(String));
  assert.ok(steps.done, `${entry} shut its nodes down`);
  return steps;
}

before(async () => {
  env = toolchainFreeEnv();
  envWithCargo = withoutOuterNpm(process.env);
  const addon = path.join(ROOT, `raftq-native.${SUFFIX}.node`);
  assert.ok(fs.existsSync(addon), `the built addon ${addon} exists (run \`npm run build\` first)`);
  const out = tempDir('raftq-native-tarballs-');
  scratch.push(out);
  const r = await run(process.execPath, [path.join(ROOT, 'scripts', 'pack.js'), '--out', out], { cwd: ROOT }, 120_000);
  assert.equal(r.code, 0, `scripts/pack.js failed:\n${r.output}`);
  packed = JSON.parse(r.lines.filter((l) => l.stream === 'stdout').pop().text);
});

after(async () => {
  await killAll(procs);
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

test('the test environment has no Rust toolchain on PATH', () => {
  for (const tool of ['cargo', 'rustc']) {
    assert.equal(which(tool, env.PATH), null, `${tool} is not on the test's PATH`);
    const r = spawnSync(tool, ['--version'], { env, stdio: 'ignore' });
    assert.equal(r.error && r.error.code, 'ENOENT', `${tool} cannot be run`);
  }
  assert.ok(which('node', env.PATH) && which('npm', env.PATH), 'node and npm are');
});

test('the packages: no locally built .node in the main one, the addon in the platform one, same version', () => {
  const main = tarList(packed.main);
  assert.deepEqual(
    main.filter((f) => f.endsWith('.node')),
    [],
    'the main package ships no .node file',
  );
  for (const f of ['LICENSE', 'README.md', 'index.js', 'index.d.ts', 'scripts/install.js', 'Cargo.toml', 'Cargo.lock']) {
    assert.ok(main.includes(`package/${f}`), `main package has ${f}`);
  }
  assert.ok(main.includes('package/src/lib.rs') && main.includes('package/core/src/lib.rs'), 'and the Rust sources');
  assert.equal(main.filter((f) => f.startsWith('package/core/tests/')).length, 0, 'but not the core tests');
  const manifest = JSON.parse(tarFile(packed.main, 'package/package.json'));
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) {
    assert.equal(manifest.scripts[s], undefined, `the published package has no ${s} script`);
  }
  assert.deepEqual(manifest.bin, { 'raftq-native-build': 'scripts/install.js' });
  assert.ok(rootManifest.scripts.prepare, 'the repository keeps its prepare script (a checkout builds the addon)');
  for (const target of ['x86_64-unknown-linux-musl', 'aarch64-unknown-linux-musl', 'aarch64-pc-windows-msvc']) {
    assert.ok(rootManifest.napi.targets.includes(target), `napi target ${target}`);
  }
  assert.equal(manifest.optionalDependencies[PLATFORM_PKG], rootManifest.version, `depends on ${PLATFORM_PKG}`);
  assert.equal(
    Object.keys(manifest.optionalDependencies).length,
    rootManifest.napi.targets.length,
    'one optional dependency per napi target',
  );
  assert.match(tarFile(packed.main, 'package/LICENSE'), new RegExp(`^${rootManifest.license} License`));

  // every npm/<platform> package is at the main package's version
  for (const dir of fs.readdirSync(path.join(ROOT, 'npm'))) {
    const p = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', dir, 'package.json'), 'utf8'));
    assert.equal(p.name, `raftq-native-${dir}`);
    assert.equal(p.version, rootManifest.version, `${p.name} is at ${rootManifest.version}`);
    assert.equal(p.license, rootManifest.license);
    assert.ok(fs.readdirSync(path.join(ROOT, 'npm', dir)).every((f) => !f.endsWith('.node')), `no .node in npm/${dir}`);
  }

  const plat = packed.platforms[SUFFIX];
  const files = tarList(plat);
  assert.ok(files.includes(`package/raftq-native.${SUFFIX}.node`), `platform package has the ${SUFFIX} addon`);
  assert.ok(files.includes('package/LICENSE'), 'and the LICENSE');
  const pm = JSON.parse(tarFile(plat, 'package/package.json'));
  assert.equal(pm.name, PLATFORM_PKG);
  assert.deepEqual(pm.os, [process.platform]);
  assert.deepEqual(pm.cpu, [process.arch]);
  assert.equal(pm.main, `raftq-native.${SUFFIX}.node`);
});

test('installed from the tarballs with no toolchain, the prebuilt binding runs an Express cluster in CJS and ESM', async () => {
  const expressVersion = JSON.parse(
    fs.readFileSync(require.resolve('express/package.json', { paths: [ROOT] }), 'utf8'),
  ).version;
  const app = makeApp('raftq-native-app-', {
    'raftq-native': `file:${packed.main}`,
    [PLATFORM_PKG]: `file:${packed.platforms[SUFFIX]}`,
    express: expressVersion,
  });
  const inst = await npmInstall(app, ['--prefer-offline']);
  assert.equal(inst.code, 0, `npm install failed:\n${inst.output}`);

  // nothing of ours ran at install, and npm had no install script to warn about
  const installed = path.join(app, 'node_modules', 'raftq-native');
  const prebuiltDir = path.join(app, 'node_modules', PLATFORM_PKG);
  assert.doesNotMatch(inst.output, /install-scripts|allowScripts|scripts\/install\.js|raftq-native:/, `a quiet install:\n${inst.output}`);
  assert.doesNotMatch(inst.output, /Compiling|napi build|cargo build|building the addon/, 'nothing was compiled');
  const check = await run(buildBin(app), [], { cwd: app, env }, 60_000);
  assert.equal(check.code, 0, check.output);
  assert.ok(
    check.output.includes(`raftq-native: the binding for ${SUFFIX} loads (${prebuiltDir}${path.sep}`),
    `npx raftq-native-build finds the prebuilt binding in ${prebuiltDir}:\n${check.output}`,
  );
  assert.equal(fs.existsSync(path.join(installed, 'target')), false, 'no cargo target dir');
  assert.deepEqual(nodeFiles(installed), [], 'no .node file in node_modules/raftq-native');
  assert.deepEqual(nodeFiles(prebuiltDir), [path.join(prebuiltDir, `raftq-native.${SUFFIX}.node`)]);

  for (const entry of ['app.cjs', 'app.mjs']) {
    const steps = await runApp(app, entry, env);
    assert.equal(
      fs.realpathSync(steps.loaded.addon),
      path.join(prebuiltDir, `raftq-native.${SUFFIX}.node`),
      `${entry} loaded the binding from node_modules/${PLATFORM_PKG}`,
    );
  }
});

test('without a prebuilt package and without a toolchain, npx raftq-native-build stops and says what is missing', async () => {
  // --omit=optional: no platform package, as on a platform with none
  const app = makeApp('raftq-native-bare-', { 'raftq-native': `file:${packed.main}` });
  const inst = await npmInstall(app, ['--offline', '--omit=optional']);
  assert.equal(inst.code, 0, `npm install:\n${inst.output}`);
  const r = await run(buildBin(app), [], { cwd: app, env }, 60_000);
  assert.notEqual(r.code, 0, `raftq-native-build must fail:\n${r.output}`);
  assert.match(r.output, new RegExp(`no usable prebuilt binary for ${SUFFIX} \\(platform ${process.platform}, arch ${process.arch}`));
  assert.match(r.output, /`cargo` is not on PATH/);
  assert.match(r.output, /install Rust with rustup/);
  assert.match(r.output, new RegExp(`Prebuilt packages exist for: .*${SUFFIX}`));
  assert.doesNotMatch(r.output, /wasm32-wasi|wasi\.cjs|WASI/i, 'no WASI package (none is built) is named');
  const installed = path.join(app, 'node_modules', 'raftq-native');
  assert.ok(!fs.existsSync(installed) || nodeFiles(installed).length === 0, 'no .node was built');
});

test('without a prebuilt package but with cargo on PATH, npx raftq-native-build builds the addon from the shipped sources', async () => {
  const cargo = spawnSync('cargo', ['--version'], { env: envWithCargo, encoding: 'utf8' });
  assert.equal(cargo.status, 0, `this test needs cargo on PATH (${cargo.error ? cargo.error.message : cargo.stderr})`);
  const expressVersion = JSON.parse(
    fs.readFileSync(require.resolve('express/package.json', { paths: [ROOT] }), 'utf8'),
  ).version;
  const app = makeApp('raftq-native-src-', { 'raftq-native': `file:${packed.main}`, express: expressVersion });
  const installed0 = await npmInstall(app, ['--prefer-offline', '--omit=optional'], { withCargo: true });
  assert.equal(installed0.code, 0, `npm install failed:\n${installed0.output}`);
  const inst = await run(buildBin(app), [], { cwd: app, env: envWithCargo }, BUILD_MS);
  assert.equal(inst.code, 0, `raftq-native-build failed:\n${inst.output}`);
  const installed = path.join(app, 'node_modules', 'raftq-native');
  const built = path.join(installed, `raftq-native.${SUFFIX}.node`);
  assert.equal(fs.existsSync(path.join(app, 'node_modules', PLATFORM_PKG)), false, 'no platform package');
  assert.match(inst.output, new RegExp(`building the addon for ${SUFFIX} from source`));
  assert.match(inst.output, /Finished `release` profile/);
  assert.ok(inst.output.includes(`raftq-native: built ${built}`), inst.output);
  assert.deepEqual(nodeFiles(installed), [built], 'the one .node is the one built');
  assert.equal(fs.existsSync(path.join(installed, 'target')), false, 'the cargo target dir is removed');
  const steps = await runApp(app, 'app.cjs', env); // runs without cargo, on the built addon
  assert.equal(fs.realpathSync(steps.loaded.addon), built);
});

test('the release workflow: a v* tag fails in preflight until package.json names its repository; the release manifest step is there', () => {
  const yml = fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'ci.yml'), 'utf8');
  const m = yml.match(/# BEGIN repository-check\n([\s\S]*?)# END repository-check/);
  assert.ok(m, 'ci.yml has the repository check');
  const indent = m[1].match(/^( *)/)[1].length;
  const script = m[1]
    .split('\n')
    .map((l) => l.slice(indent))
    .join('\n');
  const check = (manifest, ref) => {
    const dir = tempDir('raftq-native-preflight-');
    scratch.push(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
    return spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, GITHUB_REF: ref } });
  };
  const bare = { name: 'raftq-native', version: '0.1.0' };
  const tag = check(bare, 'refs/tags/v0.1.0');
  assert.equal(tag.status, 1, `${tag.stdout}${tag.stderr}`);
  assert.match(tag.stdout, /^::error::package\.json has no repository, homepage, bugs: set "repository"/m);
  const push = check(bare, 'refs/heads/main');
  assert.equal(push.status, 0, `${push.stdout}${push.stderr}`);
  assert.match(push.stdout, /^::warning::package\.json has no repository/m);
  const full = { ...bare, repository: { type: 'git', url: 'git+https://github.com/o/r.git' }, homepage: 'https://github.com/o/r#readme', bugs: { url: 'https://github.com/o/r/issues' } };
  const ok = check(full, 'refs/tags/v0.1.0');
  assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
  assert.equal(ok.stdout, '');
  // the repository's own package.json: no made-up address (absent until the real one is known)
  if (rootManifest.repository) assert.doesNotMatch(JSON.stringify(rootManifest.repository), /<owner>|example|placeholder/i);
  assert.match(yml, /needs: preflight/, 'the builds wait for the preflight (a tag fails early)');
  assert.match(yml, /node scripts\/pack\.js --release-manifest/, 'publish strips the checkout-only scripts');
  for (const target of rootManifest.napi.targets) assert.ok(yml.includes(`target: ${target}`), `the build matrix has ${target}`);
});
