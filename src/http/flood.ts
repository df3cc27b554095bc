import { Socket } from 'node:net';
import type { Server } from 'node:net';
import { sourceKey } from '../core/sessions.js';

/*
 * What the HTTP layer does to keep a login flood cheap (docs/flood-defence.md):
 * a connection that was just told "busy, retry after N s" is not read again for
 * those N seconds, and one source cannot open more than a bounded number of
 * connections. Both cost nothing per refused attempt: the bytes wait in the
 * kernel, and an excess connection is closed before its TLS handshake.
 */

const held = new WeakSet<Socket>();

/**
 * Stops reading `socket` for `ms` (the Retry-After its 503 named): a client that
 * honours Retry-After sends nothing meanwhile and notices nothing; one that does
 * not has its next request read when the wait is over, not refused again at once.
 * The response already written still goes out (only reading pauses).
 */
export function holdReads(socket: unknown, ms: number): void {
  if (ms <= 0 || !(socket instanceof Socket) || socket.destroyed || held.has(socket)) return;
  held.add(socket);
  socket.pause();
  const timer = setTimeout(() => {
    held.delete(socket);
    if (!socket.destroyed) socket.resume();
  }, ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Closes a new connection at once (before TLS) when its source (IPv4 address,
 * IPv6 /64) already holds `limit` open connections. Returns a function giving the
 * number of connections closed so.
 */
export function limitConnectionsPerSource(server: Server, limit: number): () => number {
  const open = new Map<string, number>();
  let closed = 0;
  server.on('connection', (socket: Socket) => {
    const key = sourceKey(socket.remoteAddress ?? '');
    const n = open.get(key) ?? 0;
    if (n >= limit) {
      closed++;
      socket.destroy();
      return;
    }
    open.set(key, n + 1);
    socket.once('close', () => {
      const m = (open.get(key) ?? 1) - 1;
      if (m <= 0) open.delete(key);
      else open.set(key, m);
    });
  });
  return () => closed;
}
