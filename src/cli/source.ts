import { Option, type Command } from 'commander';
import { CoreError } from '../core/errors.js';
import { isoSeconds } from '../http/common.js';
import type { Portcullis } from '../service.js';

/** How a command opens the core for one call (cli.ts's withCore). */
type WithCore = <T>(cmd: Command, fn: (p: Portcullis) => Promise<T>) => Promise<T>;

const CLI_CTX = { requestId: '', clientAddress: '', dialect: 'cli' };

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const until = (t: number | null) => (t === null ? '' : t >= Number.MAX_SAFE_INTEGER ? 'until unlocked' : isoSeconds(t));

/**
 * `portcullis source list|release`: the login sources operators watch during a
 * flood (throttled and refused sources with counts, locked accounts), and
 * releasing a source. The same calls as the console's, on the core (SourceService).
 */
export function registerSourceCommands(root: Command, withCore: WithCore): void {
  const source = root.command('source').description('login sources: throttled and refused addresses, locked accounts');
  source
    .command('list')
    .description('throttled and refused source addresses with counts, and locked accounts (portcullis user unlock NAME)')
    .addOption(new Option('--minutes <n>', 'count refusals of the last n minutes (default 60)').argParser((v) => Number(v)))
    .addOption(new Option('--limit <n>', 'at most n sources and n accounts (default 100)').argParser((v) => Number(v)))
    .option('--json', 'print JSON')
    .action(async (opts: { minutes?: number; limit?: number; json?: boolean }, cmd: Command) => {
      const minutes = opts.minutes ?? 60;
      const limit = opts.limit ?? 100;
      if (!(Number.isInteger(minutes) && minutes > 0 && minutes <= 10080)) throw new CoreError('invalid_input', '--minutes must be a whole number from 1 to 10080');
      if (!(Number.isInteger(limit) && limit > 0 && limit <= 100000)) throw new CoreError('invalid_input', '--limit must be a whole number from 1 to 100000');
      await withCore(cmd, async (p) => {
        const sources = await p.sources.listSources({ limit, sinceMs: minutes * 60_000 });
        const locked = await p.sources.listLockedAccounts(limit);
        if (opts.json) return void process.stdout.write(JSON.stringify({ sources, lockedAccounts: locked }, null, 2) + '\n');
        const rows = [['SOURCE', 'STATE', 'FAILURES', `REFUSED (${minutes} MIN)`, 'UNTIL']];
        for (const s of sources) rows.push([s.source, s.throttled ? 'throttled' : s.failures > 0 ? 'failing' : 'refused', String(s.failures), String(s.refused), until(s.throttledUntil)]);
        process.stdout.write(sources.length ? table(rows) + '\n' : 'no throttled or refused sources\n');
        const arows = [['LOCKED ACCOUNT', 'FAILURES', 'UNTIL']];
        for (const a of locked) arows.push([a.username, String(a.failures), until(a.lockedUntil)]);
        process.stdout.write(locked.length ? '\n' + table(arows) + '\n' : 'no locked accounts\n');
      });
    });
  source
    .command('release <address>')
    .description('forget the login failures of a source address (an IPv4 address, an IPv6 address or its /64), so it is no longer throttled')
    .action(async (address: string, _opts: unknown, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const had = await p.sources.releaseSource(address, CLI_CTX, 'cli');
        process.stdout.write(had ? `source ${address} released\n` : `source ${address} had no failures to forget\n`);
      });
    });
}
