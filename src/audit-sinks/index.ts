import type { AuditSinksConfig } from '../config/audit-sinks.js';
import type { Logger } from '../core/logger.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { AuditEvent } from '../ports/store.js';
import { JsonLinesSink } from './json-lines.js';
import { SyslogSink } from './syslog.js';

export { formatRfc5424, SyslogSink } from './syslog.js';
export { jsonLine, JsonLinesSink } from './json-lines.js';

/** The configured sinks as one (each event to every sink), or undefined when none is configured. */
export function openAuditSinks(cfg: AuditSinksConfig, logger: Logger): AuditSink | undefined {
  const sinks: AuditSink[] = [];
  try {
    cfg.syslog.forEach((c, i) => sinks.push(new SyslogSink(c, i, logger)));
    cfg.jsonLines.forEach((c, i) => sinks.push(new JsonLinesSink(c, i, logger)));
  } catch (e) {
    for (const s of sinks) void s.close();
    throw e;
  }
  if (sinks.length === 0) return undefined;
  return {
    name: sinks.map((s) => s.name).join(','),
    emit(event: AuditEvent) {
      for (const s of sinks) {
        try {
          s.emit(event);
        } catch (e) {
          logger.error({ event: 'audit.sink_failed', sink: s.name, err: (e as Error).message }, 'an audit sink failed');
        }
      }
    },
    reopen() {
      for (const s of sinks) s.reopen?.();
    },
    async close() {
      await Promise.all(sinks.map((s) => s.close()));
    },
  };
}
