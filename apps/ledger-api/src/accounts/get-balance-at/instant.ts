import { ApiError } from '../../errors/api-error.js';

// A time must name its zone: a zoneless one would be read in each server's local time.
const ZONED = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * An ISO 8601 query value that passed `IsISO8601` as a Date; 400 for a time without its
 * zone (`Z` or an offset; a date alone is midnight UTC) or one a Date can't hold.
 */
export function instantOf(text: string, field: string): Date {
  const at = new Date(text);
  if ((text.includes('T') && !ZONED.test(text)) || Number.isNaN(at.getTime())) {
    throw new ApiError(400, 'validation_failed', `${field} is not an instant`, [
      { field, problems: [`${field} must be an ISO 8601 instant with its zone (Z or an offset)`] },
    ]);
  }
  return at;
}
