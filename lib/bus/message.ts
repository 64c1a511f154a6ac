/**
 * What one instance tells the others about a change to the shared store. It names keys,
 * patterns and tags exactly as the store sees them (namespace included), never values: a
 * receiver drops its own in-process copies and reads the shared store again when it needs to.
 *
 * - `set`: `keys` were written (with `tags`, the tags the write carries); receivers drop their
 *   copies of those keys and remember the tags, so a later tag invalidation reaches the copy
 *   they will read back.
 * - `invalidate`: entries named by `keys`, `patterns` (Redis globs), `tags` or `tagPatterns`
 *   were removed (or, with `soft`, marked stale in the shared store).
 * - `clear`: anything may have changed (a `clear`, or messages the sender could not publish);
 *   receivers drop every copy.
 *
 * @example
 * ```ts
 * const message: InvalidationMessage = { kind: 'invalidate', tags: ['myapp:character:char_1'] };
 * ```
 */
export interface InvalidationMessage {
  /** What happened; see the interface's description. */
  kind: 'set' | 'invalidate' | 'clear';
  /** Full keys written or removed. */
  keys?: readonly string[];
  /** Full tags removed (`invalidate`) or carried by the written key (`set`). */
  tags?: readonly string[];
  /** Redis globs over full keys whose entries were removed. */
  patterns?: readonly string[];
  /** Redis globs over full tag names whose entries were removed. */
  tagPatterns?: readonly string[];
  /** `true` when the entries were marked stale rather than removed; receivers drop their copies either way. */
  soft?: boolean;
}

/** The wire format: one JSON object per message, with the sender and a format version. */
interface WireMessage extends InvalidationMessage {
  v: 1;
  from: string;
}

const KINDS = new Set(['set', 'invalidate', 'clear']);

/**
 * Encodes `message` from instance `from` for publishing.
 * @internal
 */
export function encodeMessage(from: string, message: InvalidationMessage): string {
  const wire: WireMessage = { v: 1, from, ...message };
  return JSON.stringify(wire);
}

function stringList(value: unknown): value is string[] | undefined {
  return value === undefined || (Array.isArray(value) && value.every((item) => typeof item === 'string'));
}

/**
 * Decodes a published message; `undefined` for anything this version did not write (another
 * library on the channel, a newer format), which receivers ignore.
 * @internal
 */
export function decodeMessage(text: string): { from: string; message: InvalidationMessage } | undefined {
  let wire: unknown;
  try {
    wire = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (wire === null || typeof wire !== 'object') return undefined;
  const w = wire as Partial<WireMessage>;
  if (w.v !== 1 || typeof w.from !== 'string' || typeof w.kind !== 'string' || !KINDS.has(w.kind)) return undefined;
  if (!stringList(w.keys) || !stringList(w.tags) || !stringList(w.patterns) || !stringList(w.tagPatterns)) return undefined;
  const message: InvalidationMessage = { kind: w.kind };
  if (w.keys !== undefined) message.keys = w.keys;
  if (w.tags !== undefined) message.tags = w.tags;
  if (w.patterns !== undefined) message.patterns = w.patterns;
  if (w.tagPatterns !== undefined) message.tagPatterns = w.tagPatterns;
  if (w.soft === true) message.soft = true;
  return { from: w.from, message };
}
