// The container's HEALTHCHECK: GET /healthz on the local listener (HTTPS with the
// self-signed or configured certificate, or plain HTTP when PORTCULLIS_PLAIN_HTTP=true).
// Exit 0 when it answers 200 within 3 s, 1 otherwise.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const plain = /^(1|true|yes)$/i.test(process.env.PORTCULLIS_PLAIN_HTTP ?? '');
const port = Number(process.env.PORTCULLIS_PORT ?? 9443);
const request = plain ? httpRequest : httpsRequest;
const req = request({ host: '127.0.0.1', port, path: '/healthz', method: 'GET', timeout: 3000, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
