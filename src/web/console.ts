// The console's one script (the pages work without it): dates in the browser's
// locale with the UTC value on hover, confirmation of destructive forms, and the
// dashboard's charts drawn with uPlot from /console/api/metrics.
import { drawCharts } from './charts';

function localDates(root: ParentNode): void {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  for (const el of Array.from(root.querySelectorAll<HTMLTimeElement>('time[datetime]'))) {
    const d = new Date(el.dateTime);
    if (Number.isNaN(d.getTime())) continue;
    el.title = `${el.dateTime} (UTC)`;
    el.textContent = fmt.format(d);
  }
}

function confirmations(root: ParentNode): void {
  for (const form of Array.from(root.querySelectorAll<HTMLFormElement>('form[data-confirm]'))) {
    form.addEventListener('submit', (ev) => {
      if (!window.confirm(form.dataset.confirm ?? 'Are you sure?')) ev.preventDefault();
    });
  }
}

localDates(document);
confirmations(document);
void drawCharts(document);
