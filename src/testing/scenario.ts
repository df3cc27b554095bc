import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, yaml } from '../config.js';
import { faultRuleSchema } from './faults.js';

/**
 * A scenario file: a YAML list of steps, each applied at request N (counting every
 * request after the start, control requests excluded) or T seconds after the start.
 *
 *   - at: { request: 1 }
 *     do: { fault: { match: { op: check }, effect: { status: 401 }, count: 1 } }
 *   - at: { afterSeconds: 5 }
 *     do: { fault: { match: { op: login }, effect: { error: identity_unavailable }, forSeconds: 10 } }
 *   - at: { request: 10 }
 *     do: { clock: { offsetMinutes: 31 } }
 */
const user = z.string().min(1).max(256);
const actionSchema = z.union([
  z.object({ fault: faultRuleSchema }).strict(),
  z.object({ clearFaults: z.literal(true) }).strict(),
  z.object({ clock: z.object({ offsetMinutes: z.number().min(-5_256_000).max(5_256_000) }).strict() }).strict(),
  z.object({ expireSessions: z.object({ user: user.optional(), kind: z.enum(['idle', 'absolute']).default('idle') }).strict() }).strict(),
  z.object({ revokeSessions: z.object({ user }).strict() }).strict(),
  z.object({ mustChangePassword: z.object({ user, value: z.boolean().default(true) }).strict() }).strict(),
  z.object({ lock: z.object({ user }).strict() }).strict(),
  z.object({ unlock: z.object({ user }).strict() }).strict(),
]);

const stepSchema = z
  .object({
    at: z.union([
      z.object({ request: z.number().int().min(1).max(10_000_000) }).strict(),
      z.object({ afterSeconds: z.number().min(0).max(86_400) }).strict(),
    ]),
    do: actionSchema,
  })
  .strict();

export const scenarioSchema = z.array(stepSchema).min(1).max(1000);

export type ScenarioAction = z.output<typeof actionSchema>;
export type ScenarioStep = z.output<typeof stepSchema>;
export interface Scenario {
  file: string;
  steps: ScenarioStep[];
}

export class ScenarioError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** Reads and validates a scenario file; the error names the step and the field. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(`scenario ${file}: cannot read it (${(e as Error).message})`);
  }
  return parseScenario(text, file);
}

export function parseScenario(text: string, file = '<scenario>'): Scenario {
  let raw: unknown;
  try {
    raw = yaml().parse(text);
  } catch (e) {
    throw new ScenarioError(`scenario ${file}: not valid YAML (${(e as Error).message.split('\n', 1)[0]})`);
  }
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [index, ...rest] = issue.path;
    const where = typeof index === 'number' ? `step ${index + 1}${rest.length ? ` (${rest.join('.')})` : ''}` : 'the file';
    const message = issue.code === 'invalid_union' ? 'is not one of the known actions (fault, clearFaults, clock, expireSessions, revokeSessions, mustChangePassword, lock, unlock) or triggers (request, afterSeconds)' : issue.message;
    throw new ScenarioError(`scenario ${file}: ${where}: ${message}`);
  }
  return { file, steps: parsed.data };
}
