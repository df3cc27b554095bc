import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { METRIC_NAMES, PrometheusMetrics } from '../../src/metrics/prometheus.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

/** Every PromQL expression of the dashboard: panel targets and template variable queries. */
function expressions(dash: { panels: Panel[]; templating: { list: { query?: unknown }[] } }): { where: string; expr: string }[] {
  const out = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })));
  for (const v of dash.templating.list) {
    const q = typeof v.query === 'object' && v.query !== null ? (v.query as { query?: string }).query : undefined;
    if (q) out.push({ where: 'templating', expr: q });
  }
  return out;
}

describe('the Grafana dashboard (ops/grafana/portcullis.json)', () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'ops', 'grafana', 'portcullis.json'), 'utf8')) as Parameters<typeof expressions>[0];
  const exprs = expressions(dash);

  it('names only metrics Portcullis exports (the registry itself, process metrics included)', async () => {
    const m = new PrometheusMetrics();
    const families = new Set((await m.registry.getMetricsAsJSON()).map((f) => f.name));
    const histograms = new Set((await m.registry.getMetricsAsJSON()).filter((f) => String(f.type) === 'histogram').map((f) => f.name));
    assert.ok(exprs.length >= 10);
    for (const { where, expr } of exprs) {
      const names = expr.match(/\bportcullis_[a-z0-9_]+/g) ?? [];
      assert.ok(names.length > 0, `${where}: ${expr} names a Portcullis metric`);
      for (const n of names) {
        const base = n.replace(/_(bucket|sum|count)$/, '');
        const ok = families.has(n) || (histograms.has(base) && base !== n);
        assert.ok(ok, `${where}: ${n} is not an exported metric`);
      }
      // Labels used in by()/{} must be the family's (or Prometheus' own job/instance/le).
      for (const by of expr.matchAll(/by \(([^)]*)\)/g)) {
        for (const label of by[1]!.split(',').map((s) => s.trim())) assert.match(label, /^(le|job|instance|dialect|provider|outcome|route|method|status_class|store|backend|kind|sink)$/, `${where}: label ${label}`);
      }
    }
  });

  it('shows every Portcullis metric family', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const name of METRIC_NAMES) assert.ok(new RegExp(`\\b${name}(_bucket|_sum|_count)?\\b`).test(all), `${name} is on the dashboard`);
  });

  it('is an importable dashboard: unique panel ids, a Prometheus data source variable, no fixed data source uid', () => {
    const d = dash as unknown as { uid: string; panels: { id: number; datasource: { uid: string } }[] };
    assert.equal(d.uid, 'portcullis');
    assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length);
    for (const p of d.panels) assert.equal(p.datasource.uid, '${datasource}');
  });
});
