// Type definitions for raftq-native/metrics. The Registry type is imported as a type only:
// nothing of prom-client is loaded unless registerMetrics() is called without a registry.
import type { Registry } from 'prom-client';
import type { Raftq } from './index';

export interface RegisterMetricsOptions {
  /** Prepended to every metric name. Default `'raftq_'`. */
  prefix?: string;
  /**
   * Added to every sample of this node. Several nodes can share one registry (and prefix):
   * give each its own labels, e.g. `{ node: 'a' }`; the same labels twice throw a TypeError.
   */
  labels?: Record<string, string | number>;
}

/**
 * Register a node's `getMetrics()` (and the data and commit versions of `getStatus()`) with a
 * prom-client Registry (default: prom-client's global `register`), read at each scrape.
 * Returns a function that unregisters this node (the metrics leave the registry with the last
 * node registered under the prefix).
 */
export declare function registerMetrics(raft: Raftq, registry?: Registry, options?: RegisterMetricsOptions): () => void;
