import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { StoredHeaders } from '../serializer';

/**
 * Sets a stored entry's headers on `res`, all or nothing: when one is refused (`setHeader`
 * throws on a name or value Node will not send, or a layer around the cache refuses it), every
 * header this call touched is put back as it was and `false` is returned, so the caller can let
 * the origin answer on a response that carries nothing of the bad entry. The decoder already
 * rejects such entries (RFC 9110 §5); this is the guard for whatever it cannot foresee.
 *
 * @example
 * ```ts
 * if (!setStoredHeaders(res, entry.headers)) return false; // answer from the origin instead
 * ```
 */
export function setStoredHeaders(res: ServerResponse, headers: StoredHeaders, names: readonly string[] = Object.keys(headers)): boolean {
  // Only the headers the response already had need their values kept for the undo (a hit has
  // one or two, set by layers before the cache); the others are just removed again.
  const had = res.getHeaderNames();
  let kept: Array<string | OutgoingHttpHeaders[string]> | undefined;
  let done = 0;
  try {
    for (const name of names) {
      const value = headers[name];
      if (value === undefined) continue;
      if (had.length !== 0 && had.includes(name)) (kept ??= []).push(name, res.getHeader(name));
      res.setHeader(name, value);
      done++;
    }
    return true;
  } catch {
    undo(res, names, headers, done + 1, kept ?? []);
    return false;
  }
}

/** Puts back the first `count` of `names` that `headers` has: each to its `kept` value, or removed. */
function undo(res: ServerResponse, names: readonly string[], headers: StoredHeaders, count: number, kept: ReadonlyArray<string | OutgoingHttpHeaders[string]>): void {
  let left = count;
  for (const name of names) {
    if (headers[name] === undefined) continue;
    if (left-- === 0) return;
    let at = 0;
    while (at < kept.length && kept[at] !== name) at += 2;
    try {
      if (at >= kept.length) res.removeHeader(name);
      else res.setHeader(name, kept[at + 1] as NonNullable<OutgoingHttpHeaders[string]>);
    } catch {
      // A value that was on the response before can be set again; nothing else to undo.
    }
  }
}
