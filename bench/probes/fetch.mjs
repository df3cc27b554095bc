/** A GET whose answer (any status) is read to the end: the server answered. */
export async function fetchOk(url, init) {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  await r.arrayBuffer();
  return r;
}
