import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { FACILITIES, type SyslogSinkConfig } from '../config/audit-sinks.js';
import type { Logger } from '../core/logger.js';
import type { AuditSink } from '../ports/audit-sink.js';
import { metrics } from '../ports/metrics.js';
import type { AuditEvent } from '../ports/store.js';

/** The enterprise number RFC 5612 reserves for documentation and examples: Portcullis has none of its own. */
const SD_ID = 'portcullis@32473';
/** Longest datagram sent over UDP (RFC 5426 asks receivers for at least 2048; most take 8 KiB). */
const UDP_MAX = 8192;
const WARNING = 4;
const NOTICE = 5;

const sdValue = (v: string) => v.replace(/[\\"\]]/g, (c) => `\\${c}`);
const field = (v: string, max: number) => (v === '' ? '-' : v.replace(/[^!-~]/g, '_').slice(0, max));

/** Severity of an event: failures and locks are warnings, the rest notices. */
function severity(kind: string): number {
  return kind === 'login.failure' || kind === 'account.lock' ? WARNING : NOTICE;
}

/**
 * One event as an RFC 5424 message: the header, a structured-data element with the
 * event's fields, and the whole event as JSON in MSG (for collectors that parse it).
 *
 * @example
 *   <84>1 2026-12-02T02:10:00.123Z node1 portcullis 4242 login.failure [portcullis@32473 kind="login.failure" user="alice" …] {"kind":…}
 */
export function formatRfc5424(e: AuditEvent, opts: { facility: number; hostname: string; appName: string; procId: string }): string {
  const pri = opts.facility * 8 + severity(e.kind);
  const sd = `[${SD_ID} kind="${sdValue(e.kind)}" user="${sdValue(e.username)}" client="${sdValue(e.clientAddress)}" dialect="${sdValue(e.dialect)}" requestId="${sdValue(e.requestId)}"]`;
  const msg = JSON.stringify({ time: new Date(e.at).toISOString(), ...e });
  return `<${pri}>1 ${new Date(e.at).toISOString()} ${field(opts.hostname, 255)} ${field(opts.appName, 48)} ${field(opts.procId, 128)} ${field(e.kind, 32)} ${sd} ${msg}`;
}

/**
 * Audit events to a syslog collector over UDP, TCP or TLS. Never blocks: events
 * wait in a bounded queue while the connection is down or slow (reconnecting with
 * backoff); past `maxQueue` they are dropped and counted. Delivery is at most once:
 * what the kernel had taken when a connection breaks may be lost.
 */
export class SyslogSink implements AuditSink {
  readonly name: string;
  private readonly queue: Buffer[] = [];
  private socket: Socket | undefined;
  private udp: UdpSocket | undefined;
  private udpInFlight = 0;
  private connected = false;
  private writable = false;
  private closed = false;
  private backoff: number;
  private timer: NodeJS.Timeout | undefined;
  private droppedSinceLog = 0;
  private readonly opts: { facility: number; hostname: string; appName: string; procId: string };
  private readonly port: number;
  private readonly ca: string | undefined;

  constructor(
    private readonly cfg: SyslogSinkConfig,
    index: number,
    private readonly logger: Logger,
  ) {
    this.name = `syslog_${cfg.transport}_${index}`;
    this.port = cfg.port ?? (cfg.transport === 'tls' ? 6514 : 514);
    this.opts = { facility: FACILITIES[cfg.facility], hostname: cfg.hostname ?? osHostname(), appName: cfg.appName, procId: String(process.pid) };
    this.backoff = cfg.reconnectMs;
    this.ca = cfg.caFile ? readFileSync(cfg.caFile, 'utf8') : undefined;
    if (cfg.transport === 'udp') {
      this.udp = createSocket(cfg.host.includes(':') ? 'udp6' : 'udp4');
      this.udp.on('error', (e) => this.logger.warn({ event: 'audit.syslog.error', sink: this.name, err: e.message }, 'syslog (udp) error'));
      this.udp.unref();
    } else {
      this.connect();
    }
  }

  emit(event: AuditEvent): void {
    if (this.closed) return this.drop();
    const text = formatRfc5424(event, this.opts);
    if (this.udp) {
      if (this.udpInFlight >= this.cfg.maxQueue) return this.drop();
      let buf = Buffer.from(text, 'utf8');
      if (buf.length > UDP_MAX) buf = buf.subarray(0, UDP_MAX);
      this.udpInFlight++;
      this.udp.send(buf, this.port, this.cfg.host, (err) => {
        this.udpInFlight--;
        if (err) this.drop();
      });
      return;
    }
    if (this.queue.length >= this.cfg.maxQueue) return this.drop();
    const body = Buffer.from(text, 'utf8');
    this.queue.push(Buffer.concat([Buffer.from(`${body.length} `), body])); // RFC 6587 octet counting
    this.pump();
  }

  /** Events waiting to be sent (for tests and the close). */
  get pending(): number {
    return this.queue.length + this.udpInFlight;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const until = Date.now() + 2000;
    while (this.pending > 0 && Date.now() < until && (this.connected || this.udp)) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    clearTimeout(this.timer);
    if (this.queue.length > 0) for (let i = 0; i < this.queue.length; i++) this.drop();
    this.queue.length = 0;
    if (this.udp) await new Promise<void>((r) => this.udp!.close(() => r()));
    if (this.socket) {
      const s = this.socket;
      await new Promise<void>((r) => {
        s.end(() => r());
        setTimeout(r, 500).unref();
      });
      s.destroy();
    }
  }

  private drop(): void {
    metrics().auditDropped(this.name);
    if (this.droppedSinceLog++ === 0) {
      this.logger.warn({ event: 'audit.sink_dropping', sink: this.name, maxQueue: this.cfg.maxQueue }, 'the syslog collector is unreachable or slow: audit events are being dropped (counted in portcullis_audit_events_dropped_total)');
    }
  }

  private connect(): void {
    if (this.closed) return;
    const onConnect = () => {
      this.connected = true;
      this.writable = true;
      this.backoff = this.cfg.reconnectMs;
      if (this.droppedSinceLog > 0) this.logger.info({ event: 'audit.sink_recovered', sink: this.name, dropped: this.droppedSinceLog }, 'the syslog collector answers again');
      this.droppedSinceLog = 0;
      this.pump();
    };
    const s =
      this.cfg.transport === 'tls'
        ? tlsConnect({ host: this.cfg.host, port: this.port, servername: this.cfg.serverName ?? (/^[\d.:]+$/.test(this.cfg.host) ? undefined : this.cfg.host), ca: this.ca, minVersion: 'TLSv1.2' }, onConnect)
        : netConnect({ host: this.cfg.host, port: this.port }, onConnect);
    s.setNoDelay(true);
    s.setKeepAlive(true, 30_000);
    s.on('drain', () => {
      this.writable = true;
      this.pump();
    });
    s.on('data', () => {}); // collectors do not answer; ignore anything sent
    s.on('error', (e) => {
      if (this.connected || this.backoff === this.cfg.reconnectMs) this.logger.warn({ event: 'audit.syslog.error', sink: this.name, err: e.message }, 'syslog connection failed');
    });
    s.on('close', () => {
      this.connected = false;
      this.writable = false;
      if (this.socket === s) this.socket = undefined;
      if (this.closed) return;
      this.timer = setTimeout(() => this.connect(), this.backoff);
      this.timer.unref();
      this.backoff = Math.min(30_000, this.backoff * 2);
    });
    s.unref();
    this.socket = s;
  }

  private pump(): void {
    const s = this.socket;
    if (!s || !this.connected) return;
    while (this.writable && this.queue.length > 0) {
      this.writable = s.write(this.queue.shift()!);
    }
  }
}
