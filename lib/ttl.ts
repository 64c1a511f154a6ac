import ms from 'ms';
import { InvalidOptionError } from './errors';
import { closestName } from './validate';

/**
 * The default TTL profiles, in seconds. A TTL given by name resolves through this table (or the
 * cache's `ttlProfiles`, which are merged over it).
 *
 * @example
 * ```ts
 * cacheResponse({ ttl: 'platform_status' }); // 60 s
 * TTL_PROFILES.character; // 300
 * ```
 */
export const TTL_PROFILES = Object.freeze({
  character: 300,
  content_metadata: 600,
  platform_status: 60,
  analytics: 900,
  system_status: 5,
  api_response: 60,
  checkpoint_list: 60,
  sampler_list: 60,
  scheduler_list: 60,
  embeddings: 86_400,
  llm_responses: 3_600,
  vector_search: 3_600,
  audio_chunks: 86_400,
  session: 86_400,
  user: 2_592_000,
  temp: 3_600,
} as const);

/** The name of a built-in TTL profile. */
export type TtlProfileName = keyof typeof TTL_PROFILES;

/**
 * A unit the duration parser (the `ms` package) accepts; upper-case spellings work too.
 *
 * @example
 * ```ts
 * const unit: DurationUnit = 'minutes'; // as in '5 minutes'
 * ```
 */
export type DurationUnit =
  | 'ms' | 'msec' | 'msecs' | 'millisecond' | 'milliseconds'
  | 's' | 'sec' | 'secs' | 'second' | 'seconds'
  | 'm' | 'min' | 'mins' | 'minute' | 'minutes'
  | 'h' | 'hr' | 'hrs' | 'hour' | 'hours'
  | 'd' | 'day' | 'days'
  | 'w' | 'week' | 'weeks'
  | 'y' | 'yr' | 'yrs' | 'year' | 'years';

/**
 * A duration written with its unit, parsed by the `ms` package: `'30s'`, `'5m'`, `'1h'`,
 * `'2 days'`, `'5 minutes'`, `'1.5h'`. A bare number in a string (`'300'`) is rejected because
 * it is ambiguous (seconds here, milliseconds for `ms`): pass the number itself.
 *
 * @example
 * ```ts
 * const ttl: DurationString = '5 minutes'; // 300 s
 * ```
 */
export type DurationString = `${number}${DurationUnit}` | `${number} ${DurationUnit}`;

/**
 * A TTL: a positive number of seconds (fractions allowed), a duration string (`'5m'`,
 * `'2 days'`), or the name of a profile. Custom profile names registered through `ttlProfiles`
 * are accepted as plain strings.
 *
 * @example
 * ```ts
 * const ttls: Ttl[] = [300, '5m', '5 minutes', 'character'];
 * ```
 */
export type Ttl = number | TtlProfileName | DurationString | (string & Record<never, never>);

/**
 * A table of named TTLs in seconds, as the cache holds it.
 *
 * @example
 * ```ts
 * const profiles: TtlProfiles = { character: 300, nightly: 43_200 };
 * ```
 */
export type TtlProfiles = Readonly<Record<string, number>>;

/**
 * Profiles as `createCache({ ttlProfiles })` takes them: seconds or duration strings.
 *
 * @example
 * ```ts
 * createCache({ ttlProfiles: { nightly: '12h', character: 120 } });
 * ```
 */
export type TtlProfilesInput = Readonly<Record<string, number | DurationString>>;

/** The profile used where no TTL is named. */
export const DEFAULT_TTL_PROFILE: TtlProfileName = 'api_response';

const ACCEPTED = "a positive number of seconds (300), a duration string ('30s', '5m', '1h', '2 days', '5 minutes') or a profile name";

// A string starting like a number is a duration, never a profile name (mergeProfiles refuses
// such names), so '5 parsecs' is an error at once rather than a profile looked up later.
const NUMERIC_START = /^\s*[-+.\d]/;
const ENDS_WITH_UNIT = /[a-z]\s*$/i;

/**
 * Milliseconds of a duration string, or undefined when it is not one (no unit, unknown unit).
 * @internal
 */
export function parseDuration(text: string): number | undefined {
  if (!NUMERIC_START.test(text) || !ENDS_WITH_UNIT.test(text)) return undefined;
  const parsed: unknown = ms(text.trim() as ms.StringValue);
  return typeof parsed === 'number' && Number.isFinite(parsed) ? parsed : undefined;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(value);
}

function checkSeconds(option: string, seconds: unknown): number {
  if (typeof seconds === 'string' && NUMERIC_START.test(seconds)) {
    const millis = parseDuration(seconds);
    if (millis !== undefined && millis > 0) return millis / 1000;
    const hint = millis === undefined && !ENDS_WITH_UNIT.test(seconds) ? ' (a number in a string needs a unit: "300s")' : '';
    throw new InvalidOptionError(option, `expected ${ACCEPTED}, got ${describe(seconds)}${hint}`);
  }
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidOptionError(option, `expected ${ACCEPTED}, got ${describe(seconds)}`);
  }
  if (seconds > MAX_NUMERIC_TTL_SECONDS) throw new InvalidOptionError(option, overLongTtl(seconds));
  return seconds;
}

/**
 * The longest TTL accepted as a bare number, in seconds (30 days). A larger number is far more
 * often milliseconds written by habit (`3600000` for an hour is 41.7 days in seconds) than a
 * lifetime meant in seconds; a longer lifetime is written as a duration string (`'45d'`).
 *
 * @example
 * ```ts
 * cacheResponse({ ttl: MAX_NUMERIC_TTL_SECONDS }); // 30 days: the longest numeric TTL
 * cacheResponse({ ttl: '45d' });                   // longer: a duration string
 * ```
 */
export const MAX_NUMERIC_TTL_SECONDS = 30 * 86_400;

function overLongTtl(seconds: number): string {
  const days = Math.round((seconds / 86_400) * 10) / 10;
  const asMillis = seconds / 1000;
  return (
    `${seconds} is ${days} days: TTLs are in seconds, not milliseconds. ` +
    `If ${seconds} was meant in milliseconds, write { ttl: ${asMillis} }; ` +
    `a lifetime over 30 days must be written as a duration string ('${Math.ceil(seconds / 86_400)}d')`
  );
}

/**
 * Seconds >= 0 given as a number or a duration string (`'1h'`); `0` when undefined. For windows
 * such as `staleWhileRevalidate`, where `0` means off.
 * @internal
 */
export function nonNegativeDurationSeconds(option: string, value: unknown): number {
  if (value === undefined || value === 0) return 0;
  if (typeof value === 'string') {
    const millis = parseDuration(value);
    if (millis !== undefined && millis >= 0) return millis / 1000;
  } else if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    return value;
  }
  throw new InvalidOptionError(option, `expected seconds >= 0 (3600) or a duration string ('30s', '5m', '1h', '2 days'), got ${describe(value)}`);
}

/**
 * Whole milliseconds given as an integer or a duration string (`'2s'`, `'1h'`), or `fallback`
 * when undefined. `min` is 0 or 1 (whether 0 is allowed).
 * @internal
 */
export function durationMillis(option: string, value: unknown, fallback: number, min: 0 | 1): number {
  if (value === undefined) return fallback;
  const millis = typeof value === 'string' ? parseDuration(value) : value;
  if (typeof millis !== 'number' || !Number.isFinite(millis) || millis < min || (typeof value === 'number' && !Number.isInteger(value))) {
    const bound = min === 0 ? 'an integer >= 0' : 'a positive integer';
    throw new InvalidOptionError(option, `expected ${bound} of milliseconds or a duration string ('2s', '1h'), got ${describe(value)}`);
  }
  return Math.round(millis);
}

/**
 * Validates a table of profiles and merges it over {@link TTL_PROFILES}. Names may not start
 * like a number (those are durations); values are seconds or duration strings.
 * @internal
 */
export function mergeProfiles(option: string, overrides: TtlProfilesInput | undefined): TtlProfiles {
  if (overrides === undefined) return TTL_PROFILES;
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new InvalidOptionError(option, 'expected an object of profile name to seconds');
  }
  const merged: Record<string, number> = { ...TTL_PROFILES };
  for (const [name, seconds] of Object.entries(overrides)) {
    if (name === '' || NUMERIC_START.test(name)) {
      throw new InvalidOptionError(`${option}.${name}`, 'a profile name must not be empty or start like a number (such strings are durations)');
    }
    merged[name] = checkSeconds(`${option}.${name}`, seconds);
  }
  return Object.freeze(merged);
}

/**
 * Resolves a TTL (seconds, a duration string or a profile name) to seconds, throwing
 * {@link InvalidOptionError} naming `option` when it is none of them; an unknown profile name
 * gets the closest known one as a "did you mean".
 * @internal
 */
export function resolveTtl(option: string, ttl: Ttl, profiles: TtlProfiles): number {
  if (typeof ttl === 'string') {
    const seconds = Object.prototype.hasOwnProperty.call(profiles, ttl) ? profiles[ttl] : undefined;
    if (seconds !== undefined) return seconds;
    if (NUMERIC_START.test(ttl)) return checkSeconds(option, ttl);
    const guess = closestName(ttl, Object.keys(profiles));
    const hint = guess === undefined ? `known profiles: ${Object.keys(profiles).join(', ')}` : `did you mean "${guess}"?`;
    throw new InvalidOptionError(option, `unknown TTL profile "${ttl}"; ${hint} (a TTL is ${ACCEPTED})`);
  }
  return checkSeconds(option, ttl);
}

/**
 * Whether a TTL can be checked without knowing the cache's custom profiles: a number, a
 * duration string or a built-in profile name. @internal
 */
export function isSelfContainedTtl(ttl: unknown): boolean {
  return typeof ttl !== 'string' || NUMERIC_START.test(ttl) || Object.prototype.hasOwnProperty.call(TTL_PROFILES, ttl);
}
