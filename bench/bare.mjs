// The ceiling: a bare node:http server answering every request with a fixed JSON
// body of the size given in BODY_BYTES. Prints its port on stdout.
// (The header list is kept in step with securityHeaders() in src/http/common.ts by hand: this file must stay dependency-free.)
//
// REPLAY_FILE=f: instead, answer with exactly the status, headers and body bytes of a
// captured Portcullis answer (raw HTTP/1.1 in f), so a ratio against it measures
// Portcullis and not a choice of headers or body.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

let status = 200;
let headers;
let body;
if (process.env.REPLAY_FILE) {
  const raw = readFileSync(process.env.REPLAY_FILE);
  const end = raw.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  status = Number(statusLine.split(' ')[1]);
  body = raw.subarray(end + 4);
  // Node writes Date, Connection and Keep-Alive itself, for Portcullis as for this server.
  headers = lines
    .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()])
    .filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k.toLowerCase()))
    .flat();
} else {
  const size = Number(process.env.BODY_BYTES ?? 400);
  const filler = 'x'.repeat(Math.max(0, size - 12));
  body = JSON.stringify({ data: filler });
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
  headers = { ...extra, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
}
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(status, headers);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
