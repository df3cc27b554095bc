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
 *   domains: { vsphere.local: local }   # route a domain's users to another source
 */
export function vcenterSchema(providerRef: z.ZodType<string, string | string[]>) {
  return z
    .object({
      enabled: z.boolean().default(true),
      /**
       * Identity source for every name whose domain is not routed by `domains`, passed as typed:
       * the directory accepts the domains of `identity.domains`, and the core folds them into one
       * person's failure key. Default: the directory, like HCX's `vsphere` auth type.
       */
      provider: providerRef.default('ldap'),
      /**
       * SSO domain (matched ignoring case) → the identity source of its users, for domains whose
       * users are not `provider`'s: the domain is removed before that source checks the name
       * (`{ vsphere.local: local }`: `administrator@vsphere.local` is the local `administrator`).
       * Which domains name one person is `identity.domains` (the one list); this only routes.
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
