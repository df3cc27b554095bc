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
 *   domains: { vsphere.local: local, corp.example.com: ldap }   # or a list: [vsphere.local] (by `provider`)
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
       * SSO domains whose names are checked without the domain: `administrator@vsphere.local` and
       * `VSPHERE.LOCAL\administrator` are both checked as `administrator`. A list: those domains, by
       * `provider` (default: vSphere's own `vsphere.local`, as vCenter reads a bare name). A mapping:
       * domain (matched ignoring case) → the identity source of its users.
       */
      domains: z
        .union([z.array(domainName).max(256), z.record(domainName, providerRef)])
        .default(['vsphere.local'])
        .refine((d) => {
          const names = Array.isArray(d) ? d : Object.keys(d);
          return new Set(names.map((k) => k.toLowerCase())).size === names.length;
        }, 'must not list a domain twice (domains are matched ignoring case)'),
      /** Roles that may use the vCenter API; others get 403 UNAUTHORIZED. */
      allowedRoles: z.union([z.literal('any'), roleList]).default(['System Administrator', 'Enterprise Administrator', 'Appliance Administrator']),
    })
    .strict()
    // A list of domains is a mapping of each to `provider`: one shape for the dialect.
    .transform((c) => ({ ...c, domains: Array.isArray(c.domains) ? Object.fromEntries(c.domains.map((d) => [d, c.provider])) : c.domains }))
    .prefault({});
}
