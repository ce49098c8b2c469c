import type { RetrySchedule } from './retry-schedule.js';

/** Outbound webhooks' settings (README, "Configuration"). */
export interface OutboundConfig {
  /** LEDGER_OUTBOUND_ALLOW_PRIVATE: endpoints may point at loopback/private addresses (development, tests). */
  allowPrivate: boolean;
  /** LEDGER_LOW_BALANCE_THRESHOLD: the threshold of an account that set none; undefined: no balance.low. */
  lowBalanceThreshold: number | undefined;
  /** LEDGER_EXPIRY_NOTICE_HOURS: how long before a lot's expiresAt credits.expiring is sent. */
  expiryNoticeHours: number;
  retry: RetrySchedule;
  /** Attempts in flight per replica. */
  concurrencyMax: number;
  /** A 2xx must come within this (10 s). */
  timeoutMs: number;
  /** How often an idle sender looks for due retries (a new delivery on this replica wakes it at once). */
  pollMs: number;
}
