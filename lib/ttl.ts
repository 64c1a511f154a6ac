import { InvalidOptionError } from './errors';

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
 * A TTL: a positive number of seconds (fractions allowed) or the name of a profile. Custom
 * profile names registered through `ttlProfiles` are accepted as plain strings.
 */
export type Ttl = number | TtlProfileName | (string & Record<never, never>);

/** A table of named TTLs in seconds. */
export type TtlProfiles = Readonly<Record<string, number>>;

/** The profile used where no TTL is named. */
export const DEFAULT_TTL_PROFILE: TtlProfileName = 'api_response';

function checkSeconds(option: string, seconds: number): number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidOptionError(option, `expected a positive number of seconds or a profile name, got ${String(seconds)}`);
  }
  return seconds;
}

/**
 * Validates a table of profiles and merges it over {@link TTL_PROFILES}.
 * @internal
 */
export function mergeProfiles(option: string, overrides: TtlProfiles | undefined): TtlProfiles {
  if (overrides === undefined) return TTL_PROFILES;
  if (overrides === null || typeof overrides !== 'object') {
    throw new InvalidOptionError(option, 'expected an object of profile name to seconds');
  }
  const merged: Record<string, number> = { ...TTL_PROFILES };
  for (const [name, seconds] of Object.entries(overrides)) {
    merged[name] = checkSeconds(`${option}.${name}`, seconds);
  }
  return Object.freeze(merged);
}

/**
 * Resolves a TTL (seconds or a profile name) to seconds, throwing {@link InvalidOptionError}
 * naming `option` when it is neither a positive number nor a known profile.
 * @internal
 */
export function resolveTtl(option: string, ttl: Ttl, profiles: TtlProfiles): number {
  if (typeof ttl === 'string') {
    const seconds = Object.prototype.hasOwnProperty.call(profiles, ttl) ? profiles[ttl] : undefined;
    if (seconds === undefined) {
      throw new InvalidOptionError(
        option,
        `unknown TTL profile "${ttl}"; known profiles: ${Object.keys(profiles).join(', ')}`,
      );
    }
    return seconds;
  }
  return checkSeconds(option, ttl);
}
