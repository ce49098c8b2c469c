import { ApiError } from '../../errors/api-error.js';

/** An ISO 8601 query value that passed `IsISO8601` as a Date; 400 for one a Date can't hold. */
export function instantOf(text: string, field: string): Date {
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) {
    throw new ApiError(400, 'validation_failed', `${field} is not an instant`, [
      { field, problems: [`${field} must be an ISO 8601 instant`] },
    ]);
  }
  return at;
}
