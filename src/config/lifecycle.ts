import { z } from 'zod';

/** `lifecycle`: how the service stops and picks up new certificates. */
export const lifecycleSchema = z
  .object({
    /** On SIGTERM, time in-flight requests get to finish before their connections are closed, in ms. */
    drainTimeoutMs: z.number().int().min(0).max(120000).default(10000),
    /** Reload the TLS pair when its files change (SIGHUP always reloads it). */
    watchTls: z.boolean().default(true),
  })
  .strict()
  .prefault({});
