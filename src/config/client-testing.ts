import { z } from 'zod';

/**
 * Client-testing mode (off by default): fault rules, session controls, a clock
 * offset, scenarios and a recorder, for people who test their clients against
 * Portcullis. Refused with a non-loopback listen address unless `allowRemote`.
 */
export const clientTestingSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Allow the mode while listening on a non-loopback address (a shared CI network). */
    allowRemote: z.boolean().default(false),
    /** A YAML scenario file: steps applied at request N or after T seconds (see docs/client-testing.md). */
    scenario: z.string().min(1).optional(),
    /** Write every request and answer, secrets masked, as JSON lines to this file. */
    record: z.string().min(1).optional(),
    /** Most fault rules held at once. */
    maxRules: z.number().int().min(1).max(10000).default(256),
  })
  .strict()
  .prefault({});

export type ClientTestingConfig = z.infer<typeof clientTestingSchema>;

/** Whether a listen address is loopback only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}
