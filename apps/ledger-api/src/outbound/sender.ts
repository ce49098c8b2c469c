import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type pg from 'pg';
import { crashPoint } from '@ledger/platform';
import type { OutboundConfig } from './outbound-config.js';
import { outboundTables, type ClaimedDelivery } from './outbound.tables.js';
import { retryDelayMs } from './retry-schedule.js';
import { checkUrlShape, guardedLookup, hostOf, isPublicAddress, UrlRefusedError } from './ssrf-guard.js';
import { signedHeaders } from './signer.js';

/** What one attempt came to: a status code, or an error before any (refused, timeout, connection). */
export interface AttemptOutcome {
  statusCode: number | null;
  error: string | null;
}

export type DeliveryOutcome = 'succeeded' | 'retry' | 'failed';

export interface SenderHooks {
  onOutcome(outcome: DeliveryOutcome): void;
  warn(object: object, message: string): void;
}

// A sender that dies mid-attempt leaves its deliveries due again after this: past the 10 s timeout.
const LEASE_MARGIN_MS = 20_000;

/**
 * Sends due deliveries (every replica runs one: FOR UPDATE SKIP LOCKED keeps them
 * apart), at most `concurrencyMax` at once, each signed with the endpoint's current
 * secrets. A 2xx within the timeout is success; anything else schedules the next
 * attempt, or `failed` once the retry window is over. Redirects are not followed.
 */
export class OutboundSender {
  private inFlight = 0;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly secrets = new Map<string, string>();
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(
    private readonly pool: pg.Pool,
    private readonly config: OutboundConfig,
    private readonly hooks: SenderHooks,
  ) {
    const lookup = guardedLookup(config.allowPrivate);
    this.agents = {
      http: new http.Agent({ keepAlive: true, lookup }),
      https: new https.Agent({ keepAlive: true, lookup }),
    };
  }

  start(): void {
    this.running = this.loop();
  }

  /** New deliveries (or a retry by hand): look now rather than at the next poll. */
  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    // Woken while not waiting: the next wait returns at once, so no wake is lost.
    if (wake) wake();
    else this.woken = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let claimed: ClaimedDelivery[] = [];
      const free = this.config.concurrencyMax - this.inFlight;
      // Claimed in groups (half the slots at least, or whatever is free when idle): one claim per attempt would
      // double the round trips of a busy sender.
      if (free > 0 && (this.inFlight === 0 || free >= Math.ceil(this.config.concurrencyMax / 2))) {
        try {
          claimed = await outboundTables.claimDue(this.pool, free, this.config.timeoutMs + LEASE_MARGIN_MS);
        } catch (error) {
          this.hooks.warn({ err: error }, 'outbound sender: cannot claim deliveries');
        }
      }
      for (const delivery of claimed) {
        this.inFlight++;
        void this.deliver(delivery).finally(() => {
          this.inFlight--;
          this.wake();
        });
      }
      // Full, or nothing due: wait for a slot, new deliveries, or the poll.
      const slotsFree = this.config.concurrencyMax - this.inFlight;
      if (claimed.length === 0 || slotsFree < Math.ceil(this.config.concurrencyMax / 2)) {
        if (this.woken) {
          this.woken = false;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.wakeUp = undefined;
            resolve();
          }, this.config.pollMs);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const startedAt = new Date();
    let outcome: AttemptOutcome;
    try {
      const secrets = await this.secretsOf(delivery, startedAt);
      outcome = await this.send(delivery, signedHeaders(delivery.webhook_id, delivery.body, secrets, startedAt));
    } catch (error) {
      outcome = { statusCode: null, error: (error as Error).message };
    }
    const succeeded = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
    if (succeeded) crashPoint('outbound.after-send');
    const nextAt = new Date(Date.now() + retryDelayMs(this.config.retry, delivery.attempts, Math.random()));
    const result: ReturnType<typeof nextOf> = succeeded
      ? { status: 'succeeded', nextAttemptAt: null }
      : nextOf(nextAt, delivery.retry_until);
    try {
      const recorded = await outboundTables.recordAttempt(
        this.pool,
        delivery,
        {
          started_at: startedAt,
          duration_ms: Date.now() - startedAt.getTime(),
          status_code: outcome.statusCode,
          error: outcome.error,
        },
        result,
      );
      if (recorded) this.hooks.onOutcome(succeeded ? 'succeeded' : result.status === 'failed' ? 'failed' : 'retry');
    } catch (error) {
      // The lease runs out and the delivery is sent again: at least once, with the same webhook-id.
      this.hooks.warn({ err: error, deliveryId: delivery.delivery_id }, 'outbound sender: cannot record an attempt');
    }
  }

  /** The current secret, and the previous one while the rotation's overlap lasts. */
  private async secretsOf(delivery: ClaimedDelivery, at: Date): Promise<string[]> {
    const ids = [delivery.secret_id];
    if (delivery.previous_secret_id && delivery.previous_expires_at && delivery.previous_expires_at > at) {
      ids.push(delivery.previous_secret_id);
    }
    const missing = ids.filter((id) => !this.secrets.has(id));
    if (missing.length > 0) {
      for (const [id, secret] of await outboundTables.secrets(this.pool, missing)) this.secrets.set(id, secret);
    }
    return ids.map((id) => {
      const secret = this.secrets.get(id);
      if (secret === undefined) throw new Error(`the signing secret ${id} is missing`);
      return secret;
    });
  }

  private send(delivery: ClaimedDelivery, headers: Record<string, string>): Promise<AttemptOutcome> {
    const url = checkUrlShape(delivery.url);
    const host = hostOf(url);
    // An IP literal is never looked up, so the guard's lookup would not see it: checked here.
    if (!this.config.allowPrivate && isIP(host) !== 0 && !isPublicAddress(host)) {
      throw new UrlRefusedError(`${host} is not a public address`);
    }
    const transport = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http;
    return new Promise<AttemptOutcome>((resolve) => {
      const request = transport.request(
        url,
        {
          method: 'POST',
          agent,
          timeout: this.config.timeoutMs,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(delivery.body),
            'user-agent': 'ledger-webhooks/1',
          },
        },
        (response) => {
          // Only the status counts; the body is drained so the socket is reused.
          response.resume();
          response.on('end', () => resolve({ statusCode: response.statusCode ?? null, error: null }));
          response.on('error', (error) => resolve({ statusCode: response.statusCode ?? null, error: error.message }));
        },
      );
      const deadline = setTimeout(
        () => request.destroy(new Error(`no answer within ${this.config.timeoutMs} ms`)),
        this.config.timeoutMs,
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.config.timeoutMs} ms`)));
      request.on('error', (error) => resolve({ statusCode: null, error: error.message }));
      request.on('close', () => clearTimeout(deadline));
      request.end(delivery.body);
    });
  }
}

function nextOf(
  nextAt: Date,
  retryUntil: Date,
): { status: 'pending' | 'failed' | 'succeeded'; nextAttemptAt: Date | null } {
  return nextAt.getTime() > retryUntil.getTime()
    ? { status: 'failed', nextAttemptAt: null }
    : { status: 'pending', nextAttemptAt: nextAt };
}
