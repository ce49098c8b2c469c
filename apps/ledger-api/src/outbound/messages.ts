import {
  ALL_OUTBOUND_EVENTS,
  accountIdOf,
  projectIdOf,
  type OutboundEventType,
  type OutboundSubscription,
} from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';

/** What one endpoint is owed: a message of a catalogue type, keyed so its `webhook-id` is stable. */
export interface OutboundMessage {
  type: OutboundEventType;
  /** Unique per message (an event's id, or the notice's cause): the webhook-id derives from it. */
  key: string;
  position: bigint;
  /** The body's `timestamp`: when the fact happened. */
  at: Date;
  data: Record<string, unknown>;
}

const ACCOUNT_TYPES: Readonly<Record<string, OutboundEventType>> = {
  CreditsGranted: 'credits.granted',
  Debited: 'credits.debited',
  Refunded: 'credits.refunded',
  CreditsExpired: 'credits.expired',
  GrantVoided: 'credits.voided',
};

const PROJECT_TYPES: Readonly<Record<string, { type: OutboundEventType; status: string }>> = {
  ProjectStarted: { type: 'project.started', status: 'pending' },
  ProjectClaimed: { type: 'project.claimed', status: 'processing' },
  ProjectCompleted: { type: 'project.completed', status: 'completed' },
  ProjectFailed: { type: 'project.failed', status: 'failed' },
};

/** When the event happened, as its command's clock said. */
export function eventTime(event: StoredEvent): Date {
  const at = event.metadata.at === undefined ? undefined : new Date(event.metadata.at);
  return at && Number.isFinite(at.getTime()) ? at : event.createdAt;
}

/**
 * The message a ledger event makes, if its type is in the catalogue. An account event
 * carries the balance after it (`balanceAfter`, which the dispatcher folds); a project
 * event the project's status after it.
 */
export function messageOf(event: StoredEvent, balanceAfter: number | undefined): OutboundMessage | undefined {
  const base = { key: event.id, position: event.position, at: eventTime(event) };
  const accountType = ACCOUNT_TYPES[event.type];
  const accountId = accountIdOf(event.streamName);
  if (accountType && accountId !== undefined) {
    return {
      ...base,
      type: accountType,
      data: { accountId, ...event.data, balanceAfter: balanceAfter ?? null, position: Number(event.position) },
    };
  }
  const project = PROJECT_TYPES[event.type];
  const projectId = projectIdOf(event.streamName);
  if (project && projectId !== undefined) {
    return {
      ...base,
      type: project.type,
      data: { projectId, ...event.data, status: project.status, position: Number(event.position) },
    };
  }
  return undefined;
}

/** `balance.low`: the balance went from at least the threshold to below it. */
export function lowBalanceNotice(
  event: StoredEvent,
  accountId: string,
  before: number,
  after: number,
  threshold: number | null,
): OutboundMessage | undefined {
  if (threshold === null || !(before >= threshold && after < threshold)) return undefined;
  return {
    type: 'balance.low',
    key: `${event.id}:balance.low`,
    position: event.position,
    at: eventTime(event),
    data: {
      accountId,
      balance: after,
      threshold,
      cause: { type: ACCOUNT_TYPES[event.type] ?? event.type, ...event.data },
      position: Number(event.position),
    },
  };
}

export function subscribes(events: readonly string[], type: OutboundEventType): boolean {
  return events.includes(ALL_OUTBOUND_EVENTS) || events.includes(type);
}

/** The body every attempt sends, byte for byte (it is what is signed). */
export function bodyOf(message: OutboundMessage): string {
  return JSON.stringify({ type: message.type, timestamp: message.at.toISOString(), data: message.data });
}

export type { OutboundSubscription };
