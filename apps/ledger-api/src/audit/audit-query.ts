import { ApiError } from '../errors/api-error.js';
import type { FieldProblems } from '../http/validation.js';

/**
 * Query parameters arrive as text. Each is parsed strictly (digits only, no "1e3", no
 * "0x10") and every bad one is named in one 400, as API.md asks of bad input.
 */
export class QueryParameters {
  private readonly problems: FieldProblems[] = [];

  /** An integer from `min` to `max`; `fallback` when the parameter is absent. */
  integer(field: string, raw: unknown, min: number, max: number, fallback: number): number;
  integer(field: string, raw: unknown, min: number, max: number, fallback?: undefined): number | undefined;
  integer(field: string, raw: unknown, min: number, max: number, fallback?: number): number | undefined {
    if (raw === undefined) return fallback;
    const value = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push({ field, problems: [`must be an integer from ${min} to ${max}`] });
      return fallback;
    }
    return value;
  }

  /** A position or revision: a non-negative safe integer, as a bigint. */
  position(field: string, raw: unknown): bigint | undefined {
    const value = this.integer(field, raw, 0, Number.MAX_SAFE_INTEGER);
    return value === undefined ? undefined : BigInt(value);
  }

  /** `true` or `false`; `fallback` when the parameter is absent. */
  boolean(field: string, raw: unknown, fallback: boolean): boolean {
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    this.problems.push({ field, problems: ["must be 'true' or 'false'"] });
    return fallback;
  }

  /** Throws the 400 naming every bad parameter, if there is one. */
  check(): void {
    if (this.problems.length === 0) return;
    throw new ApiError(
      400,
      'validation_failed',
      `invalid query parameters: ${this.problems.map((p) => p.field).join(', ')}`,
      this.problems,
    );
  }
}
