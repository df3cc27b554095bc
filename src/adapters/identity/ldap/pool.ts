import { connect as netConnect, isIP, Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Client, InvalidCredentialsError, ResultCodeError } from 'ldapts';
import { IdentitySourceError } from '../../../ports/identity.js';

const SOURCE = 'ldap';

export interface LdapTransportOptions {
  /** Servers in order of preference (`ldap://` or `ldaps://`); the next is tried when one cannot be reached. */
  urls: string[];
  /** Upgrade `ldap://` connections with StartTLS before anything is sent. */
  startTls: boolean;
  /** PEM CA certificates to trust instead of the system's. */
  ca?: string[] | undefined;
  connectTimeoutMs: number;
  timeoutMs: number;
}

/** One connection: one ldapts Client that may connect exactly once (a lost connection is never silently re-made). */
export class LdapConnection {
  readonly client: Client;
  private readonly sockets: Socket[] = [];
  ready = false;
  broken = false;

  constructor(
    readonly url: string,
    readonly host: string,
    private readonly t: LdapTransportOptions,
  ) {
    const secure = url.toLowerCase().startsWith('ldaps:');
    const tls = tlsOptions(host, t.ca);
    let plainUsed = false;
    let tlsUsed = false;
    this.client = new Client({
      url,
      connectTimeout: t.connectTimeoutMs,
      timeout: t.timeoutMs,
      strictDN: false,
      ...(secure && { tlsOptions: tls }),
      // One connection per Client: were ldapts to reconnect on its own, a StartTLS
      // session would come back unencrypted and unbound. Refusing makes it an error.
      createConnection: ((port: number, h: string) => {
        if (plainUsed) return deadSocket();
        plainUsed = true;
        return this.track(netConnect(port, h));
      }) as typeof netConnect,
      createSecureConnection: ((...args: unknown[]) => {
        if (tlsUsed) return deadSocket() as TLSSocket;
        tlsUsed = true;
        return this.track((tlsConnect as (...a: unknown[]) => TLSSocket)(...args));
      }) as typeof tlsConnect,
    });
  }

  private track<S extends Socket>(s: S): S {
    this.sockets.push(s);
    return s;
  }

  /** Connects (StartTLS when configured). */
  async open(): Promise<void> {
    if (this.t.startTls && !this.url.toLowerCase().startsWith('ldaps:')) await this.client.startTLS(tlsOptions(this.host, this.t.ca));
  }

  get alive(): boolean {
    return !this.broken && this.client.isConnected;
  }

  /** Drops the connection at once (no unbind round trip). */
  destroy(): void {
    this.broken = true;
    for (const s of this.sockets) s.destroy();
  }
}

function tlsOptions(host: string, ca: string[] | undefined): ConnectionOptions {
  return {
    ...(ca && { ca }),
    host,
    ...(isIP(host) === 0 && { servername: host }),
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
  };
}

const CONNECTION_LOST = 'PORTCULLIS_LDAP_CONNECTION_LOST';

function deadSocket(): Socket {
  const s = new Socket();
  const e = Object.assign(new Error('the connection was lost; it is not re-made behind the pool\'s back'), { code: CONNECTION_LOST });
  process.nextTick(() => s.destroy(e));
  return s;
}

/** The server had closed a pooled connection before the request was sent (idle timeout): safe to retry once. */
function lostBeforeSending(e: unknown): boolean {
  return (e as { code?: unknown })?.code === CONNECTION_LOST;
}

/** The host of an LDAP URL, without brackets. */
export function urlHost(url: string): string {
  const h = new URL(url).hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE', 'CERT_REVOKED', 'INVALID_CA', 'CERT_UNTRUSTED', 'CERT_REJECTED',
]);

/** An operator-readable sentence for what went wrong talking to `url`. */
export function describeLdapError(e: unknown, url: string, t: Pick<LdapTransportOptions, 'connectTimeoutMs' | 'timeoutMs'>): string {
  if (e instanceof IdentitySourceError) return e.message;
  const err = e as NodeJS.ErrnoException & { code?: string | number };
  const msg = err instanceof Error ? err.message : String(e);
  const code = typeof err.code === 'string' ? err.code : undefined;
  if (code && TLS_CODES.has(code)) {
    return `the TLS certificate of ${url} was not accepted (${code}: ${msg}); check identity.ldap.caFile and that the certificate names the host in the URL`;
  }
  if (code && (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /ssl|tls/i.test(msg))) return `TLS with ${url} failed (${code}: ${msg})`;
  if (code === 'ECONNREFUSED') return `cannot connect to ${url}: connection refused`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host of ${url} (${code})`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ECONNRESET' || code === 'EPIPE') return `connection to ${url} failed (${code})`;
  if (msg === 'Connection timeout') return `no connection to ${url} within ${t.connectTimeoutMs} ms (identity.ldap.connectTimeoutMs)`;
  if (/Operation timed out/.test(msg)) return `${url} did not answer within ${t.timeoutMs} ms (identity.ldap.timeoutMs)`;
  if (/Connection closed|Socket error|connection was lost/.test(msg)) return `${url} closed the connection`;
  if (e instanceof ResultCodeError) return `${url} answered: ${msg}`;
  return `${url}: ${msg}`;
}

export interface PoolOptions {
  transport: LdapTransportOptions;
  size: number;
  /** Runs once on each new connection after it is open (e.g. the service-account bind). */
  prepare?: (c: LdapConnection) => Promise<void>;
}

interface Waiter {
  resolve(c: LdapConnection | undefined): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A small pool of LDAP connections, reused across logins. A connection that
 * errs, times out or was closed by the server is dropped, never reused; the
 * next login opens a new one, so the pool recovers by itself when the
 * directory comes back.
 */
export class LdapPool {
  private readonly idle: LdapConnection[] = [];
  private inUse = 0;
  private readonly waiters: Waiter[] = [];
  private preferred = 0;
  private closed = false;
  private opened = 0;

  constructor(private readonly o: PoolOptions) {}

  /**
   * Runs `fn` on a connection, within `deadline` (epoch ms). Past the deadline
   * the connection is destroyed and the call fails with an IdentitySourceError.
   */
  async use<T>(deadline: number, fn: (c: LdapConnection) => Promise<T>): Promise<T> {
    let conn = await this.acquire(deadline);
    let retried = conn === undefined; // only a reused connection may have gone stale
    for (;;) {
      try {
        if (!conn) conn = await this.open(deadline);
        const c = conn;
        const result = await withDeadline(fn(c), deadline, () => c.destroy(), () => this.timeoutError(c.url));
        this.release(c);
        return result;
      } catch (e) {
        if (conn) conn.destroy();
        if (!retried && lostBeforeSending(e) && Date.now() < deadline) {
          retried = true;
          conn = undefined; // the slot is still ours: open a fresh connection and try once more
          continue;
        }
        this.release(undefined);
        if (e instanceof IdentitySourceError) throw e;
        throw new IdentitySourceError(SOURCE, describeLdapError(e, conn?.url ?? this.o.transport.urls[0]!, this.o.transport), { cause: e });
      }
    }
  }

  /** A live idle connection, or undefined when a new one may be opened; waits when the pool is full. */
  private acquire(deadline: number): Promise<LdapConnection | undefined> {
    if (this.closed) return Promise.reject(new IdentitySourceError(SOURCE, 'LDAP pool is closed'));
    while (this.idle.length) {
      const c = this.idle.pop()!;
      if (c.alive) {
        this.inUse++;
        return Promise.resolve(c);
      }
      c.destroy();
    }
    if (this.inUse < this.o.size) {
      this.inUse++;
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new IdentitySourceError(SOURCE, `no free LDAP connection within ${this.o.transport.timeoutMs} ms (identity.ldap.poolSize: ${this.o.size})`));
        }, Math.max(1, deadline - Date.now())),
      };
      this.waiters.push(w);
    });
  }

  /** Gives a connection back (or, with undefined, its slot). */
  private release(c: LdapConnection | undefined): void {
    const live = c && c.alive && !this.closed ? c : undefined;
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(live); // the slot passes on: inUse unchanged
      return;
    }
    this.inUse--;
    if (live) this.idle.push(live);
  }

  /** Opens a connection to the first server that answers, starting with the last one that did. */
  private async open(deadline: number): Promise<LdapConnection> {
    const urls = this.o.transport.urls;
    const errors: string[] = [];
    for (let k = 0; k < urls.length; k++) {
      const i = (this.preferred + k) % urls.length;
      const url = urls[i]!;
      const c = new LdapConnection(url, urlHost(url), this.o.transport);
      this.opened++;
      try {
        await withDeadline(
          (async () => {
            await c.open();
            await this.o.prepare?.(c);
          })(),
          deadline,
          () => c.destroy(),
          () => this.timeoutError(url),
        );
        c.ready = true;
        this.preferred = i;
        return c;
      } catch (e) {
        c.destroy();
        // A refused service bind or a bad certificate is not cured by another server of the same directory.
        if (e instanceof IdentitySourceError) throw e;
        errors.push(describeLdapError(e, url, this.o.transport));
        if (Date.now() >= deadline) break;
      }
    }
    throw new IdentitySourceError(SOURCE, errors.join('; '));
  }

  private timeoutError(url: string): IdentitySourceError {
    return new IdentitySourceError(SOURCE, `${url} did not answer within ${this.o.transport.timeoutMs} ms (identity.ldap.timeoutMs)`);
  }

  /** Drops every connection (unbinds idle ones politely, without waiting). */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new IdentitySourceError(SOURCE, 'LDAP pool is closed'));
    }
    for (const c of this.idle.splice(0)) {
      c.client.unbind().catch(() => {}).finally(() => c.destroy());
    }
  }

  /** `opened` counts every connection ever attempted: with reuse it stays near the pool size. */
  get stats(): { idle: number; inUse: number; waiting: number; opened: number } {
    return { idle: this.idle.length, inUse: this.inUse, waiting: this.waiters.length, opened: this.opened };
  }
}

/** Resolves like `p`, or calls `onTimeout` and rejects with `error()` at `deadline`. */
export async function withDeadline<T>(p: Promise<T>, deadline: number, onTimeout: () => void, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(error());
    }, Math.max(1, deadline - Date.now()));
  });
  p.catch(() => {}); // settled later, after the deadline: nothing to report
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

export { InvalidCredentialsError };
