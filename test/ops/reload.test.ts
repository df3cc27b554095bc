import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { changedKeys, reload, type ServiceLogger } from '../../src/runtime/signals.js';
import type { RunningServer } from '../../src/server.js';
import { RecordingLogger } from '../helpers.js';

class LevelLogger extends RecordingLogger implements ServiceLogger {
  level = 'info';
}

const server = (reloads: string[]) => ({ tls: { fingerprint: 'x', reload: (why: string) => (reloads.push(why), false), close() {} } }) as unknown as RunningServer;

describe('SIGHUP: what a reload applies, names and refuses', () => {
  it('names changed keys by their dotted path, never their values', () => {
    const a = loadConfig({ env: {}, overrides: { 'session.sweepIntervalSeconds': 60, 'postgres.poolMax': 10 } });
    const b = loadConfig({ env: {}, overrides: { 'session.sweepIntervalSeconds': 30, 'postgres.poolMax': 12, 'hcx.allowedRoles': ['Auditor'] } });
    assert.deepEqual(changedKeys(a, b), ['hcx.allowedRoles', 'postgres.poolMax', 'session.sweepIntervalSeconds']);
    assert.deepEqual(changedKeys(a, a), []);
  });

  it('applies the log level at once, names the rest as needing a restart, and reloads the TLS pair', () => {
    const logger = new LevelLogger();
    const reloads: string[] = [];
    const config = loadConfig({ env: {}, overrides: { 'log.level': 'warn' } });
    const next = loadConfig({ env: {}, overrides: { 'log.level': 'debug', 'listen.port': 9444 } });
    const r = reload({ config, server: server(reloads), logger }, () => next);
    assert.deepEqual(r, { applied: ['log.level'], restartNeeded: ['listen.port'] });
    assert.equal(logger.level, 'debug');
    assert.equal(config.log.level, 'debug');
    assert.deepEqual(reloads, ['SIGHUP']);
    assert.ok(logger.lines.some((l) => (l.obj as { event?: string }).event === 'config.restart_needed'));
    // The same file again: nothing left to name.
    assert.deepEqual(reload({ config, server: server(reloads), logger }, () => loadConfig({ env: {}, overrides: { 'log.level': 'debug', 'listen.port': 9444 } })).applied, []);
  });

  it('refuses a configuration that no longer parses and changes nothing (the TLS pair is still reread)', () => {
    const logger = new LevelLogger();
    const reloads: string[] = [];
    const config = loadConfig({ env: {}, overrides: { 'log.level': 'warn' } });
    const r = reload({ config, server: server(reloads), logger }, () => {
      throw new ConfigError('invalid configuration:\n  log.level: Invalid option');
    });
    assert.deepEqual(r, { applied: [], restartNeeded: [] });
    assert.equal(logger.level, 'info');
    assert.equal(config.log.level, 'warn');
    assert.ok(logger.lines.some((l) => (l.obj as { event?: string }).event === 'config.reload_failed' && l.level === 'error'));
    assert.deepEqual(reloads, ['SIGHUP']);
  });
});
