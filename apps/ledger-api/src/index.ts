// What tests and tools outside the app use to build it.
export { createApp } from './create-app.js';
export { ConfigError, loadConfig, type ApiKeyConfig, type LedgerConfig, type Scope } from './config/ledger-config.js';
export { openRuntime, type LedgerRuntime } from './infrastructure/runtime.js';
export { CLOCK, type Clock } from './commands/clock.js';
export { ACCOUNT_STATES } from './commands/commands.tokens.js';
export { ensureDatabase } from './infrastructure/runtime.js';
export { WatchdogService, type WatchdogStatus, type SweepResult } from './watchdog/watchdog.service.js';
export { ledgerApiMigrations } from './commands/snapshot.store.js';
export { EarlyDeliveries, type PassResult } from './webhooks/early-deliveries/early-deliveries.reactor.js';
export { prettyTransport } from './infrastructure/log-format.js';
export { OutboundDispatcher } from './outbound/dispatcher.js';
export { OutboundSender } from './outbound/sender.js';
export { OutboundService } from './outbound/outbound.service.js';
export { outboundTables } from './outbound/outbound.tables.js';
export { newSigningSecret, webhookIdOf } from './outbound/signer.js';
export type { OutboundConfig } from './outbound/outbound-config.js';
export { Reconciliation, type ReconciliationReport } from './audit/reconciliation/reconciliation.service.js';
