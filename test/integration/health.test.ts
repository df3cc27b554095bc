import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from '../helpers.js';

describe('health probes on the embedded store', () => {
  it('answers /healthz and /readyz with the store named, and /readyz 503 once the store is closed', async () => {
    const h = await harness();
    try {
      const live = await h.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(live.statusCode, 200);
      assert.deepEqual(live.json(), { status: 'ok' });
      const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.equal(ready.json().status, 'ready');
      assert.equal(ready.json().store, 'sqlite');
      assert.ok(!ready.body.includes(h.config.dataDir), 'no file path in an unauthenticated answer');
      assert.deepEqual(ready.json().backends, [{ backend: 'sqlite', ok: true }]);
      assert.equal(ready.headers['x-content-type-options'], 'nosniff', 'the security headers too');
      h.p.store.db.close();
      const down = await h.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(down.statusCode, 503);
      assert.deepEqual(down.json().backends, [{ backend: 'sqlite', ok: false }]);
      assert.ok(!down.body.includes('database'), 'the backend error is logged, not shown');
    } finally {
      await h.close();
    }
  });
});
