import uPlot from 'uplot';

interface Metrics {
  minutes: number[];
  logins: { success: number[]; failure: number[]; throttled: number[]; refused: number[] };
  lockouts: number[];
  sessions: (number | null)[];
}

const COLORS = { success: '#1e6b34', failure: '#a4161a', throttled: '#b35c00', refused: '#5a3e9b', sessions: '#0b5cad', lockouts: '#a4161a' };

function seriesFor(kind: string, m: Metrics): { series: uPlot.Series[]; data: uPlot.AlignedData } {
  const x = m.minutes.map((t) => t / 1000);
  const line = (label: string, stroke: string): uPlot.Series => ({ label, stroke, width: 2, points: { show: false } });
  if (kind === 'logins') {
    return {
      series: [{}, line('Succeeded', COLORS.success), line('Failed', COLORS.failure), line('Throttled / locked', COLORS.throttled), line('Refused by policy', COLORS.refused)],
      data: [x, m.logins.success, m.logins.failure, m.logins.throttled, m.logins.refused],
    };
  }
  // Sessions are sampled while this node runs: points, so that a short history is visible too.
  if (kind === 'sessions') return { series: [{}, { ...line('Live sessions', COLORS.sessions), points: { show: true, size: 5 }, spanGaps: false }], data: [x, m.sessions] as uPlot.AlignedData };
  return { series: [{}, { ...line('Lockouts', COLORS.lockouts), paths: uPlot.paths.bars!({ size: [0.8, 12] }) }], data: [x, m.lockouts] };
}

const plots: uPlot[] = [];

function draw(root: ParentNode, m: Metrics): void {
  for (const p of plots.splice(0)) p.destroy();
  for (const el of Array.from(root.querySelectorAll<HTMLElement>('[data-chart]'))) {
    const { series, data } = seriesFor(el.dataset.chart ?? '', m);
    el.replaceChildren();
    const width = Math.max(260, el.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 200,
        series,
        axes: [{ stroke: '#1b1f24' }, { stroke: '#1b1f24', size: 40 }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        legend: { show: true },
      },
      data,
      el,
    );
    plots.push(plot);
    el.dataset.rendered = String(data[0].length);
  }
}

/** Draws the dashboard's charts from /console/api/metrics and refreshes them each minute. */
export async function drawCharts(root: ParentNode): Promise<void> {
  if (!root.querySelector('[data-chart]')) return;
  const load = async () => {
    // Polling must not keep the session alive (XClarity's checkSession convention).
    const res = await fetch('/console/api/metrics?hours=3', { credentials: 'same-origin', headers: { accept: 'application/json', 'x-not-user-input': 'checkSession' } });
    if (!res.ok) return;
    draw(root, (await res.json()) as Metrics);
  };
  await load();
  window.setInterval(() => void load(), 60_000);
  let t: number | undefined;
  window.addEventListener('resize', () => {
    window.clearTimeout(t);
    t = window.setTimeout(() => void load(), 250);
  });
}
