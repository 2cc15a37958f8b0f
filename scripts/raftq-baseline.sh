#!/usr/bin/env bash
# Build raftq 1.0.0 (the package raftq-native replaces) from a checkout of its source, for
# `npm run bench`'s side-by-side column. raftq is not on the package registry; its source is
# public (GitHub arianito/raftack, MIT). This script downloads no source: you give it a checkout.
#
#   scripts/raftq-baseline.sh <raftack checkout or git dir> [out dir]
#   RAFTQ_BASELINE=<out dir> npm run bench
#
# What it does, in a temporary folder outside this repository (default: mktemp -d):
#   1. copies the checkout's package.json, tsconfig.json, rollup.config.mjs and src/ (from the
#      work tree, or `git archive HEAD` when given a git dir without one) to <out>/;
#   2. installs raftq's *build* tools into <out>/tools at the versions its yarn.lock pins
#      (typescript, rollup, @rollup/plugin-terser, glob, rimraf, @types/node; its lint and test
#      tools are not needed to build), and links <out>/node_modules to them;
#   3. runs raftq's own `npm run build` (rimraf dist, tsc -b, rollup -c: ESM .js/.mjs + CJS .cjs);
#   4. checks that <out>/dist/index.cjs loads and exports Raftq, and prints <out>
#      (<out>/SOURCE_COMMIT records the checkout's commit; the bench prints it).
# Nothing built here is ever copied into this repository.
set -euo pipefail

die() {
  echo "raftq-baseline: $*" >&2
  exit 1
}

[ $# -ge 1 ] || die "usage: $0 <raftack checkout or git dir> [out dir]"
src=$(cd "$1" && pwd) || die "no such directory: $1"
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ $# -ge 2 ]; then
  out=$(realpath -m "$2")
  case "$out/" in
    "$repo"/*) die "the out dir must be outside this repository ($repo)" ;;
  esac
  mkdir -p "$out"
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/raftq-baseline.XXXXXX")
fi
case "$out/" in
  "$repo"/*) die "the out dir must be outside this repository ($repo)" ;;
esac
[ -z "$(ls -A "$out" 2>/dev/null | grep -v '^tools$' || true)" ] || die "out dir $out is not empty (tools/ alone may stay)"

# 1. the sources raftq's build reads
if [ -f "$src/package.json" ] && [ -d "$src/src" ]; then
  cp "$src/package.json" "$src/tsconfig.json" "$src/rollup.config.mjs" "$out/"
  [ -f "$src/yarn.lock" ] && cp "$src/yarn.lock" "$out/"
  cp -R "$src/src" "$out/src"
elif git --git-dir="$src" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  git --git-dir="$src" archive HEAD package.json tsconfig.json rollup.config.mjs yarn.lock src | tar -x -C "$out"
else
  die "$src has neither package.json + src/ nor a git HEAD"
fi

commit=$(git -C "$src" rev-parse HEAD 2>/dev/null || git --git-dir="$src" rev-parse HEAD 2>/dev/null || echo unknown)
echo "$commit" >"$out/SOURCE_COMMIT"

name=$(node -p "require('$out/package.json').name")
version=$(node -p "require('$out/package.json').version")
[ "$name" = raftq ] || die "$src is package '$name', not raftq"
echo "raftq-baseline: building $name $version from $src (commit $commit) in $out"

# 2. the build tools, at the versions raftq's lockfile pins (its package.json range otherwise)
tools=$(
  cd "$out" && node -e '
    const fs = require("fs");
    const pkg = require("./package.json");
    const lock = fs.existsSync("yarn.lock") ? fs.readFileSync("yarn.lock", "utf8") : "";
    const wanted = ["typescript", "rollup", "@rollup/plugin-terser", "glob", "rimraf", "@types/node"];
    const specs = wanted.map((n) => {
      const range = (pkg.devDependencies || {})[n];
      if (!range) throw new Error(`raftq devDependencies lack ${n}`);
      const head = new RegExp(`^"?${n.replace(/[/@.]/g, (c) => "\\" + c)}@${range.replace(/[\^.~]/g, (c) => "\\" + c)}"?[,:]`, "m");
      const m = head.exec(lock);
      const v = m && /\n\s+version "([^"]+)"/.exec(lock.slice(m.index));
      return `${n}@${v ? v[1] : range}`;
    });
    console.log(specs.join(" "));'
)
echo "raftq-baseline: build tools: $tools"
mkdir -p "$out/tools"
[ -f "$out/tools/package.json" ] || echo '{ "private": true }' >"$out/tools/package.json"
# shellcheck disable=SC2086
(cd "$out/tools" && npm install --no-audit --no-fund --loglevel=error $tools)
ln -sfn tools/node_modules "$out/node_modules"

# 3. raftq's own build script
(cd "$out" && npm run --silent build)

# 4. the CommonJS entry the bench loads (package.json's main, dist/index.js, is ESM syntax
#    without "type": "module", so `require('raftq')` would not load it on Node 20)
node -e "
  const m = require('$out/dist/index.cjs');
  if (typeof m.Raftq !== 'function' || m.RaftRole.LEADER !== 3) throw new Error('unexpected exports');
" || die "built package does not load"
echo "raftq-baseline: built. Run the bench with:"
echo "  RAFTQ_BASELINE=$out npm run bench"
