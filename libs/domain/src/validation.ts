import {
  AMOUNT_MAX,
  CODE_PATTERN,
  ID_PATTERN,
  METADATA_JSON_LENGTH_MAX,
  NOW_MS_MAX,
  RESULT_URLS_MAX,
  URL_LENGTH_MAX,
} from './limits.js';
import { RuleViolation } from './rule-violation.js';

/** One bad field of a command; `validation_failed` lists all of them, so a caller fixes them at once. */
export type FieldProblem = Readonly<{ field: string; message: string }>;

/** A check as [field, passed, what the field must be]. */
export type FieldCheck = readonly [field: string, passed: boolean, rule: string];

export function requireValid(checks: readonly FieldCheck[]): void {
  const problems: FieldProblem[] = checks
    .filter(([, passed]) => !passed)
    .map(([field, , rule]) => ({ field, message: `must be ${rule}` }));
  if (problems.length > 0) {
    const fields = problems.map((problem) => problem.field).join(', ');
    throw new RuleViolation('validation_failed', `invalid ${fields}`, { fields: problems });
  }
}

export const RULES = {
  id: 'a string of 1 to 128 letters, digits, ".", "_", ":" or "-"',
  code: 'a string of 1 to 64 letters, digits, ".", "_", ":" or "-"',
  amount: `an integer from 1 to ${AMOUNT_MAX}`,
  now: 'a valid Date between 1970 and 9999',
  url: `an http or https URL of at most ${URL_LENGTH_MAX} characters`,
} as const;

export function isId(value: unknown): boolean {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export function isCode(value: unknown): boolean {
  return typeof value === 'string' && CODE_PATTERN.test(value);
}

export function isIntegerBetween(value: unknown, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

export function isAmount(value: unknown): boolean {
  return isIntegerBetween(value, 1, AMOUNT_MAX);
}

/**
 * Text the event store can keep: JSON in PostgreSQL refuses U+0000 and lone
 * surrogates, so they are bad input here, not a failure later.
 */
export function isStorableString(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isText(value: unknown, lengthMax: number): boolean {
  return typeof value === 'string' && value.length >= 1 && value.length <= lengthMax && isStorableString(value);
}

export function isOptional(value: unknown, check: (present: unknown) => boolean): boolean {
  return value === undefined || check(value);
}

/** The domain reads no clock: `now` comes with the command, so it must be a real instant. */
export function isInstant(value: unknown): boolean {
  return value instanceof Date && isIntegerBetween(value.getTime(), 0, NOW_MS_MAX);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > URL_LENGTH_MAX || !isStorableString(value)) return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

export function isMetadata(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  try {
    // JSON is what the store keeps, so its length is the size that matters. A number JSON
    // can't hold (1e400 parses to Infinity) would be kept as null: refused, not changed.
    let storable = true;
    const json = JSON.stringify(value, (key: string, item: unknown) => {
      if (!isStorableString(key) || (typeof item === 'string' && !isStorableString(item))) storable = false;
      if (typeof item === 'number' && !Number.isFinite(item)) storable = false;
      return item;
    });
    return storable && json.length <= METADATA_JSON_LENGTH_MAX;
  } catch {
    return false; // cycles and bigints cannot be stored as JSON
  }
}

const ASSET_URL_KEYS = ['assetUrl', 'previewUrl', 'thumbnailUrl'] as const;

/** Result assets: only the known keys, every URL http(s), a bounded list of result URLs. */
export function isAssets(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  const known: readonly string[] = [...ASSET_URL_KEYS, 'resultUrls'];
  if (Object.keys(value).some((key) => !known.includes(key))) return false;
  if (!ASSET_URL_KEYS.every((key) => isOptional(value[key], isHttpUrl))) return false;
  const resultUrls = value.resultUrls;
  return (
    resultUrls === undefined ||
    (Array.isArray(resultUrls) && resultUrls.length <= RESULT_URLS_MAX && resultUrls.every(isHttpUrl))
  );
}
