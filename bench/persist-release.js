'use strict';
// Time from `persistAgent.persist` resolving to the held vote leaving the node (its
// `voteResponse` listener running): what a follower adds to an election once its disk said yes.
// A follower, a candidate asking for its vote at a new term each round; the persist resolves on
// demand. `node bench/persist-release.js [dir] [--json]` (dir: the package to load, default ..).
const path = require('node:path');

const args = process.argv.slice(2);
const JSON_OUT = args.includes('--json');
const dir = path.resolve(args.find((a) => a !== '--json') || path.join(__dirname, '..'));
const { Raftq } = require(dir);
const N = Number(process.env.RAFTQ_BENCH_ROUNDS || 2000);

async function main() {
  let release = null;
  const agent = {
    persist() {
      return new Promise((resolve) => {
        release = resolve;
      });
    },
    async restore() {
      return undefined;
    },
  };
  const raft = new Raftq({ heartbeat: 10_000, minimumElectionTime: 60_000, maximumElectionTime: 60_000, persistAgent: agent });
  const candidate = { id: 'c', time: 1 };
  await raft.dispatch('ackNode', candidate);
  await raft.dispatch('serviceStarted', { node: { id: 'f', time: 1 } });
  let seen = null;
  raft.subscribe('voteResponse', () => {
    seen = process.hrtime.bigint();
  });
  const times = [];
  for (let term = 1; term <= N; term++) {
    release = null;
    seen = null;
    raft.dispatch('voteRequestReceived', { candidate, term, preVote: false, lastTerm: 0, lastIndex: 0 });
    // every persist of the round is resolved; the last one releases the vote
    let t0 = 0n;
    while (seen === null) {
      if (release !== null) {
        const r = release;
        release = null;
        t0 = process.hrtime.bigint();
        r();
      }
      await new Promise((r) => setImmediate(r));
    }
    times.push(Number(seen - t0) / 1000);
  }
  await raft.destroy();
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  if (JSON_OUT) {
    console.log(JSON.stringify({ dir, median: q(0.5), p90: q(0.9), rounds: N }));
    return;
  }
  console.log(`persist resolved -> held vote leaves (${N} rounds, ${dir}): median ${q(0.5).toFixed(1)} us, p90 ${q(0.9).toFixed(1)} us`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
