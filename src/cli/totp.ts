import type { Command } from 'commander';
import type { Portcullis } from '../service.js';

const CLI_CTX = { requestId: 'cli', clientAddress: 'cli', dialect: 'cli' };

/** `portcullis totp status|list|reset`: the TOTP second factor from the shell (the console has the same). */
export function registerTotpCommands(root: Command, withCore: <T>(cmd: Command, fn: (p: Portcullis) => Promise<T>) => Promise<T>): void {
  const totp = root.command('totp').description('TOTP second factors (authenticator apps) of accounts');
  totp
    .command('status <username>')
    .description("whether the user has a second factor, and how many recovery codes are left")
    .action(async (username: string, _opts: unknown, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const s = await p.secondFactors.status(username);
        const state = s.enrolled ? `on since ${new Date(s.since!).toISOString()}, ${s.recoveryLeft} recovery codes left` : s.pending ? 'enrolment started, not confirmed' : 'off';
        process.stdout.write(`${username}: ${state}\n`);
      });
    });
  totp
    .command('list')
    .description('users with a second factor')
    .action(async (_opts: unknown, cmd: Command) => {
      await withCore(cmd, async (p) => {
        for (const u of await p.secondFactors.enrolledUsers()) process.stdout.write(`${u}\n`);
      });
    });
  totp
    .command('reset <username>')
    .description("remove the user's second factor and recovery codes (audited); the user enrols again")
    .action(async (username: string, _opts: unknown, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const had = await p.secondFactors.reset(username, CLI_CTX, 'cli');
        process.stdout.write(`${username}: ${had ? 'second factor removed' : 'had no second factor'}\n`);
      });
    });
}
