import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harness, type Harness } from '../helpers.js';
import { lazyValidation } from '../../src/http/lazy-validation.js';

/*
 * Request validators are compiled at their route's first request, or by compileAll once
 * the service serves (src/http/lazy-validation.ts): every route's schema must still
 * compile, and a request must be judged the same whether its validator was compiled
 * ahead or at that request.
 */

/** Runs `fn` on a harness of its own (its validators untouched by the other tests), closed after. */
async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await harness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

describe('validators compiled at first use', () => {
  let h: Harness;
  before(async () => {
    h = await harness(); // every dialect is on by default
  });
  after(() => h.close());

  it('leaves the validators to compile after the routes are ready, and compiles every one of them without an error', () => {
    assert.ok(h.app.validators.pending > 10, `validators waiting: ${h.app.validators.pending}`);
    h.app.validators.compileAll(true);
    assert.equal(h.app.validators.pending, 0);
  });

  it('judges a request the same with a validator compiled at the request and one compiled ahead', async () => {
    await withHarness(async (fresh) => {
      const bad = { method: 'POST' as const, url: '/api/admin/v1/sessions', payload: { username: 7, password: 'x' } };
      const atFirstUse = await fresh.app.inject(bad);
      fresh.app.validators.compileAll(true);
      const ahead = await fresh.app.inject(bad);
      assert.equal(atFirstUse.statusCode, 400);
      assert.equal(ahead.statusCode, atFirstUse.statusCode);
      const strip = (b: string) => ({ ...JSON.parse(b), time: 0 });
      assert.deepEqual(strip(ahead.body), strip(atFirstUse.body));
    });
  });

  it('compiles in the background one route per turn of the event loop', async () => {
    await withHarness(async (fresh) => {
      const before = fresh.app.validators.pending;
      fresh.app.validators.compileAll();
      assert.equal(fresh.app.validators.pending, before, 'nothing compiled synchronously');
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.ok(fresh.app.validators.pending < before, 'some compiled after a turn');
      for (let i = 0; i < 10_000 && fresh.app.validators.pending > 0; i++) await new Promise((r) => setImmediate(r));
      assert.equal(fresh.app.validators.pending, 0);
    });
  });

  it('starts the background compiling only after the delay it is given', async () => {
    await withHarness(async (fresh) => {
      const before = fresh.app.validators.pending;
      fresh.app.validators.compileAll(false, 80);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      assert.equal(fresh.app.validators.pending, before, 'nothing compiled before the delay');
      await new Promise((r) => setTimeout(r, 150));
      assert.ok(fresh.app.validators.pending < before, 'compiling once the delay is over');
    });
  });

  it('passes Ajv\'s errors through: a schema it refuses fails at the first request, never silently', () => {
    const lv = lazyValidation();
    const compile = lv.buildValidator({}, { customOptions: {} });
    const validate = compile({ schema: { type: 'object', properties: { a: { type: 'strnig' } } }, method: 'POST', url: '/x', httpPart: 'body' });
    assert.equal(lv.pending, 1);
    assert.throws(() => validate({ a: 1 }), /strnig|type/);
    const ok = compile({ schema: { type: 'object', required: ['a'], properties: { a: { type: 'string' } } }, method: 'POST', url: '/y', httpPart: 'body' });
    assert.equal(ok({ a: 'x' }), true);
    assert.equal(ok({}), false);
    assert.ok(Array.isArray(ok.errors) && ok.errors.length > 0);
  });
});
