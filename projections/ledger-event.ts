import { isAccountEventType, type AccountEvent, type LedgerEvent, type ProjectEvent } from '@ledger/domain';

/** What a reader of the log needs of an event to type it: a stored event fits. */
export type UntypedEvent = Readonly<{ type: string; data: Readonly<Record<string, unknown>> }>;

/** An event as read from the log, with its type and data as the domain's union says (the rest as read). */
export type AsLedgerEvent<E extends UntypedEvent> = Omit<E, 'type' | 'data'> & LedgerEvent;

// A record, so that a project event type added to the domain fails to compile here until listed.
const PROJECT_EVENT_TYPES: ReadonlySet<string> = new Set(
  Object.keys({
    ProjectStarted: true,
    ProjectClaimed: true,
    LeaseExtended: true,
    ProjectCompleted: true,
    ProjectFailed: true,
    ProjectAssetsAttached: true,
  } satisfies Record<ProjectEvent['type'], true>),
);

/**
 * The event typed by its `type`, or undefined for one the ledger's domain does not
 * decide (an idempotency record). Its data is trusted to have the fields its type
 * says: only what the domain decided is appended. Readers that report on malformed
 * values (the audit) still check the values they report on.
 */
export function asLedgerEvent<E extends UntypedEvent>(event: E): AsLedgerEvent<E> | undefined {
  return isAccountEventType(event.type) || PROJECT_EVENT_TYPES.has(event.type)
    ? (event as unknown as AsLedgerEvent<E>)
    : undefined;
}

/** True for the events that move an account's money. */
export function isAccountEvent<E extends AsLedgerEvent<UntypedEvent>>(event: E): event is Extract<E, AccountEvent> {
  return isAccountEventType(event.type);
}
