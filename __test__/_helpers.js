'use strict';
// Shared helpers for the node:test files (not a test file itself).
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');

/**
 * Poll `cond` (sync or async) every `intervalMs` until it returns a truthy value, which is
 * returned. Fails after `timeoutMs` with `what` and the last value/error seen.
 */
async function waitFor(cond, timeoutMs, what = 'condition', intervalMs = 2) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 >= timeoutMs) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await delay(intervalMs);
  }
}

/**
 * Wait (bounded) until the in-memory `cluster` (examples/memory-cluster.js) agrees on one
 * leader other than `not` (among the `among` nodes, default the live ones); returns its id.
 */
function waitForAgreedLeader(cluster, timeoutMs, { not, among } = {}) {
  return waitFor(
    () => {
      const l = cluster.agreedLeader(among);
      return l !== undefined && l !== not ? { id: l } : false;
    },
    timeoutMs,
    `one agreed leader${not !== undefined ? ` other than ${String(not)}` : ''}`,
    1,
  ).then((r) => r.id);
}

function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * `promise`'s value, or `fallback` if it takes longer than `ms`. The timer is cleared either
 * way, so a pending race never keeps the test process alive.
 */
function withTimeout(promise, ms, fallback = null) {
  let timer;
  const t = new Promise((r) => {
    timer = setTimeout(() => r(fallback), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Whether `port` can be bound (on all interfaces, as Express's app.listen(port) does). */
function portIsFree(port, host) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** `n` distinct free TCP ports on 127.0.0.1, chosen by the OS. */
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      await new Promise((res, rej) => {
        srv.once('error', rej);
        srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, res);
      });
      servers.push(srv);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Spawn a child process with line-buffered stdout/stderr capture.
 * Returns { child, lines, waitForLine(re, timeoutMs, fromIndex), exited, kill(sig) }.
 */
function spawnLogged(cmd, args, options = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const lines = []; // { stream, text, at }
  const attach = (stream, name) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push({ stream: name, text: buf.slice(0, i), at: Date.now() });
        buf = buf.slice(i + 1);
      }
    });
    stream.on('end', () => {
      if (buf) lines.push({ stream: name, text: buf, at: Date.now() });
    });
  };
  attach(child.stdout, 'stdout');
  attach(child.stderr, 'stderr');
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal, at: Date.now() };
      resolve(exitInfo);
    });
    child.on('error', (err) => {
      exitInfo = { code: null, signal: null, error: err, at: Date.now() };
      resolve(exitInfo);
    });
  });
  return {
    child,
    lines,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    output: () => lines.map((l) => `${l.stream}: ${l.text}`).join('\n'),
    waitForLine(re, timeoutMs, from = 0) {
      return waitFor(
        () => {
          for (let i = from; i < lines.length; i++) if (re.test(lines[i].text)) return lines[i];
          if (exitInfo && !child.stdout.readable) throw new Error(`process exited (${JSON.stringify(exitInfo)})`);
          return false;
        },
        timeoutMs,
        `a line matching ${re} from pid ${child.pid}`,
        10,
      );
    },
    /** send a signal if still running */
    kill(sig = 'SIGKILL') {
      if (!exitInfo && child.exitCode === null && child.signalCode === null) {
        try {
          child.kill(sig);
        } catch {
          /* already gone */
        }
      }
    },
  };
}

/** POST `body` as JSON to http://127.0.0.1:<port>/data (the examples' write route):
 * `{ code, body }` of the answer. */
async function postData(port, body, timeoutMs = 5000) {
  const res = await fetch(`http://127.0.0.1:${port}/data`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { code: res.status, body: await res.json() };
}

/** GET http://127.0.0.1:<port>/raft/status (the examples' status route) as JSON. */
async function fetchStatus(port, timeoutMs = 1000) {
  const res = await fetch(`http://127.0.0.1:${port}/raft/status`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`status ${res.status} from ${port}`);
  return res.json();
}

/** Kill every still-running process of `procs` with SIGKILL and wait (bounded) for them. */
async function killAll(procs) {
  for (const p of procs) p.kill('SIGKILL');
  await withTimeout(Promise.all(procs.map((p) => p.exited)), 5000);
}

/** Whether the addon loads; returns the error message otherwise. */
function addonLoadError() {
  try {
    require(ROOT);
    return null;
  } catch (err) {
    return String(err && err.message ? err.message : err).split('\n')[0];
  }
}

/** Path of a dev tool in node_modules/.bin, or null. */
function localBin(name) {
  const p = path.join(ROOT, 'node_modules', '.bin', name);
  return fs.existsSync(p) ? p : null;
}

/** Whether `name` resolves from the repository root. */
function canResolve(name) {
  try {
    require.resolve(name, { paths: [ROOT] });
    return true;
  } catch {
    return false;
  }
}

module.exports = {
  postData,
  fetchStatus,
  ROOT,
  waitFor,
  waitForAgreedLeader,
  withTimeout,
  delay,
  portIsFree,
  freePorts,
  tempDir,
  spawnLogged,
  killAll,
  addonLoadError,
  localBin,
  canResolve,
};
