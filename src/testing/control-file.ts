import { X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The control file of client-testing mode: where the running server listens, the
 * control token the local CLI authenticates with, and the SHA-256 fingerprint of
 * the certificate it serves (the CLI pins it). 0600 in the data directory, which
 * is 0700: only the service's own user (and root) can read it.
 */
export interface ControlFile {
  url: string;
  token: string;
  /** Hex SHA-256 of the served certificate, colon-separated as Node prints it; absent over plain HTTP. */
  fingerprint256?: string;
}

export const CONTROL_FILE = 'client-testing.json';

export function writeControlFile(dataDir: string, url: string, token: string, certPem: string | undefined): string {
  const file = join(dataDir, CONTROL_FILE);
  const body: ControlFile = { url, token, ...(certPem && { fingerprint256: new X509Certificate(certPem).fingerprint256 }) };
  writeFileSync(`${file}.tmp`, JSON.stringify(body, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return file;
}

export function readControlFile(dataDir: string): ControlFile {
  const file = join(dataDir, CONTROL_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no ${file}: is Portcullis serving with --client-testing on this data directory?`);
  }
  const c = JSON.parse(text) as ControlFile;
  if (typeof c.url !== 'string' || typeof c.token !== 'string') throw new Error(`${file} is not a control file`);
  return c;
}
