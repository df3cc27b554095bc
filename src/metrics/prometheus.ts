import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Backend, CheckOutcome, LoginOutcome, MetricsPort, RouteObserver } from '../ports/metrics.js';

/** What the gauges read when Prometheus scrapes (pulled, so nothing is paid between scrapes). */
export interface MetricsSources {
  /** The password hashing's admission: limit, running, queued, refused so far. */
  hashing?: () => { limit: number; inFlight: number; queued: number; refused: number; maxQueue?: number };
  /** Sessions held by the session store, by store kind; may be slow (a count): cached by the caller. */
  sessions?: () => Promise<{ store: string; count: number }>;
}

/** Every metric family Portcullis exports, by name: the dashboard test checks its expressions against this list. */
export const METRIC_NAMES = [
  'portcullis_logins_total',
  'portcullis_session_checks_total',
  'portcullis_http_request_duration_seconds',
  'portcullis_password_queue_length',
  'portcullis_password_queue_limit',
  'portcullis_password_queue_running',
  'portcullis_password_queue_wait_seconds',
  'portcullis_password_refusals_total',
  'portcullis_active_sessions',
  'portcullis_account_lockouts_total',
  'portcullis_source_throttles_total',
  'portcullis_backend_errors_total',
  'portcullis_audit_events_dropped_total',
] as const;

/** Label names per family: what the cardinality test asserts, and all a family may ever carry. */
export const METRIC_LABELS: Record<(typeof METRIC_NAMES)[number], readonly string[]> = {
  portcullis_logins_total: ['dialect', 'provider', 'outcome'],
  portcullis_session_checks_total: ['dialect', 'outcome'],
  portcullis_http_request_duration_seconds: ['dialect', 'route', 'method', 'status_class'],
  portcullis_password_queue_length: [],
  portcullis_password_queue_limit: [],
  portcullis_password_queue_running: [],
  portcullis_password_queue_wait_seconds: [],
  portcullis_password_refusals_total: [],
  portcullis_active_sessions: ['store'],
  portcullis_account_lockouts_total: [],
  portcullis_source_throttles_total: [],
  portcullis_backend_errors_total: ['backend', 'kind'],
  portcullis_audit_events_dropped_total: ['sink'],
};

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Sessions are counted at most this often, whatever the scrape interval (a count over a million rows is not free). */
const SESSION_COUNT_TTL_MS = 10_000;

/**
 * The Prometheus implementation of the metrics port, on its own registry (so tests
 * may build several). Label children are created once and kept: an event costs a
 * map lookup and an increment, not prom-client's label hashing.
 */
export class PrometheusMetrics implements MetricsPort {
  readonly registry = new Registry();
  private readonly logins: Counter<'dialect' | 'provider' | 'outcome'>;
  private readonly checks: Counter<'dialect' | 'outcome'>;
  private readonly latency: Histogram<'dialect' | 'route' | 'method' | 'status_class'>;
  private readonly wait: Histogram;
  private readonly lockouts: Counter;
  private readonly throttles: Counter;
  private readonly backend: Counter<'backend' | 'kind'>;
  private readonly dropped: Counter<'sink'>;
  private readonly loginChildren = new Map<string, Counter.Internal>();
  private readonly checkChildren = new Map<string, Map<string, Counter.Internal>>();
  private readonly routes = new Map<string, RouteObserver>();

  constructor(sources: MetricsSources = {}, opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_' });
    this.logins = new Counter({
      name: 'portcullis_logins_total',
      help: 'Credential checks (logins and HTTP Basic) by dialect, configured identity provider and outcome.',
      labelNames: ['dialect', 'provider', 'outcome'],
      registers,
    });
    this.checks = new Counter({ name: 'portcullis_session_checks_total', help: 'Session token checks by dialect and outcome.', labelNames: ['dialect', 'outcome'], registers });
    this.latency = new Histogram({
      name: 'portcullis_http_request_duration_seconds',
      help: 'Time to answer a request, by dialect, route pattern, method and status class.',
      labelNames: ['dialect', 'route', 'method', 'status_class'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const hashing = sources.hashing;
    new Gauge({
      name: 'portcullis_password_queue_length',
      help: 'Password verifications waiting for a hashing thread.',
      registers,
      collect() {
        if (hashing) this.set(hashing().queued);
      },
    });
    new Gauge({
      name: 'portcullis_password_queue_limit',
      help: 'Password verifications allowed to run at once now (adaptive).',
      registers,
      collect() {
        if (hashing) this.set(hashing().limit);
      },
    });
    new Gauge({
      name: 'portcullis_password_queue_running',
      help: 'Password verifications running now.',
      registers,
      collect() {
        if (hashing) this.set(hashing().inFlight);
      },
    });
    new Counter({
      name: 'portcullis_password_refusals_total',
      help: 'Logins refused because password checking was saturated (answered 503 with Retry-After).',
      registers,
      collect() {
        if (!hashing) return;
        this.reset();
        this.inc(hashing().refused);
      },
    });
    this.wait = new Histogram({
      name: 'portcullis_password_queue_wait_seconds',
      help: 'Time a password verification waited for a hashing thread.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const sessions = sources.sessions;
    let cached: { at: number; value: Promise<{ store: string; count: number }> } | undefined;
    new Gauge({
      name: 'portcullis_active_sessions',
      help: 'Sessions held by the session store (expired ones count until the next sweep).',
      labelNames: ['store'],
      registers,
      async collect() {
        if (!sessions) return;
        const now = Date.now();
        if (!cached || now - cached.at >= SESSION_COUNT_TTL_MS) cached = { at: now, value: sessions() };
        try {
          const { store, count } = await cached.value;
          this.set({ store }, count);
        } catch {
          cached = undefined; // The store's error is counted where it happened; this scrape shows the last value.
        }
      },
    });
    this.lockouts = new Counter({ name: 'portcullis_account_lockouts_total', help: 'Accounts locked after repeated login failures.', registers });
    this.throttles = new Counter({ name: 'portcullis_source_throttles_total', help: 'Source addresses throttled after repeated login failures.', registers });
    this.backend = new Counter({
      name: 'portcullis_backend_errors_total',
      help: 'Backend calls that failed (kind=error) or did not answer in time (kind=timeout), per backend.',
      labelNames: ['backend', 'kind'],
      registers,
    });
    this.dropped = new Counter({
      name: 'portcullis_audit_events_dropped_total',
      help: 'Audit events a sink could not take (its buffer was full or it was down), per sink.',
      labelNames: ['sink'],
      registers,
    });
  }

  login(dialect: string, provider: string, outcome: LoginOutcome): void {
    const key = `${dialect}\n${provider}\n${outcome}`;
    let c = this.loginChildren.get(key);
    if (!c) this.loginChildren.set(key, (c = this.logins.labels(dialect, provider, outcome)));
    c.inc();
  }

  sessionCheck(dialect: string, outcome: CheckOutcome): void {
    let byOutcome = this.checkChildren.get(dialect);
    if (!byOutcome) this.checkChildren.set(dialect, (byOutcome = new Map()));
    let c = byOutcome.get(outcome);
    if (!c) byOutcome.set(outcome, (c = this.checks.labels(dialect, outcome)));
    c.inc();
  }

  route(dialect: string, route: string, method: string): RouteObserver {
    const key = `${dialect}\n${route}\n${method}`;
    let r = this.routes.get(key);
    if (!r) {
      const h = this.latency;
      const children: (Histogram.Internal<'dialect' | 'route' | 'method' | 'status_class'> | undefined)[] = [];
      r = {
        done(status: number, seconds: number) {
          const i = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
          let c = children[i];
          if (!c) children[i] = c = h.labels(dialect, route, method, STATUS_CLASSES[i]!);
          c.observe(seconds);
        },
      };
      this.routes.set(key, r);
    }
    return r;
  }

  accountLocked(): void {
    this.lockouts.inc();
  }

  sourceThrottled(): void {
    this.throttles.inc();
  }

  backendError(backend: Backend, kind: 'error' | 'timeout'): void {
    this.backend.labels(backend, kind).inc();
  }

  hashWait(seconds: number): void {
    this.wait.observe(seconds);
  }

  auditDropped(sink: string): void {
    this.dropped.labels(sink).inc();
  }

  /** The text exposition format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
