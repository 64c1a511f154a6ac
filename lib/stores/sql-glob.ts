import { globToRegExp } from '../keys';

/** A Redis glob translated for SQL `LIKE ... ESCAPE '\'`. @internal */
export interface SqlGlob {
  /** The `LIKE` pattern: `*` → `%`, `?` → `_`, literal `%`, `_` and `\` escaped with `\`. */
  like: string;
  /**
   * `true` when `LIKE` means exactly what the glob means. `false` when the glob has a character
   * class (`[abc]`, `[^a]`, `[a-z]`), which `LIKE` cannot express: the class became `_`, so the
   * `LIKE` selects a superset and the caller must filter the keys with {@link SqlGlob.matcher}.
   */
  exact: boolean;
  /**
   * The literal text before the first wildcard. A `LIKE 'prefix%'` is answered from a
   * `text_pattern_ops` (PostgreSQL) or a `COLLATE BINARY` index (SQLite) only when the planner
   * sees the prefix; callers also pass it as a range (`key >= prefix AND key < upper`).
   */
  prefix: string;
  /** The exact matcher (same semantics as Redis and the other stores). */
  matcher: RegExp;
}

/** Escapes LIKE's own wildcards and the escape character itself. @internal */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

/** Whether a `[` at `start` opens a class that is closed (else it is a literal `[`, as in Redis). */
function closedClassEnd(glob: string, start: number): number | undefined {
  let j = start + 1;
  if (glob[j] === '^') j++;
  for (; j < glob.length; j++) {
    const c = glob[j];
    if (c === ']') return j;
    if (c === '\\' && j + 1 < glob.length) j++;
  }
  return undefined;
}

/**
 * Translates a Redis glob into a SQL `LIKE` pattern (to be used with `ESCAPE '\'`), so
 * `llm:a_b` never matches `llm:aXb` and `100%` never matches `1000`. The semantics follow
 * `globToRegExp`, which the memory store uses: the three stores match the same keys.
 *
 * @example
 * ```ts
 * globToLike('character:a_b*'); // { like: 'character:a\\_b%', exact: true, prefix: 'character:a_b', ... }
 * ```
 * @internal
 */
export function globToLike(glob: string): SqlGlob {
  let like = '';
  let prefix = '';
  let literal = true;
  let exact = true;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === '\\' && i + 1 < glob.length) {
      const next = glob[++i] as string;
      like += escapeLike(next);
      if (literal) prefix += next;
    } else if (ch === '*') {
      like += '%';
      literal = false;
    } else if (ch === '?') {
      like += '_';
      literal = false;
    } else if (ch === '[' && closedClassEnd(glob, i) !== undefined) {
      like += '_';
      literal = false;
      exact = false;
      i = closedClassEnd(glob, i) as number;
    } else {
      like += escapeLike(ch);
      if (literal) prefix += ch;
    }
  }
  return { like, exact, prefix, matcher: globToRegExp(glob) };
}

/**
 * The least string greater than every string starting with `prefix` (for a `key < upper`
 * range bound), or `undefined` when there is none (empty prefix). Works on UTF-16 code units,
 * which is also the order of a binary/`C` collation for the BMP.
 * @internal
 */
export function prefixUpperBound(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const code = prefix.charCodeAt(i);
    if (code < 0xffff) return prefix.slice(0, i) + String.fromCharCode(code + 1);
  }
  return undefined;
}
