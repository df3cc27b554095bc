import { createRequire } from 'node:module';

/**
 * Request validators compiled when first needed instead of before the port opens.
 *
 * Fastify compiles every route's JSON Schema with Ajv while it gets ready: at start,
 * loading Ajv and compiling the routes took ~80 ms of the ~590 ms from spawn to the
 * first answer (BENCHMARKS B4c), for routes (logins, account changes) the first
 * requests after a restart, the session checks, never use. Here each route gets a
 * validator that compiles its schema with Fastify's own compiler
 * (`@fastify/ajv-compiler`, the same options, the same errors) at its first call,
 * and `compileAll` compiles what is left one route per turn of the event loop once
 * the service is serving, so the first login rarely pays for it either. A schema
 * Ajv refuses is still found before any client meets it: `compileAll(true)` throws
 * (the tests call it on every dialect's routes).
 */

type AjvServerOptions = { customOptions?: Record<string, unknown>; plugins?: unknown[] };
type RouteSchema = { schema: unknown; method: string; url: string; httpPart?: string };
type Validate = ((data: unknown, ctx?: unknown) => unknown) & { errors?: unknown };
type Compile = (route: RouteSchema) => Validate;
type BuildValidator = (externalSchemas: unknown, options: AjvServerOptions) => Compile;

const require = createRequire(import.meta.url);

export interface LazyValidation {
  /** For Fastify's `schemaController.compilersFactory.buildValidator`. */
  buildValidator: BuildValidator;
  /** Validators not compiled yet. */
  readonly pending: number;
  /**
   * Compiles the validators not compiled yet: all now with `now`, else one per turn of
   * the event loop from `afterMs` on (a compile error is then left for the route's
   * first call, as a 500).
   */
  compileAll(now?: boolean, afterMs?: number): void;
}

export function lazyValidation(): LazyValidation {
  let build: BuildValidator | undefined;
  const waiting = new Set<() => void>();
  const realBuild = (): BuildValidator => {
    build ??= (require('@fastify/ajv-compiler') as () => BuildValidator)();
    return build;
  };
  const buildValidator: BuildValidator = (externalSchemas, options) => {
    let compiler: Compile | undefined;
    return (route) => {
      let fn: Validate | undefined;
      const compile = (): Validate => {
        if (!fn) {
          compiler ??= realBuild()(externalSchemas, options);
          fn = compiler(route);
          waiting.delete(compile);
        }
        return fn;
      };
      waiting.add(compile);
      const validate: Validate = (data, ctx) => {
        const f = compile();
        const ok = ctx === undefined ? f(data) : f(data, ctx);
        validate.errors = f.errors;
        return ok;
      };
      return validate;
    };
  };
  return {
    buildValidator,
    get pending() {
      return waiting.size;
    },
    compileAll(now = false, afterMs = 0) {
      if (now) {
        for (const c of [...waiting]) c();
        return;
      }
      const step = () => {
        const next = waiting.values().next();
        if (next.done) return;
        try {
          next.value();
        } catch {
          waiting.delete(next.value); // its route's first call compiles it again and answers the error
        }
        setImmediate(step).unref();
      };
      if (afterMs > 0) setTimeout(step, afterMs).unref();
      else setImmediate(step).unref();
    },
  };
}
