import { z } from 'zod';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * `metrics`: the Prometheus endpoint, on a listener of its own (never the API's
 * port, so it is not exposed with the API by accident). Off by default.
 */
export const metricsSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9464),
    /** When set, a scrape must send `Authorization: Bearer <token>` (compared in constant time). */
    bearerToken: z.string().min(16, 'must be at least 16 characters').max(4096).optional(),
    /** A file holding the token (first line), instead of bearerToken. */
    bearerTokenFile: z.string().min(1).optional(),
    /** Beyond loopback, a token is required unless this is true (e.g. a private scrape network). */
    allowUnauthenticated: z.boolean().default(false),
  })
  .strict()
  .prefault({})
  .refine((m) => !(m.bearerToken !== undefined && m.bearerTokenFile !== undefined), { message: 'give bearerToken or bearerTokenFile, not both', path: ['bearerToken'] })
  .refine((m) => !m.enabled || isLoopback(m.host) || m.bearerToken !== undefined || m.bearerTokenFile !== undefined || m.allowUnauthenticated, {
    message: 'metrics on a non-loopback address need bearerToken (or bearerTokenFile), or allowUnauthenticated: true',
    path: ['host'],
  });

export type MetricsConfig = z.infer<typeof metricsSchema>;
