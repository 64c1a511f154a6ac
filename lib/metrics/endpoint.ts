/**
 * The endpoint a key belongs to: `api:{endpoint}:{sha1}...` gives the middleware's endpoint
 * (`keyPrefix` or route path, which may itself hold colons), any other key its first segment,
 * the cache type (`character:char_1` → `character`). Keys are namespace-free.
 *
 * @example
 * ```ts
 * endpointOfKey('api:/characters/:id:3f2a...'); // '/characters/:id'
 * endpointOfKey('character:char_1'); // 'character'
 * ```
 */
export function endpointOfKey(key: string): string {
  const api = /^api:(.*?):[0-9a-f]{40}(?=:|#|$)/.exec(key);
  if (api) return api[1] as string;
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}
