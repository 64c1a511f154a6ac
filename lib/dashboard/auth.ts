import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** The session cookie the token sign-in sets. */
export const SESSION_COOKIE = 'cache_dashboard_session';

/** Equal strings in time that depends only on their lengths' digests, never on where they differ. */
export function safeEqual(a: string, b: string): boolean {
  // Hashing first gives both sides one length, which timingSafeEqual requires.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * Stateless sessions for the token sign-in: the cookie is `expiry.mac`, the MAC keyed by the
 * token, so every process that shares the token accepts it and changing the token signs
 * everyone out. Nothing is kept in memory.
 * @internal
 */
export class Sessions {
  private readonly key: Buffer;

  constructor(
    token: string,
    private readonly ttlMs: number,
  ) {
    this.key = createHash('sha256').update('express-cache-kit dashboard session\0').update(token).digest();
  }

  /** A new cookie value for a session mounted at `scope`. */
  issue(scope: string, now = Date.now()): string {
    const expires = Math.floor((now + this.ttlMs) / 1000);
    return `${expires}.${this.mac(scope, expires)}`;
  }

  /** Whether `value` is a live session issued for `scope`. */
  valid(value: string | undefined, scope: string, now = Date.now()): boolean {
    if (value === undefined) return false;
    const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (match === null) return false;
    const expires = Number(match[1]);
    return expires * 1000 > now && safeEqual(match[2] as string, this.mac(scope, expires));
  }

  get maxAgeSeconds(): number {
    return Math.floor(this.ttlMs / 1000);
  }

  private mac(scope: string, expires: number): string {
    return createHmac('sha256', this.key).update(`v1\n${scope}\n${expires}`).digest('base64url');
  }
}

/** One cookie of the request's `Cookie` header, or undefined. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** `Authorization: Basic` credentials, or undefined. */
export function basicCredentials(req: Request): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.get('authorization') ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** `Authorization: Bearer` token, or undefined. */
export function bearerToken(req: Request): string | undefined {
  const match = /^Bearer\s+(.+?)\s*$/i.exec(req.get('authorization') ?? '');
  return match === null ? undefined : match[1];
}

/**
 * A POST may only come from this page. A browser says where a request comes from: with
 * `Sec-Fetch-Site` (must be `same-origin`) or at least `Origin` (must be this host), so a form
 * or script on another site cannot post here. A request with neither is not from a browser (a
 * CLI, curl); it is accepted only with a JSON body, which a cross-site page cannot send without
 * a CORS preflight this handler never grants.
 */
export function sameOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  const origin = req.get('origin');
  if (origin !== undefined) return origin === `${req.protocol}://${req.get('host') ?? ''}`;
  return /^application\/json\s*(?:;|$)/i.test(req.get('content-type') ?? '');
}
