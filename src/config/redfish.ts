import { z } from 'zod';

/** The predefined Redfish roles (DSP0266 "Privilege model"), most privileged first. */
export const REDFISH_ROLES = ['Administrator', 'Operator', 'ReadOnly'] as const;
export type RedfishRoleId = (typeof REDFISH_ROLES)[number];

const roleName = z.string().min(1).max(128);
const redfishRole = z.enum(REDFISH_ROLES);
const providerName = z.string().min(1).regex(/^[^,\s]+$/, 'must be a provider name (local, pam, ldap)');

/**
 * The `redfish:` section: the DMTF Redfish SessionService and AccountService
 * (docs/redfish.md). Read once at start like every other section.
 */
export const redfishConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Identity provider for Redfish logins and HTTP Basic; a list = tried in order (as lxca.provider). */
    provider: z
      .union([providerName, z.array(providerName).min(1).max(8)])
      .transform((v) => (Array.isArray(v) ? v.join(',') : v))
      .default('local'),
    /**
     * Portcullis role → Redfish role. A directory or Unix group reaches it through the
     * provider's groupRoles (a group may also map straight to "Administrator", "Operator"
     * or "ReadOnly": those names always stand for themselves). A user with several mapped
     * roles gets the most privileged; a user with none cannot use Redfish (403).
     */
    roleMap: z
      .record(roleName, redfishRole)
      .default({ 'System Administrator': 'Administrator', 'Enterprise Administrator': 'Administrator', Operator: 'Operator', ReadOnly: 'ReadOnly' }),
    /** The Portcullis roles an account created or patched through AccountService with a RoleId receives. */
    accountRoles: z
      .object({ Administrator: z.array(roleName).min(1), Operator: z.array(roleName).min(1), ReadOnly: z.array(roleName).min(1) })
      .strict()
      .default({ Administrator: ['System Administrator', 'Enterprise Administrator'], Operator: ['Operator'], ReadOnly: ['ReadOnly'] }),
    /** The service root's UUID; default: derived from the host name and dataDir, so it is stable across restarts. Set it on clusters. */
    uuid: z
      .string()
      .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID (8-4-4-4-12 hex digits)')
      .optional(),
    /** The service root's Product. */
    product: z.string().min(1).max(128).default('Portcullis'),
  })
  .strict()
  .prefault({})
  .superRefine((c, ctx) => {
    for (const id of REDFISH_ROLES) {
      for (const r of c.accountRoles[id]) {
        const mapped = (REDFISH_ROLES as readonly string[]).includes(r) ? r : c.roleMap[r];
        if (mapped !== id) {
          ctx.addIssue({ code: 'custom', path: ['accountRoles', id], message: `role "${r}" maps to ${mapped ?? 'no Redfish role'} in redfish.roleMap, not ${id}` });
        }
      }
    }
  });

export type RedfishConfig = z.infer<typeof redfishConfigSchema>;
