import { z } from 'zod';

/**
 * `docs:` — the API documents and their viewer at /docs (docs/openapi.md).
 * `access`:
 * - `local-or-admin` (default): clients on a loopback address, and anyone else with
 *   the session of an administrator (accounts.adminRoles);
 * - `admin`: only administrators' sessions, wherever they come from;
 * - `public`: anyone who reaches the port;
 * - `off`: /docs answers 404.
 */
export const docsSchema = z
  .object({
    access: z.enum(['local-or-admin', 'admin', 'public', 'off']).default('local-or-admin'),
  })
  .strict()
  .prefault({});

export type DocsConfig = z.infer<typeof docsSchema>;
