// The ceiling: a bare node:http server answering every request with a fixed JSON
// body of the size given in BODY_BYTES. Prints its port on stdout.
import { createServer } from 'node:http';

const size = Number(process.env.BODY_BYTES ?? 400);
const filler = 'x'.repeat(Math.max(0, size - 12));
const body = JSON.stringify({ data: filler });
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
