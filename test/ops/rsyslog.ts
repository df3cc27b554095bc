import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from '../helpers.js';
import { makeCa } from '../tls-ca.js';
import { waitPort } from '../servers.js';

export interface TestRsyslog {
  udpPort: number;
  tcpPort: number;
  tlsPort: number;
  caFile: string;
  otherCaFile: string;
  /** Lines received so far: `input|pri|app-name|msgid|structured-data|msg`. */
  lines(): string[];
  stop(): Promise<void>;
}

const RSYSLOGD = '/usr/sbin/rsyslogd';

/**
 * A private rsyslogd (Debian's, with rsyslog-openssl for TLS) on loopback, under a
 * temp dir with its own configuration: UDP (imudp), TCP with octet counting
 * (imptcp) and TLS (imtcp + ossl, certificate from the test CA). Everything it
 * receives goes to one file, one line per message, with the fields tests check.
 */
export async function startRsyslog(): Promise<TestRsyslog> {
  if (!existsSync(RSYSLOGD)) throw new Error('rsyslogd is missing: apt-get install rsyslog rsyslog-openssl (scripts/lib.sh ensure_test_servers does)');
  const dir = tempDir('portcullis-rsyslog-');
  const ca = makeCa(dir.path);
  const [udpPort, tcpPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
  const out = join(dir.path, 'received.log');
  writeFileSync(
    join(dir.path, 'rsyslog.conf'),
    `global(workDirectory="${dir.path}" DefaultNetstreamDriverCAFile="${ca.caFile}" DefaultNetstreamDriverCertFile="${ca.certFile}" DefaultNetstreamDriverKeyFile="${ca.keyFile}" maxMessageSize="64k")
module(load="imudp")
module(load="imptcp")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
template(name="fields" type="string" string="%inputname%|%pri%|%app-name%|%msgid%|%structured-data%|%msg%\\n")
ruleset(name="audit") { action(type="omfile" file="${out}" template="fields" flushOnTXEnd="on" asyncWriting="off") }
input(type="imudp" address="127.0.0.1" port="${udpPort}" ruleset="audit")
input(type="imptcp" address="127.0.0.1" port="${tcpPort}" ruleset="audit")
input(type="imtcp" address="127.0.0.1" port="${tlsPort}" ruleset="audit")
`,
  );
  let log = '';
  const child: ChildProcess = spawn(RSYSLOGD, ['-n', '-f', join(dir.path, 'rsyslog.conf'), '-i', join(dir.path, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (log += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (log += s));
  try {
    await waitPort(tcpPort, () => child, 'rsyslogd', () => log);
    await waitPort(tlsPort, () => child, 'rsyslogd', () => log);
  } catch (e) {
    child.kill('SIGKILL');
    dir.remove();
    throw e;
  }
  return {
    udpPort,
    tcpPort,
    tlsPort,
    caFile: ca.caFile,
    otherCaFile: ca.otherCaFile,
    lines: () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : []),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          child.once('exit', r);
          setTimeout(() => {
            child.kill('SIGKILL');
            r(undefined);
          }, 5000).unref();
        });
      }
      dir.remove();
    },
  };
}
