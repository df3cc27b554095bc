#!/usr/bin/env node
import { Command, Option } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { ConfigError, loadConfig, type Config } from './config.js';
import { viewAccount } from './core/accounts.js';
import { CoreError } from './core/errors.js';
import { isoSeconds } from './http/common.js';
import { createLogger } from './log.js';
import { normalizeUsername, passwordProblem, usernameProblem } from './core/input.js';
import { hasRequiredRole } from './core/sessions.js';
import { SETTING_NAMES, SETTING_RULES, type SettingName } from './core/settings.js';
import { IdentitySourceError } from './ports/identity.js';
import { DuplicateAccountError } from './ports/store.js';
import { PACKAGE, startServer } from './server.js';
import { handleSignals } from './runtime/signals.js';
import { openPortcullis, type Portcullis } from './service.js';
import { SchemaVersionError } from './adapters/store/sqlite/store.js';
import { PgSchemaVersionError } from './adapters/store/postgres/errors.js';
import { exportData, importData, ExportFormatError } from './transfer.js';
import { registerOpenapiCommand } from './cli/openapi.js';
import { registerGatewayCommands } from './cli/gateway.js';
import { CliError, testingCommands } from './cli/testing.js';
import { registerSourceCommands } from './cli/source.js';
import { registerTotpCommands } from './cli/totp.js';

interface GlobalOpts {
  config?: string;
  dataDir?: string;
}

class UsageError extends Error {}

function configFrom(cmd: Command, overrides: Record<string, unknown> = {}): Config {
  const g = cmd.optsWithGlobals<GlobalOpts>();
  return loadConfig({ file: g.config, overrides: { dataDir: g.dataDir, ...overrides } });
}

/** Opens the core for a one-shot command; quiet logs (warnings only) on stderr. */
export async function withCore<T>(cmd: Command, fn: (p: Portcullis) => Promise<T>): Promise<T> {
  const config = configFrom(cmd);
  const p = await openPortcullis(config, createLogger('warn'), { touchFlushMs: 0 });
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Prompts on the terminal without echo. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    const output = new Writable({
      write(chunk, _enc, cb) {
        if (!muted) process.stderr.write(chunk);
        cb();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    rl.on('SIGINT', () => {
      rl.close();
      reject(new UsageError('cancelled'));
    });
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

async function newPassword(opts: { passwordStdin?: boolean }): Promise<string> {
  if (opts.passwordStdin) return readStdin();
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask for the password: pipe it in with --password-stdin');
  const a = await promptHidden('New password: ');
  const b = await promptHidden('Repeat it: ');
  if (a !== b) throw new UsageError('the two passwords differ');
  return a;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function program(): Command {
  const root = new Command('portcullis')
    .description('Login and session service: the HCX, XClarity, Redfish and vCenter session APIs, a forward-auth gateway and a console, on one session store.')
    .version(PACKAGE.version, '-V, --version', 'print the version and exit')
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default $PORTCULLIS_CONFIG')
    .option('-d, --data-dir <dir>', 'data directory (database, TLS material); default ./data')
    .showHelpAfterError()
    .configureOutput({ outputError: (s, write) => write(s) });

  root
    .command('serve')
    .description('start the HTTPS service')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .addOption(new Option('--port <port>', 'port to listen on (default 9443)').argParser((v) => Number(v)))
    .option('--plain-http', 'serve plain HTTP (only behind a TLS-terminating proxy)')
    .option('--client-testing', 'turn on client-testing mode: fault rules, session controls, clock offset (loopback only)')
    .option('--scenario <file>', 'client-testing scenario (YAML steps); implies --client-testing')
    .option('--record <file>', 'record every request and answer, secrets masked, as JSON lines; implies --client-testing')
    .action(async (opts: { host?: string; port?: number; plainHttp?: boolean; clientTesting?: boolean; scenario?: string; record?: string }, cmd: Command) => {
      const overrides = {
        'listen.host': opts.host,
        'listen.port': opts.port,
        'tls.disabled': opts.plainHttp ? true : undefined,
        'clientTesting.enabled': opts.clientTesting || opts.scenario !== undefined || opts.record !== undefined ? true : undefined,
        'clientTesting.scenario': opts.scenario,
        'clientTesting.record': opts.record,
      };
      const config = configFrom(cmd, overrides);
      const logger = createLogger(config.log.level);
      const p = await openPortcullis(config, logger);
      const server = await startServer(p, logger, (line) => process.stdout.write(line + '\n'));
      process.stdout.write(`Portcullis is serving on ${server.url} (data in ${config.dataDir})\n`);
      handleSignals({ config, server, logger, readConfig: () => configFrom(cmd, overrides), closeRest: () => p.close(), onHangup: () => p.auditSink?.reopen?.() });
    });

  const user = root.command('user').description('manage local accounts');
  user
    .command('add <username>')
    .description('create a local account (asks for the password, or reads it with --password-stdin)')
    .option('-r, --role <role>', 'role (repeat for several)', collect)
    .option('-o, --org <organization>', 'organization (repeat for several; default from config)', collect)
    .option('--enterprise <name>', 'enterprise (default from config)')
    .option('--must-change', 'require a password change at first login')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, opts: { role?: string[]; org?: string[]; enterprise?: string; mustChange?: boolean; passwordStdin?: boolean }, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const password = await newPassword(opts);
        await p.accounts.create({
          username,
          password,
          roles: opts.role ?? [],
          organizations: opts.org,
          enterprise: opts.enterprise,
          mustChangePassword: opts.mustChange ?? false,
        });
        process.stdout.write(`created account ${username}\n`);
      });
    });
  user
    .command('passwd <username>')
    .description("set an account's password (ends its sessions)")
    .option('--must-change', 'require a change at next login')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, opts: { mustChange?: boolean; passwordStdin?: boolean }, cmd: Command) => {
      await withCore(cmd, async (p) => {
        await p.accounts.get(username);
        const password = await newPassword(opts);
        await p.accounts.setPassword(username, password, { mustChange: opts.mustChange ?? false });
        process.stdout.write(`password of ${username} changed; its sessions were ended\n`);
      });
    });
  user
    .command('list')
    .description('list local accounts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const accounts = (await p.accounts.list()).map(viewAccount);
        if (opts.json) return void process.stdout.write(JSON.stringify(accounts, null, 2) + '\n');
        const rows = [['USERNAME', 'ROLES', 'ORGANIZATIONS', 'STATE', 'CREATED']];
        for (const a of accounts) {
          const locked = (await p.accounts.lockState(a.username)).locked;
          const state = [a.disabled ? 'disabled' : 'enabled', locked ? 'locked' : '', a.mustChangePassword ? 'must-change-password' : ''].filter(Boolean).join(',');
          rows.push([a.username, a.roles.join(','), a.organizations.join(','), state, isoSeconds(a.createdAt)]);
        }
        process.stdout.write(table(rows) + '\n');
      });
    });
  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(`${name} <username>`)
      .description(disabled ? 'disable an account (ends its sessions)' : 'enable an account')
      .action(async (username: string, _opts: unknown, cmd: Command) => {
        await withCore(cmd, async (p) => {
          await p.accounts.setDisabled(username, disabled);
          process.stdout.write(`account ${username} ${disabled ? 'disabled; its sessions were ended' : 'enabled'}\n`);
        });
      });
  }
  user
    .command('delete <username>')
    .description('delete an account and its sessions')
    .action(async (username: string, _opts: unknown, cmd: Command) => {
      await withCore(cmd, async (p) => {
        await p.accounts.delete(username);
        process.stdout.write(`account ${username} deleted\n`);
      });
    });

  user
    .command('unlock <username>')
    .description('lift a lockout after repeated login failures (and reset the failure count)')
    .action(async (username: string, _opts: unknown, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const wasLocked = await p.accounts.unlock(username);
        process.stdout.write(`account ${username} ${wasLocked ? 'unlocked' : 'was not locked; its failure count was reset'}\n`);
      });
    });

  registerSourceCommands(root, withCore);

  const settings = root.command('settings').description('read and change the account policy (XClarity userAccountSettings)');
  settings
    .command('get')
    .description('print the account settings in force')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const s = await p.settings.get();
        if (opts.json) return void process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        const rows = [['SETTING', 'VALUE', 'UNIT']];
        for (const name of SETTING_NAMES) rows.push([name, String(s[name]), SETTING_RULES[name].unit]);
        process.stdout.write(table(rows) + '\n');
      });
    });
  settings
    .command('set <assignments...>')
    .description('change settings, e.g. portcullis settings set LockoutTime=30 MaximumLoginFailures=10')
    .action(async (assignments: string[], _opts: unknown, cmd: Command) => {
      const patch: Record<string, number> = {};
      for (const a of assignments) {
        const m = /^([A-Za-z]+)=(-?\d+)$/.exec(a);
        if (!m) throw new UsageError(`"${a}" is not NAME=WHOLE_NUMBER (settings: ${SETTING_NAMES.join(', ')})`);
        patch[m[1]!] = Number(m[2]);
      }
      await withCore(cmd, async (p) => {
        const { changed } = await p.settings.set(patch);
        await p.audit.record('settings.change', { requestId: 'cli', clientAddress: 'cli', dialect: 'cli' }, 'cli', { changed: JSON.stringify(changed) });
        const names = Object.keys(changed);
        process.stdout.write(names.length ? names.map((n) => `${n}: ${changed[n as SettingName]!.from} -> ${changed[n as SettingName]!.to}`).join('\n') + '\n' : 'no change\n');
      });
    });

  root
    .command('audit')
    .description('print the audit trail (oldest first)')
    .option('-u, --user <username>', "only this user's events")
    .option('-k, --kind <kind>', 'only this kind (login.failure), or a family ending in a dot (login.)')
    .option('--since <time>', 'only events at or after this ISO 8601 time')
    .option('--limit <n>', 'at most the newest n events (default 1000)', (v) => Number(v))
    .option('--json', 'print JSON')
    .action(async (opts: { user?: string; kind?: string; since?: string; limit?: number; json?: boolean }, cmd: Command) => {
      const since = opts.since !== undefined ? Date.parse(opts.since) : undefined;
      if (since !== undefined && !Number.isFinite(since)) throw new UsageError(`--since must be an ISO 8601 time, not "${opts.since}"`);
      if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0)) throw new UsageError('--limit must be a positive whole number');
      await withCore(cmd, async (p) => {
        const events = await p.audit.query({
          ...(opts.user !== undefined && { username: normalizeUsername(opts.user) }),
          ...(opts.kind !== undefined && { kind: opts.kind }),
          ...(since !== undefined && { since }),
          ...(opts.limit !== undefined && { limit: opts.limit }),
        });
        if (opts.json) return void process.stdout.write(JSON.stringify(events.map((e) => ({ ...e, time: new Date(e.at).toISOString() })), null, 2) + '\n');
        const rows = [['TIME', 'KIND', 'USER', 'CLIENT', 'DIALECT', 'REQUEST', 'DETAIL']];
        for (const e of events) rows.push([isoSeconds(e.at), e.kind, e.username, e.clientAddress, e.dialect, e.requestId, JSON.stringify(e.detail)]);
        process.stdout.write(table(rows) + '\n');
      });
    });

  const session = root.command('session').description('list and revoke sessions');
  session
    .command('list')
    .description('list live sessions')
    .option('-u, --user <username>', "only this user's sessions")
    .option('--json', 'print JSON')
    .action(async (opts: { user?: string; json?: boolean }, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const list = await p.sessions.listSessions(opts.user !== undefined ? { username: opts.user } : undefined);
        const view = list.map((s) => ({
          id: s.id,
          username: s.username,
          clientAddress: s.clientAddress,
          dialect: s.dialect,
          authSource: s.authSource,
          created: isoSeconds(s.createdAt),
          lastAccessed: isoSeconds(s.lastAccessedAt),
          expires: isoSeconds(s.expiresAt),
        }));
        if (opts.json) return void process.stdout.write(JSON.stringify(view, null, 2) + '\n');
        const rows = [['ID', 'USER', 'CLIENT', 'DIALECT', 'SOURCE', 'CREATED', 'LAST ACCESSED', 'EXPIRES']];
        for (const v of view) rows.push([v.id, v.username, v.clientAddress, v.dialect, v.authSource, v.created, v.lastAccessed, v.expires]);
        process.stdout.write(table(rows) + '\n');
      });
    });
  session
    .command('revoke [id]')
    .description('end one session by id, or all of a user\'s with --user')
    .option('-u, --user <username>', "end every session of this user (log out everywhere)")
    .action(async (id: string | undefined, opts: { user?: string }, cmd: Command) => {
      if ((id === undefined) === (opts.user === undefined)) throw new UsageError('give either a session id or --user <username>');
      await withCore(cmd, async (p) => {
        const ctx = { requestId: 'cli', clientAddress: 'cli', dialect: 'cli' };
        if (opts.user !== undefined) {
          const n = await p.sessions.revokeUserSessions(opts.user, ctx, 'cli');
          process.stdout.write(`ended ${n} session(s) of ${opts.user}\n`);
        } else if (await p.sessions.revokeSession(id!, ctx, 'cli')) {
          process.stdout.write(`session ${id} ended\n`);
        } else {
          throw new CoreError('not_found', `no live session with id ${id}`);
        }
      });
    });

  root
    .command('migrate')
    .description('bring the database schema up to date (PostgreSQL: needed when postgres.autoMigrate is false)')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = configFrom(cmd);
      const p = await openPortcullis(config, createLogger('warn'), { touchFlushMs: 0, migrate: true });
      try {
        process.stdout.write(`${p.stores.description}: ${await p.stores.schema()}\n`);
      } finally {
        await p.close();
      }
    });

  root
    .command('export')
    .description('write accounts (with password hashes), password history, settings and live sessions as JSON, to move them to other stores')
    .option('-o, --output <file>', 'file to write (created with mode 0600); default standard output')
    .action(async (opts: { output?: string }, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const data = await exportData(p);
        const text = JSON.stringify(data) + '\n';
        if (opts.output && opts.output !== '-') {
          writeFileSync(opts.output, text, { mode: 0o600, flag: 'wx' });
          process.stderr.write(
            `exported ${data.accounts.length} account(s), ${data.sessions.length} live session(s) and ${Object.keys(data.settings).length} setting(s) from ${p.stores.description} to ${opts.output}\n`,
          );
        } else {
          if (process.stdout.isTTY) throw new UsageError('the export holds password hashes: write it to a file with --output, or redirect standard output');
          process.stdout.write(text);
        }
      });
    });

  root
    .command('import')
    .description('read what `portcullis export` wrote into the configured stores (refuses a store that already holds accounts, unless --merge)')
    .option('-i, --input <file>', 'file to read; default standard input')
    .option('--merge', 'add to a store that already holds accounts: existing accounts and sessions are kept, not overwritten')
    .action(async (opts: { input?: string; merge?: boolean }, cmd: Command) => {
      const text = opts.input && opts.input !== '-' ? readFileSync(opts.input, 'utf8') : await readStdin();
      await withCore(cmd, async (p) => {
        const r = await importData(p, text, { merge: opts.merge === true });
        process.stdout.write(
          `imported into ${p.stores.description}: ${r.accounts} account(s) (${r.accountsSkipped} already there), ${r.sessions} live session(s) (${r.sessionsSkipped} expired or already there), ${r.settings} setting(s)\n`,
        );
      });
    });

  const identity = root.command('identity').description('check the identity sources (local accounts, PAM, LDAP)');
  identity
    .command('test <source> <username>')
    .description('check a password against one source (local, pam, ldap, or a list such as local,ldap) and print what it returned')
    .option('--password-stdin', 'read the password from standard input')
    .option('--json', 'print JSON')
    .action(async (source: string, username: string, opts: { passwordStdin?: boolean; json?: boolean }, cmd: Command) => {
      await withCore(cmd, async (p) => {
        const provider = p.identity.checking(source);
        if (!provider) throw new UsageError(`no identity source "${source}" (local, pam, ldap, or a comma-separated list)`);
        let password: string;
        if (opts.passwordStdin) password = await readStdin();
        else if (process.stdin.isTTY) password = await promptHidden(`Password of ${username}: `);
        else throw new UsageError('no terminal to ask for the password: pipe it in with --password-stdin');

        const problem = usernameProblem(username) ?? passwordProblem(password);
        if (problem) throw new UsageError(`${usernameProblem(username) ? 'username' : 'password'} ${problem}`);
        const started = Date.now();
        let report: Record<string, unknown>;
        try {
          const o = await provider.check(normalizeUsername(username), password);
          const ms = Date.now() - started;
          if (o.ok) {
            const pr = o.principal;
            report = {
              result: 'authenticated',
              source: pr.source,
              authServer: pr.authServer,
              username: pr.username,
              groups: o.groups ?? [],
              roles: pr.roles,
              organizations: pr.organizations,
              enterprise: pr.enterprise,
              hcxLogin: hasRequiredRole(pr.roles, p.config.hcx.allowedRoles) ? 'allowed' : 'refused (403: no role in hcx.allowedRoles)',
              lxcaLogin: hasRequiredRole(pr.roles, p.config.lxca.allowedRoles) ? 'allowed' : 'refused (403: no role in lxca.allowedRoles)',
              detail: o.detail,
              ms,
            };
          } else {
            report = { result: 'refused', reason: o.reason, detail: o.detail, ms };
            process.exitCode = 1;
          }
        } catch (e) {
          report = {
            result: 'source error',
            reason: e instanceof IdentitySourceError ? e.message : e instanceof Error ? e.message : String(e),
            ms: Date.now() - started,
          };
          process.exitCode = 3;
        }
        if (opts.json) return void process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        const rows: string[][] = [];
        for (const [k, v] of Object.entries(report)) {
          if (v === undefined) continue;
          rows.push([k + ':', Array.isArray(v) ? (v.length ? v.join(', ') : '(none)') : String(v)]);
        }
        process.stdout.write(table(rows) + '\n');
      });
    });

  registerOpenapiCommand(root);
  registerGatewayCommands(root, { configFrom: (cmd) => configFrom(cmd), withCore, usage: (m) => new UsageError(m) });
  testingCommands(root, (cmd) => configFrom(cmd));
  registerTotpCommands(root, withCore);
  return root;
}

async function main(): Promise<void> {
  try {
    await program().parseAsync(process.argv);
  } catch (e) {
    const systemError = e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code!);
    if (
      e instanceof ConfigError ||
      e instanceof UsageError ||
      e instanceof CoreError ||
      e instanceof DuplicateAccountError ||
      e instanceof SchemaVersionError ||
      e instanceof PgSchemaVersionError ||
      e instanceof ExportFormatError ||
      e instanceof CliError ||
      systemError
    ) {
      process.stderr.write(`portcullis: ${e.message}\n`);
      process.exitCode = e instanceof UsageError ? 2 : 1;
      return;
    }
    process.stderr.write(`portcullis: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
}

await main();
