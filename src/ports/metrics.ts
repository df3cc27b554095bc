/**
 * What the service counts, as a port: the core, the HTTP layer and the adapters
 * report events here and never import a metrics library. The default does nothing;
 * `serve` installs the Prometheus implementation (src/metrics/) when metrics are
 * enabled. One process has one registry, so the port is process-wide, like the
 * clock of a process: {@link installMetrics} swaps it, {@link metrics} reads it.
 *
 * Every label value passed here comes from a closed set (dialect names, configured
 * provider names, route patterns, the outcome unions below): never a user name, a
 * token or an address, so the number of series stays bounded.
 */

/** How a credential check ended, as counted (the caller is told less: see the dialects). */
export type LoginOutcome =
  | 'success'
  | 'must_change'
  | 'invalid'
  | 'locked'
  | 'throttled'
  | 'forbidden'
  | 'too_many_sessions'
  | 'refused_busy'
  | 'error';

/** How a session check ended. */
export type CheckOutcome = 'valid' | 'invalid' | 'expired' | 'error';

/** The backends whose failures are counted. */
export type Backend = 'sqlite' | 'postgres' | 'redis' | 'ldap' | 'pam';

/** One route's latency recorder; callers keep it (looking it up costs more than using it). */
export interface RouteObserver {
  done(status: number, seconds: number): void;
}

export interface MetricsPort {
  /** A credential check (login or HTTP Basic) through a dialect and a configured provider. */
  login(dialect: string, provider: string, outcome: LoginOutcome): void;
  /** A session check (token to session) through a dialect. */
  sessionCheck(dialect: string, outcome: CheckOutcome): void;
  /** The latency recorder of a route family (dialect and route pattern) and method. */
  route(dialect: string, route: string, method: string): RouteObserver;
  /** An account locked after repeated failures. */
  accountLocked(): void;
  /** A source address throttled after repeated failures. */
  sourceThrottled(): void;
  /** A backend call that failed (`error`) or did not answer in time (`timeout`). */
  backendError(backend: Backend, kind: 'error' | 'timeout'): void;
  /** Time a password verification waited for a hashing thread, in seconds. */
  hashWait(seconds: number): void;
  /** An audit event a sink could not take (buffer full or sink down). */
  auditDropped(sink: string): void;
}

const noRoute: RouteObserver = { done() {} };

/** Counts nothing: the default, and what tests without metrics get. */
export const noMetrics: MetricsPort = {
  login() {},
  sessionCheck() {},
  route: () => noRoute,
  accountLocked() {},
  sourceThrottled() {},
  backendError() {},
  hashWait() {},
  auditDropped() {},
};

let current: MetricsPort = noMetrics;

/** The port in force (read it at each event: it may be installed after the caller was built). */
export function metrics(): MetricsPort {
  return current;
}

/** Installs `m` for the whole process; returns the previous one (tests restore it). */
export function installMetrics(m: MetricsPort): MetricsPort {
  const previous = current;
  current = m;
  return previous;
}

/** Which backend a store or provider error came from, by the names the adapters use. */
export function backendOf(name: string): Backend | undefined {
  const n = name.toLowerCase();
  if (n.startsWith('postgres')) return 'postgres';
  if (n.startsWith('redis')) return 'redis';
  if (n.startsWith('sqlite')) return 'sqlite';
  if (n.startsWith('ldap')) return 'ldap';
  if (n.startsWith('pam')) return 'pam';
  return undefined;
}
