import { z } from 'zod';

/**
 * `identity.domains`: the one place domains are configured. A typed name
 * `user@<domain>` or `<DOMAIN>\user` with a listed domain (compared case-folded)
 * is the same person as `user`: one failure counter, one lock (README
 * "Identities"); the directory accepts names with these domains only
 * (`identity.ldap.domains`, when given, adds to them), and dialects that
 * accept domain-qualified names (vCenter's `administrator@vsphere.local`,
 * `VSPHERE.LOCAL\administrator`) read them from here. List a NetBIOS name
 * (`VSPHERE`) separately when users type it.
 */
export const identityDomainsSchema = z
  .array(
    z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^@\\\s\p{Cc}]+$/u, 'must be a domain name (no @, \\ or white space)'),
  )
  .max(64)
  .default([]);

export type IdentityDomains = z.infer<typeof identityDomainsSchema>;

/** Every configured domain: identity.domains, then identity.ldap.domains (kept for older files). */
export function configuredDomains(identity: { domains: readonly string[]; ldap?: { domains?: readonly string[] | undefined } | undefined }): string[] {
  return [...new Set([...identity.domains, ...(identity.ldap?.domains ?? [])])];
}
