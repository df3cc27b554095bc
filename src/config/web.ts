import { z } from 'zod';

/** A DNS name such as example.com (a leading dot, as in old cookie syntax, is dropped). */
const dnsName = z
  .string()
  .max(253)
  .transform((s) => s.toLowerCase().replace(/^\./, ''))
  .refine((s) => /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(s), 'must be a DNS name such as example.com');

const roleList = z.array(z.string().min(1).max(128)).max(256);

/**
 * The browser side: the login page (`/portcullis/login`) and the operator console
 * (`/console/`). See docs/console.md.
 */
export const webSchema = z
  .object({
    /** Serve the login page and the console. */
    enabled: z.boolean().default(true),
    /** Identity provider(s) of the login page; default: the XClarity dialect's (lxca.provider). */
    provider: z
      .union([z.string().regex(/^[^,\s]+$/, 'must be a provider name (local, pam, ldap)'), z.array(z.string().regex(/^[^,\s]+$/)).min(1).max(8)])
      .transform((v) => (Array.isArray(v) ? v.join(',') : v))
      .optional(),
    /** Roles that may sign in to the console; "any" = at least one role. Administrators are accounts.adminRoles. */
    allowedRoles: z.union([z.literal('any'), roleList.min(1)]).default('any'),
    /**
     * Domain the session cookie is set for (e.g. example.com: every host under it
     * receives it, so the gateway on app.example.com sees a login made on
     * login.example.com). Absent: the cookie is for Portcullis's own host only.
     */
    cookieDomain: dnsName.optional(),
    /**
     * Hosts the login page may send a browser back to (`rd`): each entry matches that
     * host and every host under it. Relative paths on Portcullis itself are always allowed.
     */
    allowedReturnDomains: z.array(dnsName).max(256).default([]),
    /**
     * SameSite of the cookies the login page sets. lax (default): a link followed from
     * another site to a protected app keeps the login; state changes are protected by
     * the csrf token either way.
     */
    sameSite: z.enum(['lax', 'strict']).default('lax'),
  })
  .strict()
  .prefault({});

export type WebConfig = z.infer<typeof webSchema>;
