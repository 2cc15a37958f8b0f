'use strict';
// raftq-native/express: the transport between raftq-native nodes, done for an Express app.
//
//   const { raftRouter } = require('raftq-native/express');
//   app.use('/raft', raftRouter(raft, { peers: [{ id: '5051' }, { id: '5052' }] }));
//
// The router
//   - receives:  POST <mount>/action/<voteRequestReceived|voteResponseReceived|dataReceived|
//                dataResponseReceived>  (the raftq README's route shape, so nodes wired by
//                hand the README's way and nodes wired with this router talk to each other),
//                JSON body -> raft.dispatch(<action>, body), answered 204 at once;
//   - sends:     every voteRequest / voteResponse / syncData / dataResponse the raft emits, with
//                node:http over the router's own keep-alive agent, to
//                `url(message.destination) + '/action/<x>Received'`; at most `maxInFlight`
//                (default 8) sends and sockets per destination, a send beyond it dropped and
//                counted (`dropped`); a send not answered within the message's own `timeout`
//                is destroyed with its socket (a connect still under way included), so a slow
//                or paused peer costs a bounded number of descriptors; a failed send is
//                counted and reported on the raft's `log` (once per peer and kind of failure
//                while it stays unreachable), never thrown: no unhandled rejection;
//   - serves:    GET <mount>/status  (raft.getStatus() as JSON, plus the transport's counters)
//                GET <mount>/metrics (only with the `metrics` option).
// Signing: set `secret` in the Raftq options on every node; the node signs what it emits (a
// `tag` field) and drops what is not signed. The transport passes bodies through untouched.
//
// Only this entry point needs express (a peer dependency); `require('raftq-native')` does not
// load it.

const http = require('node:http');
const https = require('node:https');
const express = require('express');

/** outgoing event -> the input the destination dispatches it as */
const CHANNELS = {
  voteRequest: 'voteRequestReceived',
  voteResponse: 'voteResponseReceived',
  syncData: 'dataReceived',
  dataResponse: 'dataResponseReceived',
};
const INPUTS = new Set(Object.values(CHANNELS));
const DEFAULT_TIMEOUT = 1000;
/** sends in flight (and sockets) per destination */
const DEFAULT_MAX_IN_FLIGHT = 8;
const LOG_INTERVAL = 10000;
const PROMETHEUS = 'text/plain; version=0.0.4; charset=utf-8';

function describe(e) {
  if (e === null || e === undefined) return String(e);
  const cause = e.cause && e.cause !== e ? ` (${e.cause.code || e.cause.message || e.cause})` : '';
  return `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message || e}${cause}`;
}

/** What a failed send's log lines are rate-limited by: the error's name and code, or the HTTP status. */
function kindOf(e) {
  if (e === null || typeof e !== 'object') return String(typeof e);
  if (typeof e.status === 'number') return `HTTP ${e.status}`;
  const code = e.code || (e.cause && e.cause.code) || '';
  return `${e.name || 'Error'} ${code}`;
}

/** The default address of a member: its `url`, or http://<host>:<port, else id><basePath>. */
function defaultUrl(node, host, basePath) {
  if (typeof node.url === 'string') return node.url.replace(/\/+$/, '');
  const h = typeof node.host === 'string' && node.host ? node.host : host;
  const port = node.port !== undefined && node.port !== null ? node.port : node.id;
  const hostPart = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
  return `http://${hostPart}:${port}${basePath}`;
}

/**
 * An Express router carrying `raft`'s four message channels over HTTP.
 * @param {import('./index').Raftq} raft
 * @param {import('./express').RaftRouterOptions} [options]
 */
function raftRouter(raft, options = {}) {
  if (!raft || typeof raft.subscribe !== 'function' || typeof raft.dispatch !== 'function') {
    throw new TypeError('raftRouter: the first argument must be a Raftq node');
  }
  if (options === null || typeof options !== 'object') throw new TypeError('raftRouter: options must be an object');
  const {
    host = 'localhost',
    basePath = '/raft',
    limit = '10mb',
    metrics,
    metricsContentType = PROMETHEUS,
    peers = [],
    onSendError,
    maxInFlight = DEFAULT_MAX_IN_FLIGHT,
  } = options;
  if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
    throw new TypeError('raftRouter: `maxInFlight` must be an integer >= 1');
  }
  if (options.url !== undefined && typeof options.url !== 'function') {
    throw new TypeError('raftRouter: `url` must be a function (destination node) => base URL');
  }
  if (metrics !== undefined && typeof metrics !== 'function') {
    throw new TypeError('raftRouter: `metrics` must be a function returning the metrics text');
  }
  if (onSendError !== undefined && typeof onSendError !== 'function') {
    throw new TypeError('raftRouter: `onSendError` must be a function');
  }
  if (!Array.isArray(peers)) throw new TypeError('raftRouter: `peers` must be an array of nodes or ids');
  const urlOf = options.url || ((node) => defaultUrl(node, host, basePath));

  const stats = { sent: 0, failed: 0, dropped: 0, received: 0, rejected: 0, inFlight: 0 };
  const log = (message) => {
    raft.dispatch('log', { message }).catch(() => {});
  };

  /** per destination: is it failing, when was a failure last logged, how many since */
  const peerState = new Map();
  const stateOf = (destination) => {
    const key = `${typeof destination.id}:${destination.id}`;
    let st = peerState.get(key);
    if (!st) {
      if (peerState.size >= 1024) peerState.clear();
      st = { failing: false, logged: false, kinds: new Map(), inFlight: 0 };
      peerState.set(key, st);
    }
    return st;
  };

  // A peer that stays unreachable fails on every heartbeat: the log gets its first failure of
  // each kind, then at most one line per kind and LOG_INTERVAL (with the count in between),
  // and one line when a send works again. Every failure is counted in stats() and passed to
  // `onSendError`.
  function failed(event, message, destination, err) {
    stats.failed++;
    if (onSendError) {
      try {
        onSendError(err, event, message);
      } catch {
        /* the app's reporter must not break the transport */
      }
    }
    const st = stateOf(destination);
    st.failing = true;
    // per kind of failure (a timeout, a refused connection, an HTTP status): a 413 is not
    // hidden behind the timeouts of the same peer
    const kind = kindOf(err);
    let k = st.kinds.get(kind);
    if (!k) {
      if (st.kinds.size >= 16) st.kinds.clear();
      k = { lastLogAt: -Infinity, unlogged: 0 };
      st.kinds.set(kind, k);
    }
    const now = Date.now();
    if (now - k.lastLogAt >= LOG_INTERVAL) {
      const more = k.unlogged ? ` (and ${k.unlogged} more such failed sends since the last report)` : '';
      log(`raft transport: cannot send ${event} to ${destination.id}: ${describe(err)}${more}`);
      k.lastLogAt = now;
      st.logged = true;
      k.unlogged = 0;
    } else {
      k.unlogged++;
    }
  }

  function delivered(destination) {
    stats.sent++;
    const st = stateOf(destination);
    if (!st.failing) return;
    st.failing = false;
    if (st.logged) {
      st.logged = false;
      log(`raft transport: ${destination.id} reachable again`);
    }
  }

  // Sends go out through this router's own agents: keep-alive, at most `maxInFlight` sockets
  // per destination (a request never waits in an agent's queue: the bound below drops it
  // first), and a send that times out destroys its request and its socket, a connect still
  // in SYN-SENT included (fetch's abort left those to the kernel: a paused peer cost one
  // descriptor per message until the connect timed out).
  const agentOptions = { keepAlive: true, maxSockets: maxInFlight, maxFreeSockets: maxInFlight, scheduling: 'lifo' };
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': null };
  const agentFor = (protocol) => {
    if (protocol === 'https:' && !agents['https:']) agents['https:'] = new https.Agent(agentOptions);
    return agents[protocol];
  };

  function send(event, message) {
    if (closed) return;
    if (message === null || typeof message !== 'object') return;
    const destination = message.destination;
    if (destination === null || typeof destination !== 'object') return;
    let url;
    let body;
    try {
      url = new URL(`${urlOf(destination)}/action/${CHANNELS[event]}`);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol} in ${url.href}`);
      body = JSON.stringify(message);
    } catch (err) {
      failed(event, message, destination, err);
      return;
    }
    const st = stateOf(destination);
    if (st.inFlight >= maxInFlight) {
      // a slow or paused peer: dropped, not queued (Raft sends again on the next heartbeat)
      stats.dropped++;
      return;
    }
    const t = Number(message.timeout);
    const timeout = Number.isFinite(t) && t > 0 ? Math.ceil(t) : DEFAULT_TIMEOUT;
    const payload = Buffer.from(body);
    stats.inFlight++;
    st.inFlight++;
    let done = false;
    let req;
    const end = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stats.inFlight--;
      st.inFlight--;
      if (err) failed(event, message, destination, err);
      else delivered(destination);
    };
    const timer = setTimeout(() => {
      const err = new Error(`no answer within ${timeout} ms`);
      err.name = 'TimeoutError';
      end(err);
      // the request and its socket (connecting or not) go now
      req.destroy();
    }, timeout);
    try {
      const mod = url.protocol === 'https:' ? https : http;
      req = mod.request(url, {
        method: 'POST',
        agent: agentFor(url.protocol),
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
      });
    } catch (err) {
      end(err);
      return;
    }
    req.on('error', (err) => end(err));
    req.on('response', (res) => {
      // read the (empty) answer to the end: the connection goes back to the keep-alive pool
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (text.length < 200) text += chunk;
      });
      res.on('error', (err) => end(err));
      res.on('end', () => {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          end(null);
          return;
        }
        const hint =
          res.statusCode === 413
            ? `: the body (${payload.length} bytes) is over the receiver's JSON body limit (raise its \`limit\`)`
            : text
              ? `: ${text.slice(0, 200)}`
              : '';
        const err = new Error(`HTTP ${res.statusCode}${hint}`);
        err.status = res.statusCode;
        end(err);
      });
    });
    req.end(payload);
  }

  const unsubscribers = Object.keys(CHANNELS).map((event) => raft.subscribe(event, (message) => send(event, message)));
  let closed = false;

  const router = express.Router();
  const json = express.json({ limit });
  router.post('/action/:action', (req, res, next) => {
    if (!INPUTS.has(req.params.action)) {
      stats.rejected++;
      res.status(404).json({ error: `unknown raft channel: ${String(req.params.action).slice(0, 64)}` });
      return;
    }
    next();
  });
  router.post('/action/:action', json, (req, res) => {
    if (closed) {
      res.status(503).json({ error: 'raft transport closed' });
      return;
    }
    stats.received++;
    // dispatch never rejects; the sender's reply travels as its own message
    raft.dispatch(req.params.action, req.body);
    res.status(204).end();
  });
  router.get('/status', (req, res) => {
    let status;
    try {
      status = raft.getStatus();
    } catch (err) {
      res.status(500).json({ error: describe(err) });
      return;
    }
    res.json({ ...status, transport: { ...stats } });
  });
  if (metrics) {
    router.get('/metrics', async (req, res) => {
      try {
        const text = await metrics();
        // as given (express's res.type() would reorder its parameters)
        res.status(200).setHeader('Content-Type', metricsContentType);
        res.end(String(text));
      } catch (err) {
        res.status(500).type('text/plain').send(`metrics failed: ${describe(err)}\n`);
      }
    });
  }
  // unreadable bodies (bad JSON, over the limit): answered, counted, never an Express stack trace
  router.use((err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    stats.rejected++;
    const status = Number.isInteger(err && err.status) && err.status >= 400 && err.status < 600 ? err.status : 400;
    res.status(status).json({ error: (err && err.type) || describe(err) });
  });

  /** Stop sending and receiving (unsubscribes from the raft); the routes then answer 503. */
  router.close = () => {
    if (closed) return;
    closed = true;
    for (const u of unsubscribers) u();
    // sends under way end (counted failed), idle keep-alive sockets close
    for (const a of Object.values(agents)) if (a) a.destroy();
  };
  /** The transport's counters: sent, failed, dropped, received, rejected, inFlight. */
  router.stats = () => ({ ...stats });

  for (const p of peers) {
    const node = p !== null && typeof p === 'object' ? p : { id: p };
    raft.dispatch('ackNode', node.time === undefined ? { ...node, time: Date.now() } : node);
  }
  return router;
}

module.exports = { raftRouter, CHANNELS };
