#!/usr/bin/env node
'use strict';
// Pack raftq-native as it is published: the main package, and the per-platform package of
// this machine (or of the platforms named) with its prebuilt addon.
//
//   node scripts/pack.js [--out DIR] [--platform linux-x64-gnu]... [--node FILE]
//   node scripts/pack.js --release-manifest   (CI, before publishing: rewrite package.json so)
//
// Main package: the files npm would pack from the repository (its `files` list, asked of
// `npm pack --dry-run`), with the package.json a release publishes: without the lifecycle
// scripts only a checkout needs (`prepare` builds the addon there; a consumer's npm would only
// warn about it), plus what `napi pre-publish` adds, `optionalDependencies` on every
// npm/<platform> package at the main package's version. They
// are not in the repository's package.json because those packages do not exist on the registry
// until a release publishes them, and `npm ci` refuses a lockfile that lacks them.
// Platform package: npm/<platform>/ plus LICENSE plus the addon, by default the one
// `npm run build` left in the repository root (raftq-native.<platform>.node), or --node FILE.
//
// Everything is staged in a temporary directory: nothing is written into the repository.
// Prints one JSON line: { main, platforms: { <platform>: tarball } } with absolute paths.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function platformArchAbi() {
  const { platform, arch } = process;
  let abi = '';
  if (platform === 'linux') {
    const report = process.report.getReport();
    const header = (typeof report === 'string' ? JSON.parse(report) : report).header;
    abi = header && header.glibcVersionRuntime ? '-gnu' : '-musl';
  } else if (platform === 'win32') abi = '-msvc';
  return `${platform}-${arch}${abi}`;
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function npm(args, cwd) {
  return execFileSync(NPM, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
  });
}

/** `npm pack` in `dir` (scripts off: no `prepare` build), returns the tarball's path in `out`. */
function pack(dir, out) {
  const [info] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', out], dir));
  return path.join(out, info.filename);
}

/** The platform packages of npm/ (name, version, dir), by platform-arch-abi. */
function platformPackages() {
  const dirs = {};
  for (const name of fs.readdirSync(path.join(ROOT, 'npm'))) {
    const dir = path.join(ROOT, 'npm', name);
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) dirs[name] = { dir, manifest: readJson(pj) };
  }
  return dirs;
}

/** Lifecycle scripts the published package must not carry (npm warns on install about them). */
const CHECKOUT_ONLY_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

/** The package.json a release publishes, from the repository's (before `napi pre-publish`). */
function releaseManifest(manifest) {
  const m = { ...manifest, scripts: { ...(manifest.scripts || {}) } };
  for (const s of CHECKOUT_ONLY_SCRIPTS) delete m.scripts[s];
  return m;
}

function packMain(out, stage, platforms) {
  const manifest = releaseManifest(readJson(path.join(ROOT, 'package.json')));
  const [listing] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT));
  const dir = path.join(stage, 'main');
  for (const { path: rel } of listing.files) {
    const dest = path.join(dir, rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(path.join(ROOT, rel), dest);
  }
  // what `napi pre-publish` adds at release time
  manifest.optionalDependencies = { ...(manifest.optionalDependencies || {}) };
  for (const { manifest: p } of Object.values(platforms)) {
    manifest.optionalDependencies[p.name] = manifest.version;
  }
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return pack(dir, out);
}

function packPlatform(name, platforms, nodeFile, out, stage) {
  const p = platforms[name];
  if (!p) throw new Error(`no npm/${name}/package.json (platforms: ${Object.keys(platforms).join(', ')})`);
  const file = p.manifest.main;
  const src = nodeFile || path.join(ROOT, file);
  if (!fs.existsSync(src)) throw new Error(`no addon at ${src}: run \`npm run build\` first (or pass --node FILE)`);
  const dir = path.join(stage, name);
  fs.cpSync(p.dir, dir, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'LICENSE'), path.join(dir, 'LICENSE'));
  fs.copyFileSync(src, path.join(dir, file));
  return pack(dir, out);
}

function main(argv) {
  if (argv.length === 1 && argv[0] === '--release-manifest') {
    const file = path.join(ROOT, 'package.json');
    fs.writeFileSync(file, `${JSON.stringify(releaseManifest(readJson(file)), null, 2)}\n`);
    console.log(`pack: removed ${CHECKOUT_ONLY_SCRIPTS.join(', ')} from the scripts of ${file}`);
    return;
  }
  let out = null;
  let nodeFile = null;
  const names = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') out = path.resolve(argv[++i]);
    else if (a === '--platform') names.push(argv[++i]);
    else if (a === '--node') nodeFile = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${a} (usage: node scripts/pack.js [--out DIR] [--platform P]... [--node FILE])`);
  }
  if (names.length === 0) names.push(platformArchAbi());
  if (nodeFile && names.length > 1) throw new Error('--node goes with a single --platform');
  out = out || fs.mkdtempSync(path.join(os.tmpdir(), 'raftq-native-pack-'));
  fs.mkdirSync(out, { recursive: true });
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'raftq-native-stage-'));
  try {
    const platforms = platformPackages();
    const result = { main: packMain(out, stage, platforms), platforms: {} };
    for (const name of names) result.platforms[name] = packPlatform(name, platforms, nodeFile, out, stage);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  console.error(`pack: ${err && err.message ? err.message : err}`);
  process.exit(1);
}
