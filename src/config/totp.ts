import { z } from 'zod';

/** The TOTP second factor (RFC 6238). See docs/console.md "Second factor". */
export const totpSchema = z
  .object({
    /** Shown by authenticator apps next to the account (the `issuer` of the otpauth:// URI). */
    issuer: z.string().min(1).max(64).regex(/^[^:]+$/, 'must not contain ":"').default('Portcullis'),
    /** Identity sources whose users may enrol: local always; pam and ldap only when listed. */
    sources: z
      .array(z.enum(['local', 'pam', 'ldap']))
      .max(3)
      .default(['local'])
      .transform((l) => [...new Set(['local', ...l])]),
    /**
     * Administrators (accounts.adminRoles) must have a second factor: without one they
     * can sign in only to the console, which sends them to enrolment first; every API
     * dialect refuses them (403) until they have one.
     */
    requiredForAdministrators: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export type TotpConfig = z.infer<typeof totpSchema>;
