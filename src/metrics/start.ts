import type { Logger } from '../core/logger.js';
import { installMetrics } from '../ports/metrics.js';
import type { Portcullis } from '../service.js';
import { PrometheusMetrics } from './prometheus.js';
import { startMetricsListener } from './server.js';

export interface MetricsHandle {
  metrics: PrometheusMetrics;
  url: string;
  /** Stops the listener and puts back the metrics port that was in force before. */
  close(): Promise<void>;
}

/** Installs the Prometheus metrics for this process and starts their listener (config `metrics`). */
export async function startMetrics(p: Portcullis, logger: Logger): Promise<MetricsHandle> {
  const store = p.stores.kind === 'postgres + redis' ? 'redis' : p.stores.kind;
  const m = new PrometheusMetrics({
    hashing: () => p.hashing.stats(),
    sessions: async () => ({ store, count: await p.stores.countSessions() }),
  });
  const previous = installMetrics(m);
  let listener;
  try {
    listener = await startMetricsListener(m, p.config.metrics, logger);
  } catch (e) {
    installMetrics(previous);
    throw e;
  }
  return {
    metrics: m,
    url: listener.url,
    async close() {
      await listener.close();
      installMetrics(previous);
    },
  };
}
