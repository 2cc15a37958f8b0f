import type { Raftq } from './index';

export interface RegisterMetricsOptions {
  /** Prepended to every metric name. Default `'raftq_'`. */
  prefix?: string;
  /** Added to every sample (e.g. `{ node: 'a' }` when several nodes share a registry). */
  labels?: Record<string, string | number>;
}

/**
 * Register a node's `getMetrics()` with a prom-client Registry (default: prom-client's global
 * `register`), read at each scrape. Returns a function that unregisters them.
 */
export declare function registerMetrics(raft: Raftq, registry?: any, options?: RegisterMetricsOptions): () => void;
