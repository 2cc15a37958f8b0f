'use strict';
// Issue 8 (confirmed leadership, fencing) and issue 10 (the cron example), over real processes:
// examples/cron-leader.js on 3 processes runs a job every 100 ms on the leader. The leader is
// frozen with SIGSTOP (every thread, timers included) for well over an election timeout; the
// others elect a new leader and run the job in a higher term; then the old leader is resumed.
// It must not act on its stale leadership: it answers confirmLeadership() with false / steps
// down, and the jobs that landed downstream never go back in term.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { freePorts, spawnLogged, killAll, tempDir, waitFor, delay } = require('./_helpers');

const ROOT = path.join(__dirname, '..');
const TIMING = { RAFTQ_HEARTBEAT: '50', RAFTQ_MIN_ELECTION: '300', RAFTQ_MAX_ELECTION: '600' };

function jobs(file) {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
}

async function status(port) {
  const res = await fetch(`http://127.0.0.1:${port}/raft/status`, { signal: AbortSignal.timeout(2000) });
  return res.json();
}

test('cron on the leader: a SIGSTOPped old leader, resumed, does not run the job on stale leadership', { timeout: 90000 }, async () => {
  const ports = (await freePorts(3)).map(String);
  const dir = tempDir('raftq-cron-');
  const jobLog = path.join(dir, 'jobs');
  const procs = new Map();
  try {
    for (const port of ports) {
      procs.set(
        port,
        spawnLogged(process.execPath, [path.join(ROOT, 'examples', 'cron-leader.js')], {
          cwd: ROOT,
          env: { ...process.env, ...TIMING, RAFTQ_PORTS: ports.join(','), RAFTQ_PORT: port, RAFTQ_HOST: '127.0.0.1', RAFTQ_DIR: dir, RAFTQ_JOB_LOG: jobLog, RAFTQ_CRON_MS: '100' },
        }),
      );
    }
    const describe = () => [...procs].map(([p, x]) => `--- ${p}\n${x.output().split('\n').slice(-25).join('\n')}`).join('\n');

    // a leader runs the job a few times
    const first = await waitFor(() => {
      const js = jobs(jobLog);
      return js.length >= 3 ? js[js.length - 1] : false;
    }, 20000, 'three job runs').catch((e) => assert.fail(`${e.message}\n${describe()}`));
    const old = first.node;
    const t1 = first.term;
    assert.ok(ports.includes(old), `the job names its node: ${JSON.stringify(first)}`);

    // freeze the old leader: every thread stops, its lease runs out
    const frozen = procs.get(old);
    frozen.child.kill('SIGSTOP');
    const newer = await waitFor(() => jobs(jobLog).find((j) => j.term > t1 && j.node !== old), 20000, 'a job in a newer term').catch((e) => {
      frozen.child.kill('SIGCONT');
      assert.fail(`${e.message}\n${describe()}`);
    });
    // keep it frozen a little longer than an election timeout after that
    await delay(700);
    const from = frozen.lines.length;
    const resumedAt = Date.now();
    frozen.child.kill('SIGCONT');

    // after the resume: the old node no longer acts as leader in its old term
    await waitFor(async () => {
      const s = await status(old).catch(() => null);
      return s && (s.role !== 3 || s.term > t1) ? s : false;
    }, 10000, 'the resumed node to step down or learn the new term').catch((e) => assert.fail(`${e.message}\n${describe()}`));
    // let the cron fire several more times on every node
    const seen = jobs(jobLog).length;
    await waitFor(() => jobs(jobLog).length >= seen + 5, 10000, 'five more job runs').catch((e) => assert.fail(`${e.message}\n${describe()}`));

    const all = jobs(jobLog);
    // downstream, terms never go back (a job of an older term after a newer one: a stale leader acted)
    for (let i = 1; i < all.length; i++) {
      assert.ok(all[i].term >= all[i - 1].term, `job ${i} went back in term: ${JSON.stringify(all[i - 1])} then ${JSON.stringify(all[i])}`);
    }
    // no job of the old term landed after the new leader's first
    const firstNew = all.findIndex((j) => j === newer || (j.term === newer.term && j.node === newer.node && j.run === newer.run));
    assert.ok(firstNew >= 0);
    assert.ok(!all.slice(firstNew).some((j) => j.term <= t1), `a job of term ${t1} landed after term ${newer.term}'s:\n${JSON.stringify(all)}`);
    // and the old leader's own log shows no job done in term t1 after it was resumed
    const after = frozen.lines.slice(from).map((l) => l.text);
    // (by the line's own time: a line written just before the SIGSTOP may reach us after it)
    const at = (l) => Date.parse((/^\[([^\]]+)\]/.exec(l) || [])[1]);
    const stale = after.filter((l) => new RegExp(`cron: job #\\d+ in term ${t1} done`).test(l) && !(at(l) < resumedAt));
    assert.deepStrictEqual(stale, [], `the resumed old leader ran a job in its stale term ${t1} (resumed at ${resumedAt}):\n${after.join('\n')}`);
  } finally {
    for (const p of procs.values()) {
      try {
        p.child.kill('SIGCONT');
      } catch {
        /* gone */
      }
    }
    await killAll([...procs.values()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
