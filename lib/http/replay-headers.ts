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
export function setStoredHeaders(res: ServerResponse, headers: StoredHeaders, names: Iterable<string> = Object.keys(headers)): boolean {
  const previous: OutgoingHttpHeaders = {};
  const touched: string[] = [];
  try {
    for (const name of names) {
      const value = headers[name];
      if (value === undefined) continue;
      previous[name] = res.getHeader(name);
      touched.push(name);
      res.setHeader(name, value);
    }
    return true;
  } catch {
    for (const name of touched) {
      const value = previous[name];
      try {
        if (value === undefined) res.removeHeader(name);
        else res.setHeader(name, value);
      } catch {
        // A value that was on the response before can be set again; nothing else to undo.
      }
    }
    return false;
  }
}
