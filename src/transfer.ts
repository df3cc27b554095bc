import { z } from 'zod';
import { DuplicateAccountError, type Account, type SessionRecord } from './ports/store.js';
import { sessionAlive } from './adapters/store/rules.js';
import type { Portcullis } from './service.js';

/*
 * `portcullis export` / `import`: moving accounts, password history, settings and
 * live sessions between stores (SQLite to PostgreSQL + Redis and back). The file
 * holds password hashes and session token hashes (never a token or a password):
 * it is written with mode 0600 and must be handled as a secret.
 */

export const EXPORT_FORMAT = 'portcullis-export';
export const EXPORT_VERSION = 1;
/** Password history kept per account: the largest MinimumPasswordReuseCycle allowed. */
const HISTORY_KEPT = 24;

export class ExportFormatError extends Error {
  override name = 'ExportFormatError';
}

const stringList = z.array(z.string());
const accountSchema = z
  .object({
    username: z.string().min(1),
    roles: stringList,
    organizations: stringList,
    enterprise: z.string(),
    disabled: z.boolean(),
    mustChangePassword: z.boolean(),
    passwordHash: z.string().nullable(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    passwordHistory: z.array(z.object({ passwordHash: z.string(), at: z.number().int() }).strict()).max(HISTORY_KEPT),
  })
  .strict();
const sessionSchema = z
  .object({
    id: z.string().min(1),
    tokenHash: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be the base64 of 32 bytes'),
    csrf: z.string(),
    username: z.string().min(1),
    roles: stringList,
    organizations: stringList,
    enterprise: z.string(),
    mustChangePassword: z.boolean(),
    createdAt: z.number().int(),
    lastAccessedAt: z.number().int(),
    idleTimeoutMs: z.number().int().min(0),
    expiresAt: z.number().int(),
    clientAddress: z.string(),
    authSource: z.string(),
    authServer: z.string(),
    dialect: z.string(),
  })
  .strict();
const exportSchema = z
  .object({
    format: z.literal(EXPORT_FORMAT),
    version: z.literal(EXPORT_VERSION),
    exportedAt: z.number().int(),
    from: z.string(),
    accounts: z.array(accountSchema),
    settings: z.record(z.string(), z.number().int()),
    sessions: z.array(sessionSchema),
  })
  .strict();

export type ExportData = z.infer<typeof exportSchema>;

/** Reads everything worth moving from the configured stores. Live sessions only (at the service's clock). */
export async function exportData(p: Portcullis): Promise<ExportData> {
  const { durable, hot } = p.stores;
  await p.stores.flush();
  const now = p.clock.now();
  const accounts = await Promise.all(
    (await durable.listAccounts()).map(async (a: Account) => ({
      ...a,
      // Oldest first, the order they are replayed in.
      passwordHistory: (await durable.getPasswordHistory(a.username, HISTORY_KEPT)).reverse(),
    })),
  );
  const sessions = (await hot.listSessions()).filter((s) => sessionAlive(s, now)).map((s) => ({ ...s, tokenHash: s.tokenHash.toString('base64') }));
  return { format: EXPORT_FORMAT, version: EXPORT_VERSION, exportedAt: now, from: p.stores.description, accounts, settings: await durable.getSettings(), sessions };
}

export interface ImportResult {
  accounts: number;
  accountsSkipped: number;
  sessions: number;
  sessionsSkipped: number;
  settings: number;
}

/**
 * Writes an export into the configured stores. Refuses a store that already holds
 * accounts unless `merge` (then what exists is kept: an account or session of the
 * same name or id is skipped, never overwritten). Sessions that have ended by now
 * are skipped. Validates the whole file before writing anything.
 */
export async function importData(p: Portcullis, text: string, opts: { merge: boolean }): Promise<ImportResult> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ExportFormatError(`the input is not JSON: ${(e as Error).message}`);
  }
  const parsed = exportSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ExportFormatError(`the input is not a Portcullis export (version ${EXPORT_VERSION}): ${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  const data = parsed.data;
  const { durable, hot } = p.stores;
  const existing = await durable.countAccounts();
  if (existing > 0 && !opts.merge) {
    throw new ExportFormatError(`the target (${p.stores.description}) already holds ${existing} account(s): use --merge to add only what is missing`);
  }

  const result: ImportResult = { accounts: 0, accountsSkipped: 0, sessions: 0, sessionsSkipped: 0, settings: 0 };
  for (const a of data.accounts) {
    const { passwordHistory, createdAt, updatedAt, ...account } = a;
    try {
      await durable.createAccount(account, createdAt);
    } catch (e) {
      if (e instanceof DuplicateAccountError) {
        result.accountsSkipped += 1;
        continue;
      }
      throw e;
    }
    // createAccount stamps both times with its `now`: put the exported updatedAt back.
    await durable.updateAccount(a.username, {}, updatedAt);
    for (const h of passwordHistory) await durable.addPasswordHistory(a.username, h.passwordHash, h.at, HISTORY_KEPT);
    result.accounts += 1;
  }

  if (Object.keys(data.settings).length > 0) {
    const current = await durable.getSettings();
    const missing = opts.merge ? Object.fromEntries(Object.entries(data.settings).filter(([k]) => current[k] === undefined)) : data.settings;
    if (Object.keys(missing).length > 0) await durable.putSettings(missing, data.exportedAt);
    result.settings = Object.keys(missing).length;
  }

  const now = p.clock.now();
  for (const s of data.sessions) {
    const record: SessionRecord = { ...s, tokenHash: Buffer.from(s.tokenHash, 'base64') };
    if (!sessionAlive(record, now) || (await hot.getSession(record.id)) || (await hot.findSessionByTokenHash(record.tokenHash))) {
      result.sessionsSkipped += 1;
      continue;
    }
    await hot.createSession(record);
    result.sessions += 1;
  }
  return result;
}
