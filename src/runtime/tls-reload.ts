import { readFileSync, watch, type FSWatcher } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { basename, dirname } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../core/logger.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsReloader {
  /** SHA-256 fingerprint of the certificate served to new connections. */
  readonly fingerprint: string;
  /** Reads the pair again; serves it to new connections when it is good. Returns whether it changed to the new pair. */
  reload(reason: string): boolean;
  /** Stops watching the files. */
  close(): void;
}

/** Checks a PEM pair as a server would use it; returns its fingerprint, or throws naming what is wrong. */
export function checkPair(cert: string, key: string, now = Date.now()): { fingerprint: string; notAfter: string; expired: boolean } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`the certificate is not a PEM X.509 certificate (${(e as Error).message})`);
  }
  try {
    // Refuses a key that is not PEM, or that does not belong to the certificate.
    createSecureContext({ cert, key });
  } catch (e) {
    throw new Error(`the key does not fit the certificate or cannot be read (${(e as Error).message})`);
  }
  return { fingerprint: x509.fingerprint256, notAfter: x509.validTo, expired: Date.parse(x509.validTo) <= now };
}

/**
 * Certificate rotation without a restart: on `reload()` (SIGHUP) and when either
 * file changes, the pair is read and checked; a good pair is served to new
 * connections (those already open finish on the old one, as TLS does), a bad one
 * is refused with a logged error and the old pair kept. The directories are
 * watched, not the files, so an atomic rename (certbot, Kubernetes secrets) is seen.
 */
export function tlsReloader(server: HttpsServer, files: TlsFiles, initial: { cert: string; key: string }, logger: Logger, opts: { watch?: boolean; debounceMs?: number } = {}): TlsReloader {
  let current = { cert: initial.cert, key: initial.key };
  let fingerprint = checkPair(initial.cert, initial.key).fingerprint;
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;

  const reload = (reason: string): boolean => {
    let cert: string;
    let key: string;
    try {
      cert = readFileSync(files.certFile, 'utf8');
      key = readFileSync(files.keyFile, 'utf8');
    } catch (e) {
      logger.error({ event: 'tls.reload_refused', reason, err: (e as Error).message, fingerprint }, 'the new TLS pair cannot be read; still serving the old one');
      return false;
    }
    if (cert === current.cert && key === current.key) return false;
    let checked;
    try {
      checked = checkPair(cert, key);
    } catch (e) {
      logger.error({ event: 'tls.reload_refused', reason, err: (e as Error).message, certFile: files.certFile, keyFile: files.keyFile, fingerprint }, 'the new TLS pair is not usable; still serving the old one');
      return false;
    }
    if (checked.expired) {
      logger.error({ event: 'tls.reload_refused', reason, err: `the certificate expired on ${checked.notAfter}`, fingerprint }, 'the new TLS certificate has expired; still serving the old one');
      return false;
    }
    server.setSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    const previous = fingerprint;
    current = { cert, key };
    fingerprint = checked.fingerprint;
    logger.info({ event: 'tls.reloaded', reason, fingerprint, previous, notAfter: checked.notAfter }, 'serving the new TLS certificate to new connections');
    return true;
  };

  if (opts.watch !== false) {
    const names = new Set([basename(files.certFile), basename(files.keyFile)]);
    for (const dir of new Set([dirname(files.certFile), dirname(files.keyFile)])) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name !== null && !names.has(String(name)) && !String(name).startsWith('..')) return;
          // A pair is written as two files: wait until both are in place.
          clearTimeout(timer);
          timer = setTimeout(() => reload('file changed'), opts.debounceMs ?? 500);
          timer.unref();
        });
        w.on('error', (e) => logger.warn({ event: 'tls.watch_failed', dir, err: e.message }, 'cannot watch the TLS files any more; SIGHUP still reloads them'));
        watchers.push(w);
      } catch (e) {
        logger.warn({ event: 'tls.watch_failed', dir, err: (e as Error).message }, 'cannot watch the TLS files; SIGHUP reloads them');
      }
    }
  }

  return {
    get fingerprint() {
      return fingerprint;
    },
    reload,
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
