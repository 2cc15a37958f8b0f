'use strict';
// Context for the HTTP rows of `npm run bench`: what one raft message costs on this machine in
// the README's transport, without any Raft library. A child process runs the README's pipe
// (express + express.json(), `POST /raft/action/:action`, `res.end`) and answers with the
// monotonic time its handler ran; this process posts a heartbeat-sized body with axios, one
// at a time, and records the one-way time (post -> handler) and the round trip. Then the
// README persist agent's write alone: mkdir -p + writeFile of a small state, one at a time, in
// a temporary folder.
//
//   node bench/hop.js [count]   -> one JSON line: { oneWay, roundTrip, persist } (ms samples)

const { fork } = require('node:child_process');
const now = () => Number(process.hrtime.bigint()) / 1e6;

if (process.argv[2] === 'server') {
  const express = require('express');
  const app = express();
  app.use(express.json());
  app.post('/raft/action/:action', (req, res) => {
    const at = now();
    res.end(String(at));
  });
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('disconnect', () => process.exit(0));
} else {
  const axios = require('axios');
  const count = Number(process.argv[2] || 300);
  const child = fork(__filename, ['server'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  const kill = () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.on('exit', kill);
  const timer = setTimeout(() => {
    console.error('hop: timed out');
    process.exit(1);
  }, 60000);
  child.once('message', async ({ port }) => {
    const url = `http://127.0.0.1:${port}/raft/action/dataReceived`;
    const body = {
      term: 1,
      dataTerm: 1,
      dataIndex: 1,
      commitTerm: 1,
      commitIndex: 1,
      destination: { id: String(port), time: Date.now() },
      timeout: 100,
      node: { id: '40001', time: Date.now() },
    };
    const oneWay = [];
    const roundTrip = [];
    for (let i = 0; i < count + 20; i++) {
      const t0 = now();
      const r = await axios.post(url, body, { timeout: 1000, responseType: 'text' }).catch(() => null);
      const t2 = now();
      if (i < 20 || !r) continue; // warm-up
      oneWay.push(Number(r.data) - t0);
      roundTrip.push(t2 - t0);
      await new Promise((res) => setTimeout(res, Math.random() * 5));
    }
    const fs = require('node:fs');
    const path = require('node:path');
    const { mkdir, writeFile } = require('node:fs/promises');
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'raftq-hop-'));
    const persist = [];
    const state = JSON.stringify({ term: 3, votedFor: '40001', data: { seq: 1 }, dataTerm: 3, dataIndex: 7, commitTerm: 3, commitIndex: 7 });
    try {
      for (let i = 0; i < count; i++) {
        const t0 = now();
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(dir, '40001.json'), state);
        persist.push(now() - t0);
        await new Promise((res) => setTimeout(res, Math.random() * 5));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify({ oneWay, roundTrip, persist })}\n`);
    kill();
    process.exit(0);
  });
}
