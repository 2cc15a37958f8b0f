// The raftq README's Express cluster in TypeScript, with the transport from raftq-native/express
// and a persist agent that writes atomically. Compile it (tsc --strict), then run it up to four
// times: each run takes the next free port of the cluster.
//
//   RAFTQ_PORTS   cluster ports (default 5050,5051,5052,5053); the ids are the ports, as strings
//   RAFTQ_PORT    the port to listen on (default: the first free one of RAFTQ_PORTS)
//   RAFTQ_HOST    address to listen on and to reach peers at (default 127.0.0.1)
//   RAFTQ_DIR     where each node persists <port>.json (default /tmp/raftq)
//   RAFTQ_SECRET  shared secret: messages are signed and checked (same value on every node)
//   RAFTQ_HEARTBEAT, RAFTQ_MIN_ELECTION, RAFTQ_MAX_ELECTION   (default 100, 200, 800 ms)
//
//   POST /raft/action/<channel>  raft traffic        GET /raft/status  this node's status
//   POST /data                   replicate the JSON body on the leader (409 + leader elsewhere)
//   GET  /data                   the data as this node has it

import express from 'express';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Raftq, NotLeaderError } from 'raftq-native';
import type { RaftNode, RaftPersistAgent, RaftPersistentData } from 'raftq-native';
import { raftRouter } from 'raftq-native/express';

const env = process.env;
const cluster = (env.RAFTQ_PORTS ?? '5050,5051,5052,5053').split(',');
const host = env.RAFTQ_HOST ?? '127.0.0.1';
const log = (text: string): void => console.log(`[${new Date().toISOString()}] ${text}`);

/**
 * One JSON file per node, written atomically (temp file, fsync, rename, fsync the directory);
 * errors propagate. `restore` returns undefined only when the file does not exist.
 */
function filePersistAgent(dir: string): RaftPersistAgent {
  const fileOf = (node: RaftNode): string => path.join(dir, `${encodeURIComponent(String(node.id))}.json`);
  return {
    async persist(node: RaftNode, state: RaftPersistentData): Promise<void> {
      await mkdir(dir, { recursive: true });
      const file = fileOf(node);
      const tmp = `${file}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(JSON.stringify(state), 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
      if (process.platform !== 'win32') {
        const dh = await open(dir, 'r');
        try {
          await dh.sync();
        } finally {
          await dh.close();
        }
      }
    },
    async restore(node: RaftNode): Promise<RaftPersistentData | undefined> {
      const file = fileOf(node);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const state: unknown = JSON.parse(text); // corrupt JSON throws: the node does not start
      if (state === null || typeof state !== 'object' || Array.isArray(state)) {
        throw new Error(`${file} does not hold a persisted raft state object`);
      }
      return state as RaftPersistentData;
    },
  };
}

const raft = new Raftq({
  heartbeat: Number(env.RAFTQ_HEARTBEAT ?? 100),
  minimumElectionTime: Number(env.RAFTQ_MIN_ELECTION ?? 200),
  maximumElectionTime: Number(env.RAFTQ_MAX_ELECTION ?? 800),
  secret: env.RAFTQ_SECRET || undefined,
  persistAgent: filePersistAgent(env.RAFTQ_DIR ?? '/tmp/raftq'),
});
raft.subscribe('log', ({ message }) => {
  log(message);
  if (message.startsWith('raft not started')) process.exit(1); // e.g. a corrupt state file
});

const app = express();
app.use('/raft', raftRouter(raft, { host }));
app.get('/data', (req, res) => {
  res.json(raft.getData());
});
app.post('/data', express.json(), async (req, res) => {
  try {
    const version = await raft.replicate(req.body); // { term, index } once committed
    res.json({ ok: true, version, leader: raft.getLeader() });
  } catch (e) {
    // NotLeaderError names the leader to retry at; a TimeoutError's write may still commit
    const code = e instanceof NotLeaderError ? 409 : 503;
    res.status(code).json({ ok: false, error: e instanceof Error ? e.message : String(e), leader: raft.getLeader() });
  }
});

const ports = env.RAFTQ_PORT ? [env.RAFTQ_PORT] : cluster;
function listen(i: number): void {
  if (i >= ports.length) {
    log(`no free port among ${ports.join(', ')}`);
    process.exit(1);
  }
  const port = ports[i];
  app
    .listen(Number(port), host, async (err?: unknown) => {
      if (err) return; // express 5 reports the error here too; the 'error' handler moves on
      log(`running express on ${port}`);
      for (const id of cluster) if (id !== port) await raft.dispatch('ackNode', { id, time: Date.now() });
      await raft.dispatch('serviceStarted', { node: { id: port, time: Date.now() } });
    })
    .once('error', () => listen(i + 1));
}
listen(0);

// Ctrl-C / SIGTERM: hand leadership over, persist, stop
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await raft.dispatch('serviceCrashed', { reason: signal });
    await raft.destroy();
    process.exit(0);
  });
}
