import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * The schema versions Portcullis declares: those of the DMTF mockup
 * public-rackmount1 (DSP2043), whose bodies the golden tests compare against.
 * Portcullis serves a subset of each version's properties.
 */
export const TYPES = {
  ServiceRoot: '#ServiceRoot.v1_18_0.ServiceRoot',
  SessionService: '#SessionService.v1_2_0.SessionService',
  SessionCollection: '#SessionCollection.SessionCollection',
  Session: '#Session.v1_8_0.Session',
  AccountService: '#AccountService.v1_18_0.AccountService',
  ManagerAccountCollection: '#ManagerAccountCollection.ManagerAccountCollection',
  ManagerAccount: '#ManagerAccount.v1_14_0.ManagerAccount',
  RoleCollection: '#RoleCollection.RoleCollection',
  Role: '#Role.v1_3_1.Role',
} as const;

/** The DSP0266 version whose protocol rules the service follows (as the mockup of the same schema versions). */
export const REDFISH_VERSION = '1.15.0';

/** `Link: <json schema>; rel=describedby` for a body's @odata.type (DSP0266 requires it on GET and HEAD). */
export function describedBy(odataType: string): string {
  const m = /^#([A-Za-z]+)\.(v\d+_\d+_\d+)\.[A-Za-z]+$/.exec(odataType);
  const file = m ? `${m[1]}.${m[2]}.json` : `${odataType.slice(1).split('.')[0]}.json`;
  return `<https://redfish.dmtf.org/schemas/v1/${file}>; rel=describedby`;
}

/** The CSDL references of $metadata: each schema file and the namespaces used from it. */
const REFERENCES: [string, string[]][] = [
  ['ServiceRoot', ['ServiceRoot', 'ServiceRoot.v1_18_0']],
  ['SessionService', ['SessionService', 'SessionService.v1_2_0']],
  ['SessionCollection', ['SessionCollection']],
  ['Session', ['Session', 'Session.v1_8_0']],
  ['AccountService', ['AccountService', 'AccountService.v1_18_0']],
  ['ManagerAccountCollection', ['ManagerAccountCollection']],
  ['ManagerAccount', ['ManagerAccount', 'ManagerAccount.v1_14_0']],
  ['RoleCollection', ['RoleCollection']],
  ['Role', ['Role', 'Role.v1_3_1']],
  ['Message', ['Message', 'Message.v1_1_1']],
];

/** The OData metadata document (DSP0266 "OData metadata"): the schemas served and the entity container. */
export const METADATA_XML = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
  ...REFERENCES.flatMap(([file, namespaces]) => [
    `  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/${file}_v1.xml">`,
    ...namespaces.map((n) => `    <edmx:Include Namespace="${n}"/>`),
    '  </edmx:Reference>',
  ]),
  '  <edmx:DataServices>',
  '    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">',
  '      <EntityContainer Name="Service" Extends="ServiceRoot.v1_18_0.ServiceContainer"/>',
  '    </Schema>',
  '  </edmx:DataServices>',
  '</edmx:Edmx>',
  '',
].join('\n');

/** The OData service document: the service root and its direct children. */
export const ODATA_SERVICE_DOCUMENT = {
  '@odata.context': '/redfish/v1/$metadata',
  value: [
    { name: 'Service', kind: 'Singleton', url: '/redfish/v1/' },
    { name: 'SessionService', kind: 'Singleton', url: '/redfish/v1/SessionService' },
    { name: 'AccountService', kind: 'Singleton', url: '/redfish/v1/AccountService' },
  ],
};

/**
 * A name-based UUID (RFC 9562 version 5 layout, SHA-1) from the host name and the
 * data directory: the same on every start of this installation, different for another.
 */
export function stableUuid(dataDir: string, host = hostname()): string {
  const h = createHash('sha1').update(`portcullis-redfish\0${host}\0${dataDir}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** A strong ETag of a resource's representation (RFC 7232): it changes whenever the representation does. */
export function etagOf(body: object): string {
  return `"${createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 22)}"`;
}

/** Whether an If-Match header value lets a write go ahead against the current ETag. */
export function ifMatchPasses(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  const tags = header.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  // Weak comparison (RFC 7232 2.3.2): W/"x" matches "x".
  const bare = (t: string) => t.replace(/^W\//, '');
  return tags.some((t) => t === '*' || bare(t) === bare(current));
}
