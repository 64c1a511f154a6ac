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
