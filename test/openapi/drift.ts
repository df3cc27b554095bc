import { AssertionError } from 'node:assert';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';

/**
 * The drift check (docs/openapi.md): every response a test receives through the
 * harness is held against the dialect's OpenAPI document — the operation must
 * exist, the status must be documented, the documented required headers must be
 * there and match, and the body must match the documented schema (or be empty
 * when none is documented). A path no route answers must get the owning dialect's
 * error envelope. Operational routes (health probes, /docs) are in no document.
 */

type Json = Record<string, any>;

export interface ResponseLike {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

interface Operation {
  dialect: string;
  path: string;
  pattern: RegExp;
  methods: Record<string, Json>;
}

/** A path template as a RegExp; `multi` names the parameters that span segments (`x-multi-segment`, e.g. Envoy's original path), possibly empty. */
const pattern = (template: string, multi: ReadonlySet<string> = new Set()) =>
  new RegExp(
    `^${template
      .split(/(\{[^}]+\}|:[A-Za-z0-9_]+)/)
      .map((part, i) => (i % 2 === 1 ? (multi.has(part.slice(1, -1)) ? '.*' : '[^/]+') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  );
/** The path parameters of a path item marked `x-multi-segment`. */
const multiSegment = (methods: Json) =>
  new Set(Object.values(methods).flatMap((op: Json) => ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path' && p['x-multi-segment'] === true).map((p) => p.name as string)));

export class DriftChecker {
  private readonly ops: Operation[] = [];
  private readonly operational: { method: string; pattern: RegExp }[];
  private readonly docs = new Map<string, Json>();
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new WeakMap<object, ValidateFunction>();
  /** Responses checked, by dialect (so a test can see the check ran). */
  readonly checked = new Map<string, number>();

  constructor(private readonly app: FastifyInstance) {
    for (const d of app.openapi.dialects()) {
      const doc = app.openapi.document(d)!;
      this.docs.set(d, doc);
      for (const [path, methods] of Object.entries(doc.paths as Record<string, Json>)) this.ops.push({ dialect: d, path, pattern: pattern(path, multiSegment(methods)), methods });
    }
    this.operational = app.openapi.operational().map((r) => ({ method: r.method, pattern: pattern(r.url) }));
  }

  /** Throws an AssertionError naming the difference when the response is not what the document says. */
  check(method: string, url: string, res: ResponseLike): void {
    const path = url.split('?', 1)[0]!;
    const m = method.toUpperCase();
    const lookup = m === 'HEAD' ? 'get' : m.toLowerCase();
    const op = this.ops.find((o) => o.pattern.test(path) && o.methods[lookup]);
    if (!op) {
      if (this.operational.some((r) => (r.method === m || (m === 'HEAD' && r.method === 'GET')) && r.pattern.test(path))) return;
      // No route: the owner's error envelope, whatever the status.
      const owner = this.app.openapi.ownerOf(path);
      const doc = this.docs.get(owner);
      if (!doc) return;
      const where = `${owner}: ${m} ${path} → ${res.statusCode} (no documented operation)`;
      if (res.statusCode < 400) this.fail(where, 'an undocumented operation answered with success');
      if (m !== 'HEAD') this.body(where, doc.components.schemas.Error, res);
      this.count(owner);
      return;
    }
    const operation = op.methods[lookup]!;
    const where = `${op.dialect}: ${m} ${op.path} → ${res.statusCode}`;
    const responses = operation.responses as Record<string, Json>;
    const documented = responses[String(res.statusCode)] ?? responses[`${String(res.statusCode)[0]}XX`] ?? responses.default;
    if (!documented) this.fail(where, `status ${res.statusCode} is not documented (documented: ${Object.keys(responses).join(', ')}); body: ${res.body.slice(0, 300)}`);
    for (const [name, h] of Object.entries((documented.headers ?? {}) as Record<string, Json>)) {
      const value = res.headers[name.toLowerCase()];
      if (value === undefined) {
        if (h.required) this.fail(where, `required header ${name} is missing`);
        continue;
      }
      if (h.schema) for (const v of Array.isArray(value) ? value : [String(value)]) this.validate(where, `header ${name}`, h.schema, v);
    }
    if (m === 'HEAD') return this.count(op.dialect);
    const content = documented.content as Record<string, Json> | undefined;
    if (!content) {
      if (res.body.length > 0) this.fail(where, `no body is documented, got ${res.body.slice(0, 200)}`);
    } else {
      const type = String(res.headers['content-type'] ?? '').split(';', 1)[0]!.trim();
      const media = content[type];
      if (!media) this.fail(where, `content type "${type}" is not documented (documented: ${Object.keys(content).join(', ')})`);
      // A JSON body is parsed; another (Redfish's $metadata is XML) is held against its schema as the text it is.
      if (/[/+]json$/.test(type)) this.body(where, media!.schema, res);
      else this.validate(where, 'body', media!.schema, res.body);
    }
    this.count(op.dialect);
  }

  private body(where: string, schema: Json, res: ResponseLike) {
    let value: unknown;
    try {
      value = JSON.parse(res.body);
    } catch {
      this.fail(where, `the body is not JSON: ${res.body.slice(0, 200)}`);
    }
    this.validate(where, 'body', schema, value);
  }

  private validate(where: string, what: string, schema: Json, value: unknown) {
    let v = this.compiled.get(schema);
    if (!v) {
      v = this.ajv.compile(schema);
      this.compiled.set(schema, v);
    }
    if (!v(value)) {
      const errors = (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('; ');
      this.fail(where, `${what} does not match the document: ${errors}; got ${JSON.stringify(value)?.slice(0, 300)}`);
    }
  }

  private count(dialect: string) {
    this.checked.set(dialect, (this.checked.get(dialect) ?? 0) + 1);
  }

  private fail(where: string, message: string): never {
    throw new AssertionError({ message: `OpenAPI drift — ${where}: ${message}` });
  }
}

/** Makes every `app.inject` of this app check its response against the documents. */
export function checkDrift(app: FastifyInstance): DriftChecker {
  const checker = new DriftChecker(app);
  const inject = app.inject.bind(app) as (opts: Json) => Promise<ResponseLike>;
  const checked = async (opts: Json) => {
    const res = await inject(opts);
    checker.check(String(opts.method ?? 'GET'), String(opts.url ?? opts.path ?? '/'), res);
    return res;
  };
  (app as unknown as { inject: unknown }).inject = checked;
  return checker;
}
