'use strict';
// A persistAgent to copy: one JSON file per node, written atomically, errors propagated.
//
//   const { filePersistAgent } = require('./persist-file');
//   const raft = new Raftq({ ..., persistAgent: filePersistAgent('/var/lib/myapp/raft') });
//
// persist(node, state): write <dir>/<id>.json.tmp, fsync it, rename it over <dir>/<id>.json,
//   fsync the directory (so the rename itself survives a power cut). A crash at any point leaves
//   either the old file or the new one, never a torn one. Any error rejects: raftq-native then
//   holds back what depends on the write (vote grants, acknowledgements) and retries, instead of
//   acknowledging state that is not on disk.
// restore(node): the parsed file; `undefined` only when the file does not exist (a fresh node).
//   Anything else throws (unreadable file, corrupt JSON, not an object): the node then does not
//   start ("raft not started: restore failed: ..." on its log) rather than start with its term
//   and vote forgotten and vote twice in a term.
//
// Ids are used as file names (URI-encoded): ids 5050 and '5050' share a file, so keep one type.

const path = require('node:path');
const { mkdir, open, readFile, rename, rm } = require('node:fs/promises');

function filePersistAgent(dir) {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('filePersistAgent: dir must be a non-empty string');
  const fileOf = (node) => path.join(dir, `${encodeURIComponent(String(node.id))}.json`);

  return {
    async persist(node, state) {
      await mkdir(dir, { recursive: true });
      const file = fileOf(node);
      const tmp = `${file}.tmp`;
      const text = JSON.stringify(state);
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => {});
        throw err;
      }
      await syncDir(dir);
    },

    async restore(node) {
      const file = fileOf(node);
      let text;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if (err && err.code === 'ENOENT') return undefined; // never persisted: a fresh node
        throw err;
      }
      let state;
      try {
        state = JSON.parse(text);
      } catch (err) {
        throw new Error(`${file} is not valid JSON (${err.message})`);
      }
      if (state === null || typeof state !== 'object' || Array.isArray(state)) {
        throw new Error(`${file} does not hold a persisted raft state object`);
      }
      return state;
    },
  };
}

/** fsync a directory (POSIX); Windows cannot open one, and NTFS journals renames itself. */
async function syncDir(dir) {
  if (process.platform === 'win32') return;
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

module.exports = { filePersistAgent };
