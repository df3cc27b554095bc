import type { AuditEvent } from './store.js';

/**
 * Where audit events go besides the audit table (syslog, JSON lines). `emit` must
 * return at once and never throw: a sink that is full or unreachable drops the
 * event (and counts it) rather than hold up the login it describes.
 */
export interface AuditSink {
  readonly name: string;
  emit(event: AuditEvent): void;
  /** Reopens files (log rotation); a no-op for network sinks. */
  reopen?(): void;
  /** Sends what is buffered (bounded in time) and closes. */
  close(): Promise<void>;
}
