// Type definitions for raftq-native/express (needs express and @types/express in the app).
import type { Router } from 'express';
import type { Raftq, RaftNode, RaftNodeId, RaftStatus } from './index';

export interface RaftRouterOptions {
  /**
   * The base URL of a member's router (where it is mounted), from the destination node as it
   * was acked. Messages go to `url(node) + '/action/<channel>Received'`.
   * Default: `node.url` when it is a string, else `http://${node.host ?? host}:${node.port ?? node.id}${basePath}`
   * (the raftq README's convention: the id is the port).
   */
  url?: (node: RaftNode) => string;
  /** Host of the default `url` when the node has no `host` field. Default `'localhost'`. */
  host?: string;
  /** Mount path of the default `url`. Default `'/raft'`. */
  basePath?: string;
  /** Body limit of the channel routes' JSON parser (express.json's `limit`). Default `'10mb'`. */
  limit?: string | number;
  /**
   * Members acked on the raft when the router is created (static membership): nodes, or bare
   * ids. A node without `time` is acked with `time: Date.now()`. Extra fields (url, host, port)
   * are kept and come back as `destination`.
   */
  peers?: Array<RaftNode | RaftNodeId>;
  /** With it, `GET <mount>/metrics` answers its text (a Prometheus exposition, say). */
  metrics?: () => string | Promise<string>;
  /** Content type of `/metrics`. Default `'text/plain; version=0.0.4; charset=utf-8'`. */
  metricsContentType?: string;
  /**
   * Sends in flight per destination, and the keep-alive sockets kept to it. A send beyond it
   * (a slow or paused peer) is dropped and counted in `dropped`: Raft sends again on the next
   * heartbeat. A send not answered within the message's `timeout` is destroyed with its
   * socket. Default 8.
   */
  maxInFlight?: number;
  /** Called on every failed send (the raft's `log` reports the first of a run per peer and kind of failure — a timeout, a refused connection, an HTTP status —, then at most one line per kind every 10 s). */
  onSendError?: (error: unknown, event: RaftChannelEvent, message: any) => void;
}

export type RaftChannelEvent = 'voteRequest' | 'voteResponse' | 'syncData' | 'dataResponse';

export interface RaftTransportStats {
  /** Messages delivered (2xx answer). */
  sent: number;
  /** Sends that failed: network error, timeout, non-2xx answer. */
  failed: number;
  /** Sends dropped, not attempted: `maxInFlight` sends to that destination were under way. */
  dropped: number;
  /** Channel messages received and dispatched. */
  received: number;
  /** Requests refused: unknown channel, unreadable JSON, body over the limit. */
  rejected: number;
  /** Sends under way. */
  inFlight: number;
}

/** `GET <mount>/status`: the raft's status plus the transport's counters. */
export interface RaftRouterStatus extends RaftStatus {
  transport: RaftTransportStats;
}

export interface RaftRouter extends Router {
  /** Unsubscribe from the raft: nothing more is sent, the channel routes answer 503. */
  close(): void;
  /** A copy of the transport's counters. */
  stats(): RaftTransportStats;
}

/** An Express router carrying `raft`'s four message channels over HTTP; mount it with `app.use('/raft', ...)`. */
export declare function raftRouter(raft: Raftq, options?: RaftRouterOptions): RaftRouter;

/** Outgoing event -> the input event the destination dispatches it as. */
export declare const CHANNELS: Readonly<Record<RaftChannelEvent, string>>;
