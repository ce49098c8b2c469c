/**
 * Bounds on everything a command carries. The HTTP layer checks the same bounds first
 * (400 at the edge); the domain checks them again because it must not trust its callers.
 */

/** Ids are caller-supplied; this keeps them safe inside stream names and URLs. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** A failure code is a short machine-readable token, like an id. */
export const CODE_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** The largest amount one command may move: far below MAX_SAFE_INTEGER, so sums stay exact for long. */
export const AMOUNT_MAX = 10 ** 12;

export const LEASE_SECONDS_MAX = 24 * 60 * 60;

export const DEADLINE_SECONDS_DEFAULT = 60 * 60;
export const DEADLINE_SECONDS_MAX = 7 * 24 * 60 * 60;

/** Free text (debit reasons, grant references, kinds, provider task ids). */
export const TEXT_LENGTH_MAX = 256;
export const ERROR_MESSAGE_LENGTH_MAX = 4096;
export const URL_LENGTH_MAX = 2048;
export const RESULT_URLS_MAX = 50;

/** Project metadata is stored in every ProjectStarted event; bound it so events stay small. */
export const METADATA_JSON_LENGTH_MAX = 16 * 1024;

/**
 * The latest `now` a command may carry: 9999-12-31, less the longest deadline, so every
 * instant the domain derives is a plain ISO string with a four-digit year.
 */
export const NOW_MS_MAX = Date.UTC(9999, 11, 31) - DEADLINE_SECONDS_MAX * 1000;

/**
 * Lots an account may hold with credits in them at once (API.md). A decision reads only the
 * lots it draws from (the state keeps the active ones in the spending order, `LotBook`); the
 * bound keeps the state small. Past it a grant is refused (`lots_limit_exceeded`) until some
 * are spent, expire or are voided.
 */
export const ACTIVE_LOTS_MAX = 1_000;

/**
 * Lots an account keeps over its life. Spent, expired and voided lots stay in the state:
 * a running project's refund goes back to the lot it drew from (and comes back expired or
 * voided when that lot is), and a grantId is never reused, like an invoice number. The
 * bound keeps the state (cached and snapshotted) at a few megabytes at most.
 */
export const LOTS_KEPT_MAX = 10_000;

export const LOT_PRIORITY_MAX = 100;

/** How far ahead a lot may expire. */
export const LOT_EXPIRY_YEARS_MAX = 10;
