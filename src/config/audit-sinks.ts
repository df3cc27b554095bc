import { z } from 'zod';

/** Syslog facilities by name (RFC 5424 §6.2.1). */
export const FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;

const syslogSink = z
  .object({
    /** udp (RFC 5426), tcp (RFC 6587 octet counting) or tls (RFC 5425). */
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
    host: z.string().min(1).default('127.0.0.1'),
    /** Default 514 (udp, tcp) or 6514 (tls). */
    port: z.number().int().min(1).max(65535).optional(),
    facility: z.enum(Object.keys(FACILITIES) as [keyof typeof FACILITIES, ...(keyof typeof FACILITIES)[]]).default('authpriv'),
    appName: z.string().regex(/^[!-~]{1,48}$/, 'must be 1-48 printable ASCII characters without spaces').default('portcullis'),
    /** HOSTNAME field; default the machine's host name. */
    hostname: z.string().regex(/^[!-~]{1,255}$/, 'must be printable ASCII without spaces').optional(),
    /** TLS: the CA (PEM) the collector's certificate must chain to; default the system's. */
    caFile: z.string().min(1).optional(),
    /** TLS: the name the certificate must carry; default host. */
    serverName: z.string().min(1).optional(),
    /** Events kept while the collector is slow or unreachable; beyond this they are dropped and counted. */
    maxQueue: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Wait before reconnecting after a lost connection, in ms (doubles up to 30 s). */
    reconnectMs: z.number().int().min(50).max(60_000).default(1000),
  })
  .strict();

const jsonLinesSink = z
  .object({
    /** A file to append to, or "-" for standard output. */
    path: z.string().min(1),
    /** Bytes waiting to be written beyond which events are dropped and counted. */
    maxBufferBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024),
  })
  .strict();

/**
 * `auditSinks`: where audit events go besides the audit table, for the operators'
 * collectors. None by default. A sink never holds up a login: its buffer is bounded
 * and what does not fit is dropped and counted (portcullis_audit_events_dropped_total).
 */
export const auditSinksSchema = z
  .object({
    syslog: z.array(syslogSink).max(8).default([]),
    jsonLines: z.array(jsonLinesSink).max(8).default([]),
  })
  .strict()
  .prefault({});

export type SyslogSinkConfig = z.infer<typeof syslogSink>;
export type JsonLinesSinkConfig = z.infer<typeof jsonLinesSink>;
export type AuditSinksConfig = z.infer<typeof auditSinksSchema>;
