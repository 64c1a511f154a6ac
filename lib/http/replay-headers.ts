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
  // one or two, set by layers before the cache); the others are just removed again. The methods
  // are read once: on an Express response each read walks a prototype chain set per request.
  const { setHeader, getHeader } = res;
  const kept: Array<string | OutgoingHttpHeaders[string]> = [];
  let at = 0;
  try {
    for (; at < names.length; at++) {
      const name = names[at] as string;
      const value = headers[name];
      if (value === undefined) continue;
      const before = getHeader.call(res, name);
      if (before !== undefined) kept.push(name, before);
      setHeader.call(res, name, value);
    }
    return true;
  } catch {
    // Every name up to the refused one, that one too: a layer around the cache may have set it before refusing.
    for (const name of names.slice(0, at + 1)) {
      if (headers[name] === undefined) continue;
      let i = 0;
      while (i < kept.length && kept[i] !== name) i += 2;
      try {
        if (i >= kept.length) res.removeHeader(name);
        else res.setHeader(name, kept[i + 1] as NonNullable<OutgoingHttpHeaders[string]>);
      } catch {
        // A value that was on the response before can be set again; nothing else to undo.
      }
    }
    return false;
  }
}
