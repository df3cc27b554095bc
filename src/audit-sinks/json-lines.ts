import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { JsonLinesSinkConfig } from '../config/audit-sinks.js';
import type { Logger } from '../core/logger.js';
import type { AuditSink } from '../ports/audit-sink.js';
import { metrics } from '../ports/metrics.js';
import type { AuditEvent } from '../ports/store.js';

/** One event as one JSON line: `time` (ISO 8601) first, then the event's fields. */
export function jsonLine(e: AuditEvent): string {
  return `${JSON.stringify({ time: new Date(e.at).toISOString(), service: 'portcullis', ...e })}\n`;
}

/**
 * Audit events as JSON lines, appended to a file (mode 0640) or written to standard
 * output, for log shippers. Writes are asynchronous; beyond `maxBufferBytes` waiting,
 * events are dropped and counted. `reopen()` (on SIGHUP) follows a rotated file.
 */
export class JsonLinesSink implements AuditSink {
  readonly name: string;
  private out: Writable;
  private broken = false;
  private droppedSinceLog = 0;

  constructor(
    private readonly cfg: JsonLinesSinkConfig,
    index: number,
    private readonly logger: Logger,
  ) {
    this.name = `jsonl_${cfg.path === '-' ? 'stdout' : 'file'}_${index}`;
    this.out = cfg.path === '-' ? process.stdout : this.open();
  }

  /** Opens the file now, so a path that cannot be written fails the start with its reason. */
  private open(): WriteStream {
    let fd: number;
    try {
      fd = openSync(this.cfg.path, 'a', 0o640);
    } catch (e) {
      throw new Error(`auditSinks.jsonLines: cannot open ${this.cfg.path}: ${(e as Error).message}`);
    }
    const w = createWriteStream('', { fd, flags: 'a' });
    w.on('error', (e) => {
      this.broken = true;
      this.logger.error({ event: 'audit.jsonl.error', sink: this.name, err: e.message }, 'cannot write the audit file; events are dropped until it is reopened (SIGHUP)');
    });
    return w;
  }

  emit(event: AuditEvent): void {
    const line = jsonLine(event);
    if (this.broken || this.out.writableLength + line.length > this.cfg.maxBufferBytes) {
      metrics().auditDropped(this.name);
      if (this.droppedSinceLog++ === 0) this.logger.warn({ event: 'audit.sink_dropping', sink: this.name }, 'the audit file does not keep up: events are being dropped');
      return;
    }
    this.droppedSinceLog = 0;
    this.out.write(line);
  }

  reopen(): void {
    if (this.cfg.path === '-') return;
    let next: WriteStream;
    try {
      next = this.open();
    } catch (e) {
      this.logger.error({ event: 'audit.jsonl.reopen_failed', sink: this.name, err: (e as Error).message }, 'cannot reopen the audit file; still writing to the old one');
      return;
    }
    const old = this.out;
    this.out = next;
    this.broken = false;
    old.end();
  }

  close(): Promise<void> {
    if (this.out === process.stdout) return Promise.resolve();
    const out = this.out;
    return new Promise((resolve) => {
      out.end(() => resolve());
      setTimeout(resolve, 2000).unref();
    });
  }
}
