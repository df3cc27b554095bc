import { backendOf, metrics } from '../../ports/metrics.js';
import { CoreError } from '../../core/errors.js';

/** Node and driver error codes that mean "the server is not there / not answering", not "the request was wrong". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** PostgreSQL SQLSTATEs of an unavailable server: connection exceptions (08), shutdown (57P0x), canceled by timeout (57014), out of resources (53). */
function isPostgresUnavailable(code: string): boolean {
  return code.startsWith('08') || code.startsWith('57P0') || code === '57014' || code.startsWith('53');
}

const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /query read timeout/i,
  /connection is closed/i,
  /stream isn't writeable/i,
  /command timed out/i,
  /max retries per request/i,
  /client has encountered a connection error/i,
  /cannot use a pool after calling end/i,
  /client was closed and is not queryable/i,
  /all sentinels are unreachable/i,
  /failed to refresh slots cache/i,
  /clusterdown|loading|tryagain|masterdown/i,
];

/** Whether an error from a store driver means the backend could not answer (as opposed to a bug or a refused statement). */
export function isBackendUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || isPostgresUnavailable(code))) return true;
  return UNAVAILABLE_MESSAGES.some((re) => re.test(e.message));
}

/**
 * Runs a store call and turns "the backend is not answering" into CoreError
 * unavailable (every dialect answers 503 with Retry-After, the check fails closed);
 * anything else is rethrown as it is.
 */
export async function guarded<T>(backend: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (isBackendUnavailable(e)) {
      const b = backendOf(backend);
      if (b) metrics().backendError(b, /time(d)? ?out|ETIMEDOUT|57014/i.test(`${(e as Error).message} ${String((e as { code?: unknown }).code)}`) ? 'timeout' : 'error');
      throw new CoreError('unavailable', `${backend} is unavailable: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}
