import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { createApp } from '../server.js';
import { openPortcullis } from '../service.js';

/**
 * `portcullis openapi <dialect> [--output FILE]`: the dialect's OpenAPI 3.1 document,
 * the same one /docs/<dialect>/openapi.json serves (docs/openapi.md).
 */
export function registerOpenapiCommand(root: Command): void {
  root
    .command('openapi [dialect]')
    .description('write the OpenAPI 3.1 document of a dialect (hcx, lxca, admin, …); without one, list them')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action(async (dialect: string | undefined, opts: { output?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<{ config?: string; dataDir?: string }>();
      const config = loadConfig({ file: g.config, overrides: { dataDir: g.dataDir } });
      const p = await openPortcullis(config, createLogger('warn'), { touchFlushMs: 0 });
      try {
        const app = createApp(p, createLogger('warn'));
        await app.ready();
        const names = app.openapi.dialects();
        await app.close();
        if (dialect === undefined) {
          process.stdout.write(names.join('\n') + '\n');
          return;
        }
        const doc = app.openapi.document(dialect);
        if (!doc) {
          process.stderr.write(`portcullis: no dialect "${dialect}" with a document (enabled: ${names.join(', ')})\n`);
          process.exitCode = 2;
          return;
        }
        const text = JSON.stringify(doc, null, 2) + '\n';
        if (opts.output) writeFileSync(opts.output, text, { mode: 0o644 });
        else process.stdout.write(text);
      } finally {
        await p.close();
      }
    });
}
