import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { envValue, loadConfig } from '../../src/config.js';

/*
 * Environment values are read as YAML scalars. The common ones (a word, a path, a
 * port) are read without loading the YAML parser: they must come out exactly as
 * YAML reads them, and everything else must still go to YAML.
 */

function yamlOr(raw: string): unknown {
  try {
    return YAML.parse(raw);
  } catch {
    return raw;
  }
}

describe('environment values as YAML scalars', () => {
  const samples = [
    'error', 'info', 'debug', '/var/lib/portcullis', 'data/dir', 'a-b', 'a.b.c', '_x', 'host.example.com', 'Y', 'yes', 'no', 'on', 'off', 'y', 'n',
    'null', 'Null', 'NULL', 'nULL', 'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE', '~', '', ' ',
    '0', '7', '9443', '09443', '00', '-1', '+1', '1.5', '1e3', '1E3', '.5', '.inf', '-.inf', '.nan', '.NaN', '0x1F', '0o17', '1_000', '123456789012345', '1234567890123456',
    '12345678901234567890', 'a: b', 'a #b', '#x', '[1, 2]', '{a: 1}', '"quoted"', "'single'", '*alias', '&anchor', '!tag x', '|', '>', '%x', '@x', '`x',
    'ftp://x', 'C:\\path', 'a b', 'trailing ', ' leading', 'tab\there', 'new\nline', 'ünïcode', '-', '--', '-x', '?x', ':x', 'x:', 'x:y', 'a,b',
  ];
  it('reads each sample as YAML does', () => {
    for (const raw of samples) assert.deepEqual(envValue(raw), yamlOr(raw), JSON.stringify(raw));
  });

  it('reads random short strings over a tricky alphabet as YAML does', () => {
    const alphabet = 'aZyn0179.-_/:# ~eExX+';
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    for (let i = 0; i < 5000; i++) {
      const len = 1 + Math.floor(rnd() * 6);
      let raw = '';
      for (let k = 0; k < len; k++) raw += alphabet[Math.floor(rnd() * alphabet.length)];
      assert.deepEqual(envValue(raw), yamlOr(raw), JSON.stringify(raw));
    }
  });

  it('gives the configuration the typed values: a port number, a boolean, a level', () => {
    const c = loadConfig({ env: { PORTCULLIS_PORT: '9555', PORTCULLIS_LOG_LEVEL: 'warn', PORTCULLIS_HOST: '127.0.0.1' } });
    assert.equal(c.listen.port, 9555);
    assert.equal(c.log.level, 'warn');
    assert.equal(c.listen.host, '127.0.0.1');
  });
});
