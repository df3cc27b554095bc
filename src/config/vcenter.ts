import { z } from 'zod';

/** An SSO domain as users type it after `@` or before `\`: `vsphere.local`, `CORP`. */
const domainName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/, 'must be a domain name such as vsphere.local');

const roleList = z.array(z.string().min(1).max(128)).min(1).max(256);

/**
 * The `vcenter` section: the vSphere Automation API session (`/api/session`, `/rest/com/vmware/cis/session`).
 * `providerRef` is config.ts's provider reference (a name or a list), passed in so both sections parse it alike.
 *
 * @example
 * vcenter:
 *   provider: ldap                 # names without a domain, and domains not listed below
 *   domains: { vsphere.local: local, corp.example.com: ldap }
 */
export function vcenterSchema(providerRef: z.ZodType<string, string | string[]>) {
  return z
    .object({
      enabled: z.boolean().default(true),
      /**
       * Identity source for names without a domain and for names whose domain is not in `domains`
       * (those are passed as typed, so the directory may judge the domain itself). Default: the
       * directory, like HCX's `vsphere` auth type.
       */
      provider: providerRef.default('ldap'),
      /**
       * SSO domain (matched ignoring case) → the identity source of its users. A listed domain is
       * removed from the name before the check: `administrator@vsphere.local` and
       * `VSPHERE.LOCAL\administrator` are both checked as `administrator`.
       */
      domains: z
        .record(domainName, providerRef)
        .default({})
        .refine((d) => new Set(Object.keys(d).map((k) => k.toLowerCase())).size === Object.keys(d).length, 'must not list a domain twice (domains are matched ignoring case)'),
      /** Roles that may use the vCenter API; others get 403 UNAUTHORIZED. */
      allowedRoles: z.union([z.literal('any'), roleList]).default(['System Administrator', 'Enterprise Administrator', 'Appliance Administrator']),
    })
    .strict()
    .prefault({});
}
