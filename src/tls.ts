import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from './config.js';
import type { Logger } from './core/logger.js';

/** The files the pair is read from: the configured ones, or the generated pair's in `<dataDir>/tls/`. */
export function tlsFiles(config: Config): { certFile: string; keyFile: string } {
  if (config.tls.certFile && config.tls.keyFile) return { certFile: config.tls.certFile, keyFile: config.tls.keyFile };
  return { certFile: join(config.dataDir, 'tls', 'cert.pem'), keyFile: join(config.dataDir, 'tls', 'key.pem') };
}

/**
 * The key and certificate to serve: the configured files, or a self-signed pair
 * generated on first start and kept in `<dataDir>/tls/` (key mode 0600).
 */
export async function tlsMaterial(config: Config, logger: Logger): Promise<{ key: string; cert: string } | undefined> {
  if (config.tls.disabled) return undefined;
  if (config.tls.certFile && config.tls.keyFile) {
    return { cert: readPem(config.tls.certFile, 'tls.certFile'), key: readPem(config.tls.keyFile, 'tls.keyFile') };
  }
  const dir = join(config.dataDir, 'tls');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = hostname();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 825 * 86_400_000);
  const { generate } = await import('selfsigned'); // only to make a certificate: it and its X.509 library cost ~0.2 s of every start
  const pems = await generate([{ name: 'commonName', value: host }, { name: 'organizationName', value: 'Portcullis self-signed' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: host },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
  logger.info({ event: 'tls.generated', certFile, fingerprint: pems.fingerprint }, 'generated a self-signed TLS certificate');
  return { key: pems.private, cert: pems.cert };
}

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${key}: cannot read ${path}: ${(e as Error).message}`);
  }
}
