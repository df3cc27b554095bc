import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { freePort, tempDir } from '../helpers.js';
import { makeCa, type TestCa } from '../tls-ca.js';
import { waitPort as waitPort_ } from '../servers.js';

export type { TestCa };

/*
 * A private OpenLDAP slapd for the identity tests, as TEST-SERVERS.md describes:
 * cn=config in a temp dir loaded with slapadd, listening on 127.0.0.1 only, on
 * free ports, plain + StartTLS and ldaps, with a CA made for the run. Data is
 * added over LDAP after the start so the memberof overlay maintains memberOf.
 */

export const SUFFIX = 'dc=vsphere,dc=local';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
export const ROOT_PW = 'Root-Pass-' + randomBytes(6).toString('hex');
export const SERVICE_DN = `cn=portcullis,ou=ServicePrincipals,${SUFFIX}`;
export const SERVICE_PW = 'Service-Pass-' + randomBytes(6).toString('hex');
const STOP_TIMEOUT_MS = 5_000;


/** Whether the tools the LDAP tests need are installed (scripts/check.sh installs them). */
export function haveSlapd(): string | undefined {
  for (const tool of ['/usr/sbin/slapd', '/usr/sbin/slapadd']) {
    if (spawnSync('test', ['-x', tool]).status !== 0) return `${tool} is missing (bash scripts/check.sh installs slapd)`;
  }
  if (spawnSync('openssl', ['version']).status !== 0) return 'openssl is missing';
  return undefined;
}

function run(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
}

/** {SSHA} userPassword value. */
export function ssha(password: string): string {
  const salt = randomBytes(8);
  return '{SSHA}' + Buffer.concat([createHash('sha1').update(password).update(salt).digest(), salt]).toString('base64');
}

function configLdif(dir: string, tls: { caFile: string; certFile: string; keyFile: string }): string {
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${dir}/slapd.pid
olcTLSCACertificateFile: ${tls.caFile}
olcTLSCertificateFile: ${tls.certFile}
olcTLSCertificateKeyFile: ${tls.keyFile}

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
include: file:///etc/ldap/schema/nis.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 1000

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: ${dir}/db
olcSuffix: ${SUFFIX}
olcRootDN: ${ROOT_DN}
olcRootPW: ${ROOT_PW}
olcDbMaxSize: 104857600
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by * read

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
olcMemberOfRefInt: TRUE
`;
}

export interface Slapd extends TestCa {
  /** ldap://127.0.0.1:PORT (plain, StartTLS-capable). */
  url: string;
  /** ldaps://localhost:PORT. */
  ldapsUrl: string;
  /** ldaps://127.0.0.1:PORT — the certificate names 127.0.0.1 too. */
  ldapsIpUrl: string;
  /** Runs `fn` with a client bound as the root DN. */
  admin<T>(fn: (c: Client) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: the server accepts connections (the kernel does) but answers nothing. Resolves once it is stopped. */
  pause(): Promise<void>;
  resume(): void;
  running(): boolean;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

export async function startSlapd(): Promise<Slapd> {
  const tmp = tempDir('portcullis-slapd-');
  const dir = tmp.path;
  mkdirSync(join(dir, 'slapd.d'));
  mkdirSync(join(dir, 'db'));
  const ca = makeCa(dir);
  writeFileSync(join(dir, 'config.ldif'), configLdif(dir, ca));
  run('slapadd', ['-n0', '-F', join(dir, 'slapd.d'), '-l', join(dir, 'config.ldif')]);
  writeFileSync(join(dir, 'base.ldif'), `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: vsphere\no: vsphere.local\n`);
  run('slapadd', ['-n1', '-F', join(dir, 'slapd.d'), '-l', join(dir, 'base.ldif')]);

  const port = await freePort();
  const ldapsPort = await freePort();
  let child: ChildProcess | undefined;
  let stderr = '';

  const waitPort = (p: number) => waitPort_(p, () => child, 'slapd', () => stderr);

  const start = async () => {
    stderr = '';
    child = spawn('slapd', ['-d', '0', '-F', join(dir, 'slapd.d'), '-h', `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${ldapsPort}/`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    await waitPort(port);
    await waitPort(ldapsPort);
  };

  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGCONT');
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await once(c, 'exit');
    clearTimeout(t);
  };

  await start();
  const url = `ldap://127.0.0.1:${port}`;
  const admin = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ url, timeout: 5000, connectTimeout: 3000 });
    try {
      await c.bind(ROOT_DN, ROOT_PW);
      return await fn(c);
    } finally {
      await c.unbind().catch(() => {});
    }
  };
  return {
    url,
    ldapsUrl: `ldaps://localhost:${ldapsPort}`,
    ldapsIpUrl: `ldaps://127.0.0.1:${ldapsPort}`,
    caFile: ca.caFile,
    otherCaFile: ca.otherCaFile,
    admin,
    start,
    stop,
    pause: async () => {
      if (!child?.pid) return;
      child.kill('SIGSTOP');
      // The signal is asynchronous: wait (bounded) until the kernel shows the process stopped.
      const statPath = `/proc/${child.pid}/stat`;
      for (let i = 0; i < 200; i++) {
        const stat = readFileSync(statPath, 'utf8');
        if (/^[Tt]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('slapd did not stop within 2 s of SIGSTOP');
    },
    resume: () => child?.kill('SIGCONT'),
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    destroy: async () => {
      await stop();
      tmp.remove();
    },
  };
}

/** People and groups of a vsphere.local-like directory. Passwords are in the returned map. */
export const PEOPLE = {
  alice: { password: 'Alice-Pass-1', cn: 'Alice Admin' }, // in Administrators (direct)
  bob: { password: 'Bob-Pass-1', cn: 'Bob Operator' }, // in HcxOps, which is in CloudAdmins, which is in Administrators
  carol: { password: 'Carol-Pass-1', cn: 'Carol Nobody' }, // in Viewers only (mapped to no role)
  dave: { password: 'Dave-Pass-1', cn: 'Dave Disabled' }, // in Administrators, account locked (pwdAccountLockedTime)
  erin: { password: 'Erin-Pass-1', cn: 'Erin Inactive' }, // in Administrators, employeeType: disabled
  'o*brien': { password: 'Obrien-Pass-1', cn: 'Star Name' }, // a name with a filter metacharacter, in Administrators
} as const;

export async function seedVsphere(s: Slapd): Promise<void> {
  await s.admin(async (c) => {
    const ou = (name: string) => c.add(`ou=${name},${SUFFIX}`, { objectClass: ['organizationalUnit'], ou: name });
    await ou('Users');
    await ou('Groups');
    await ou('ServicePrincipals');
    await c.add(SERVICE_DN, { objectClass: ['person', 'simpleSecurityObject'], cn: 'portcullis', sn: 'service', userPassword: ssha(SERVICE_PW) });
    for (const [uid, p] of Object.entries(PEOPLE)) {
      const dn = `uid=${escapeDnValue(uid)},ou=Users,${SUFFIX}`;
      await c.add(dn, {
        objectClass: ['inetOrgPerson'],
        uid,
        cn: p.cn,
        sn: p.cn.split(' ')[1]!,
        mail: `${uid}@vsphere.local`,
        userPassword: ssha(p.password),
        ...(uid === 'erin' && { employeeType: 'disabled' }),
      });
    }
    // Locked the way OpenLDAP's ppolicy locks (the overlay is loaded for its schema, not enforcing):
    // Portcullis must refuse the account itself, even where the directory would let the bind pass.
    await c.modify(`uid=dave,ou=Users,${SUFFIX}`, [
      new Change({ operation: 'add', modification: new Attribute({ type: 'pwdAccountLockedTime', values: ['000001010000Z'] }) }),
    ]);
    const user = (uid: string) => `uid=${escapeDnValue(uid)},ou=Users,${SUFFIX}`;
    const group = (cn: string) => `cn=${cn},ou=Groups,${SUFFIX}`;
    const addGroup = (cn: string, members: string[]) => c.add(group(cn), { objectClass: ['groupOfNames'], cn, member: members });
    // Inner groups first: the memberof overlay sets memberOf on members that exist.
    await addGroup('HcxOps', [user('bob')]);
    await addGroup('CloudAdmins', [group('HcxOps')]);
    await addGroup('Administrators', [user('alice'), group('CloudAdmins'), user('dave'), user('erin'), user('o*brien')]);
    await addGroup('Viewers', [user('carol'), user('alice')]);
    await addGroup('EmptyCycleA', [user('carol')]);
    // A cycle: B in A and A in B must not loop.
    await addGroup('EmptyCycleB', [group('EmptyCycleA')]);
    await c.modify(group('EmptyCycleA'), [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [group('EmptyCycleB')] }) })]);
  });
}

/** RFC 4514 escaping of an attribute value in a DN (enough for the test names). */
function escapeDnValue(v: string): string {
  return v.replace(/[,+"\\<>;=]/g, (c) => '\\' + c).replace(/^ | $/g, (c) => '\\' + c).replace(/^#/, '\\#');
}
