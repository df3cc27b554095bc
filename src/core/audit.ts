import type { Clock } from '../ports/clock.js';
import type { AuditFilter, AuditRecord, AuditStore } from '../ports/store.js';
import type { Logger } from './logger.js';

/** Who asked, as the audit records it. */
export interface AuditContext {
  requestId: string;
  clientAddress: string;
  dialect: string;
}

/** Kinds of audit events, one per rule that fires. */
export const AUDIT_KINDS = [
  'login.success',
  'login.failure',
  'account.lock',
  'account.unlock',
  'account.disable',
  'account.enable',
  'account.create',
  'account.delete',
  'password.change',
  'password.reset',
  'session.logout',
  'session.expire',
  'session.revoke',
  'settings.change',
  'testing.control',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

const SYSTEM: AuditContext = { requestId: '', clientAddress: '', dialect: 'system' };

/**
 * The audit trail. Callers pass facts they choose (never a password or a token);
 * a failure to write is logged and does not fail the request it describes.
 */
export class AuditService {
  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async record(kind: AuditKind, ctx: AuditContext | undefined, username: string, detail: AuditRecord['detail'] = {}): Promise<void> {
    const c = ctx ?? SYSTEM;
    try {
      await this.store.appendAudit({
        at: this.clock.now(),
        kind,
        username,
        clientAddress: c.clientAddress,
        dialect: c.dialect,
        requestId: c.requestId,
        detail,
      });
    } catch (e) {
      this.logger.error({ event: 'audit.write_failed', kind, user: username, err: e instanceof Error ? e.message : String(e) }, 'could not write the audit trail');
    }
  }

  query(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    return this.store.queryAudit(filter);
  }

  /** Deletes events older than `retentionMs`; returns how many. */
  prune(retentionMs: number): Promise<number> {
    return this.store.pruneAudit(this.clock.now() - retentionMs);
  }
}
