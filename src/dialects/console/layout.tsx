import type { ComponentChildren } from 'preact';
import { renderToString } from 'preact-render-to-string';
import type { Assets } from './assets.js';

/** Who is signed in, for the header. */
export interface Viewer {
  username: string;
  csrf: string;
  admin: boolean;
}

export interface PageOptions {
  title: string;
  assets: Assets;
  /** The console's navigation is shown when a viewer is signed in and may use it. */
  viewer?: Viewer | undefined;
  /** Path of the current page, to mark it in the navigation. */
  current?: string;
  narrow?: boolean;
  /** Load the console's script (charts, local dates). The login pages work without it. */
  script?: boolean;
}

const NAV: { href: string; label: string; admin?: boolean }[] = [
  { href: '/console/', label: 'Dashboard', admin: true },
  { href: '/console/account', label: 'My account' },
  { href: '/console/accounts', label: 'Accounts', admin: true },
  { href: '/console/sessions', label: 'Sessions', admin: true },
  { href: '/console/lockouts', label: 'Lockouts', admin: true },
  { href: '/console/audit', label: 'Audit', admin: true },
  { href: '/console/policy', label: 'Policy', admin: true },
  { href: '/console/identity', label: 'Identity sources', admin: true },
];

/** A whole HTML document. Every text goes through preact's escaping; nothing inline runs. */
export function page(opts: PageOptions, body: ComponentChildren): string {
  const css = opts.assets.url('console.css');
  const js = opts.script ? opts.assets.url('console.js') : undefined;
  const v = opts.viewer;
  const doc = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <link rel="icon" href="data:," />
        <title>{`${opts.title} · Portcullis`}</title>
        {css && <link rel="stylesheet" href={css} />}
        {js && <script type="module" src={js} />}
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href={v ? '/console/' : '/portcullis/login'}>
            Portcullis
          </a>
          {v && (
            <nav aria-label="Console">
              <ul>
                {NAV.filter((n) => !n.admin || v.admin).map((n) => (
                  <li>
                    <a href={n.href} aria-current={opts.current === n.href ? 'page' : undefined}>
                      {n.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          {v && (
            <div class="who">
              <span>
                Signed in as <strong>{v.username}</strong>
              </span>
              <form method="post" action="/console/logout">
                <input type="hidden" name="csrf" value={v.csrf} />
                <button type="submit">Sign out</button>
              </form>
            </div>
          )}
        </header>
        <main id="main" class={opts.narrow ? 'narrow' : undefined}>
          {body}
        </main>
      </body>
    </html>
  );
  return `<!DOCTYPE html>\n${renderToString(doc)}`;
}

export function Notice(props: { kind: 'error' | 'info' | 'ok'; children: ComponentChildren }) {
  return (
    <p class={`notice ${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </p>
  );
}

/** A time in UTC that the script shows in the browser's locale (the UTC value stays on hover). */
export function Time(props: { ms: number | null | undefined }) {
  if (props.ms === null || props.ms === undefined) return <span>—</span>;
  const iso = new Date(props.ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return (
    <time dateTime={iso} title={`${iso} (UTC)`}>
      {iso.replace('T', ' ').replace('Z', ' UTC')}
    </time>
  );
}
