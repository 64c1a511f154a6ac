import { InvalidOptionError } from '../errors';

// Validators shared by the PostgreSQL and SQLite option resolvers (both build SQL from a table
// name, so it must be an identifier, never text spliced in from a user).

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A table name usable unquoted in both dialects. Derived names (`<table>_tags`,
 * `<table>_expires_at_idx`, ...) must fit PostgreSQL's 63-byte identifiers, hence the bound.
 * @internal
 */
export function tableName(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value.length > 40) {
    throw new InvalidOptionError(option, `expected a table name of letters, digits and _ (at most 40, not starting with a digit), got ${String(value)}`);
  }
  return value;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

/**
 * Rejects option names the owner does not know, suggesting the closest known one, so a typo
 * such as `maxEntry` fails at construction instead of silently doing nothing.
 * @internal
 */
export function knownOptions(owner: string, given: object, known: readonly string[]): void {
  for (const name of Object.keys(given)) {
    if (known.includes(name)) continue;
    const closest = [...known].sort((a, b) => distance(name, a) - distance(name, b))[0];
    const hint = closest !== undefined && distance(name, closest) <= 3 ? ` (did you mean "${closest}"?)` : '';
    throw new InvalidOptionError(name, `unknown ${owner} option${hint}`);
  }
}
