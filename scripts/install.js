#!/usr/bin/env node
'use strict';
// `npx raftq-native-build`: the source-build fallback of the published raftq-native package.
//
// The addon comes prebuilt in one optional dependency per platform (raftq-native-<platform>-<arch>
// [-<abi>], see npm/ in the repository); npm installs the one matching this machine and skips
// the others. The package has no install script (npm would warn about it on every install, and
// a prebuilt package needs none). Where no prebuilt package loads (no package for this platform,
// or optional dependencies were omitted), run this command: it checks that the binding loads,
// and if not, builds the addon from the Rust sources shipped in the package when `cargo` is on
// PATH, and otherwise stops with a message saying what is missing.
//
// In a checkout of the repository, `npm install` builds the addon itself (its `prepare` script
// runs `npm run build`); this command then only reports that the binding loads.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PKG_DIR = path.resolve(__dirname, '..');
const BINARY_NAME = 'raftq-native';
const CRATE_LIB = 'raftq_native';

/** `<platform>-<arch>[-<abi>]` as napi-rs names the packages and files (linux-x64-gnu, ...). */
function platformArchAbi() {
  const { platform, arch } = process;
  let abi = '';
  if (platform === 'linux') abi = isMusl() ? '-musl' : '-gnu';
  else if (platform === 'win32') abi = '-msvc';
  return `${platform}-${arch}${abi}`;
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

/** { error: null, file } when the package's binding loads (in a fresh process), else { error }. */
function loadError() {
  // the message, then the causes napi-rs's generated loader chains onto it (one per file tried)
  const probe =
    `try { require(${JSON.stringify(PKG_DIR)}); } catch (e) {` +
    ` const m = []; for (let c = e, i = 0; c && i < 6; c = c.cause, i++) m.push(String((c && c.message) || c));` +
    ` process.stderr.write(m.join('\\n')); process.exit(3); }` +
    ` process.stdout.write(Object.keys(require.cache).find((k) => k.endsWith('.node')) || '');`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status === 0) return { error: null, file: r.stdout.trim() };
  const lines = `${r.stderr || ''}`
    .split('\n')
    .map((l) => l.trim())
    // the generated loader also tries WASI builds, which this package does not make: not a lead
    .filter((l) => l && !/^(Require stack:|- )/.test(l) && !/wasm32-wasi|\.wasi\.cjs|\bWASI\b/i.test(l))
    .slice(0, 8);
  return { error: lines.join('\n    ') || `exit status ${r.status}`, file: null };
}

/** Whether `cmd --version` runs (i.e. `cmd` is on PATH). */
function hasCommand(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

function prebuiltPlatforms() {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));
    return Object.keys(pkg.optionalDependencies || {})
      .filter((n) => n.startsWith(`${BINARY_NAME}-`))
      .map((n) => n.slice(BINARY_NAME.length + 1));
  } catch {
    return [];
  }
}

function cdylibName() {
  if (process.platform === 'win32') return `${CRATE_LIB}.dll`;
  if (process.platform === 'darwin') return `lib${CRATE_LIB}.dylib`;
  return `lib${CRATE_LIB}.so`;
}

/** The Rust target of this Node process (which may differ from the toolchain's host, e.g. an
 * x64 Node under Rosetta 2 on an arm64 Mac), or null to build for the host. */
function rustTarget() {
  const { platform, arch } = process;
  const cpu = { x64: 'x86_64', arm64: 'aarch64' }[arch];
  if (!cpu) return null;
  if (platform === 'darwin') return `${cpu}-apple-darwin`;
  if (platform === 'win32') return `${cpu}-pc-windows-msvc`;
  if (platform === 'linux') return `${cpu}-unknown-linux-${isMusl() ? 'musl' : 'gnu'}`;
  return null;
}

/** cargo build --release of the addon crate, then copy it where the loader looks first. */
function buildFromSource(suffix) {
  const ownTarget = !process.env.CARGO_TARGET_DIR;
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(PKG_DIR, 'target');
  const triple = rustTarget();
  const env = { ...process.env };
  // musl targets link statically by default, which rules out a cdylib
  if (triple && triple.endsWith('-musl')) env.RUSTFLAGS = `${env.RUSTFLAGS || ''} -C target-feature=-crt-static`.trim();
  console.log(
    `raftq-native: building the addon for ${suffix} from source with cargo${triple ? ` (--target ${triple})` : ''}` +
      ' (this takes a few minutes)',
  );
  const args = ['build', '--release', '--locked', '-p', 'raftq-native', '--target-dir', targetDir];
  if (triple) args.push('--target', triple);
  const r = spawnSync('cargo', args, { cwd: PKG_DIR, env, stdio: 'inherit' });
  if (r.status !== 0) {
    fail(
      `raftq-native: \`cargo ${args.join(' ')}\` failed (${r.error ? r.error.message : `exit status ${r.status}`}); ` +
        `see the compiler output above.${triple ? ` If the target is missing: rustup target add ${triple}` : ''}`,
    );
  }
  const built = path.join(targetDir, ...(triple ? [triple] : []), 'release', cdylibName());
  const dest = path.join(PKG_DIR, `${BINARY_NAME}.${suffix}.node`);
  fs.copyFileSync(built, dest);
  // the build tree is hundreds of MB and of no use once the addon is copied out
  if (ownTarget) fs.rmSync(targetDir, { recursive: true, force: true });
  const after = loadError();
  if (after.error) fail(`raftq-native: built ${dest}, but it does not load:\n    ${after.error}`);
  console.log(`raftq-native: built ${dest}`);
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

function main() {
  const suffix = platformArchAbi();
  const loaded = loadError();
  if (!loaded.error) {
    console.log(`raftq-native: the binding for ${suffix} loads (${loaded.file}); nothing to build`);
    return;
  }
  if (hasCommand('cargo')) {
    buildFromSource(suffix);
    return;
  }
  const prebuilt = prebuiltPlatforms();
  const listed = prebuilt.includes(suffix);
  fail(
    [
      `raftq-native: no usable prebuilt binary for ${suffix} (platform ${process.platform}, arch ${process.arch}` +
        `${process.platform === 'linux' ? `, libc ${isMusl() ? 'musl' : 'glibc'}` : ''}), ` +
        'and no Rust toolchain to build it from source (`cargo` is not on PATH).',
      `  Loading it failed with: ${loaded.error}`,
      `  Prebuilt packages exist for: ${prebuilt.join(', ') || '(none listed)'}.`,
      listed
        ? `  ${BINARY_NAME}-${suffix} should have been installed as an optional dependency: install without ` +
          '--omit=optional / --no-optional, and if the lockfile was made on another platform, delete ' +
          `node_modules and package-lock.json and run npm install again (or \`npm install ${BINARY_NAME}-${suffix}\`).`
        : `  There is no ${BINARY_NAME}-${suffix} package: the addon must be built from source here.`,
      '  To build from source, install Rust with rustup (https://rustup.rs), open a new shell so that ' +
        '`cargo` is on PATH, and run `npx raftq-native-build` again.',
      `  (node ${process.version}, ${os.type()} ${os.release()})`,
    ].join('\n'),
  );
}

main();
