// The ceiling: a bare node:http server answering every request with a fixed JSON
// body of the size given in BODY_BYTES. Prints its port on stdout.
// (The header list is kept in step with securityHeaders() in src/http/common.ts by hand: this file must stay dependency-free.)
import { createServer } from 'node:http';

const size = Number(process.env.BODY_BYTES ?? 400);
const filler = 'x'.repeat(Math.max(0, size - 12));
const body = JSON.stringify({ data: filler });
// SECURITY_HEADERS=1: also the headers Portcullis sends on every response (src/http/common.ts), to price them.
const extra =
  process.env.SECURITY_HEADERS === '1'
    ? {
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
        'referrer-policy': 'no-referrer',
        'cross-origin-resource-policy': 'same-origin',
        'cache-control': 'no-store',
      }
    : {};
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { ...extra, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
