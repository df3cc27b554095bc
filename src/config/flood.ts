import { z } from 'zod';

/**
 * `flood`: how logins are scheduled when many arrive at once (docs/flood-defence.md).
 * Known clients ((account, source) pairs that logged in before) verify first; each
 * unknown source holds only a few logins at once; refusals stay cheap.
 */
export const floodSchema = z
  .object({
    /** Logins in progress at once from one source (IPv4 address, IPv6 /64) not known for the account; one more gets 503 at once. */
    perSourceLogins: z.number().int().min(1).max(1000).default(4),
    /** Logins naming one account from sources not known for it, in progress at once: bounds the guesses checked in parallel. */
    perAccountLogins: z.number().int().min(1).max(1000).default(4),
    /** Logins in progress at once of one known client ((account, source) pair). */
    perClientLogins: z.number().int().min(1).max(1000).default(16),
    /** Share of the verifications new clients get while known clients also wait (0.05–0.5). */
    newClientShare: z.number().min(0.05).max(0.5).default(0.25),
    /** Known (account, source) pairs kept in memory (loaded from the store at start); 0 = only the store decides, after its reads. */
    knownClients: z.number().int().min(0).max(10_000_000).default(100_000),
    /** Open connections from one source; one more is closed before its TLS handshake. 0 = no limit (always 0 behind a trusted proxy). */
    connectionsPerSource: z.number().int().min(0).max(1_000_000).default(64),
    /** After a 503 busy, the connection's next request is read only after this long (the Retry-After it was told), ms; 0 = at once. */
    holdAfterRefusalMs: z.number().int().min(0).max(60_000).default(1000),
  })
  .strict()
  .prefault({});

export type FloodConfig = z.infer<typeof floodSchema>;
