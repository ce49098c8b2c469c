export * from './streams.js';
export { RuleViolation, RULE_VIOLATION_CODES, isRuleViolation, type RuleViolationCode } from './rule-violation.js';
export type { DomainEvent } from './event.js';
export * from './limits.js';
export type { FieldProblem } from './validation.js';
export { isStorableString } from './validation.js';
export { jsonEqual } from './json-equal.js';

export * from './account/account.events.js';
export * from './api-key/api-key.events.js';
export type * from './account/account.commands.js';
export {
  initialAccountState,
  evolveAccount,
  LOT_PRIORITY_DEFAULT,
  type AccountState,
  type StoredAccountEvent,
} from './account/account.state.js';
export * from './account/account.lots.js';
export { refundEvents, VOID_REASON_REFUNDED_TO_VOIDED_LOT } from './account/account.refunds.js';
export * from './account/account.money.js';
export {
  decideGrantCredits,
  decideDebitCredits,
  decideVoidGrant,
  decideExpireCredits,
  decideAccount,
  type AccountDecision,
  type AccountReply,
  type GrantReply,
  type VoidReply,
  type ExpireCreditsReply,
} from './account/account.decide.js';

export * from './project/project.events.js';
export type * from './project/project.commands.js';
export * from './project/project.state.js';
export type {
  ProjectDecision,
  StartReply,
  ClaimReply,
  HeartbeatReply,
  FinishReply,
  AssetsReply,
  ProviderReportReply,
} from './project/project.decision.js';
export { decideStartProject, decideClaimProject, decideHeartbeatProject } from './project/project.decide.js';
export { decideCompleteProject, decideFailProject, decideExpireProject } from './project/project.finish.js';
export { decideAttachAssets, decideProviderReport } from './project/project.assets.js';

export * from './ledger.js';

export type * from './api-key/api-key.commands.js';
export { initialApiKeyState, evolveApiKey, type ApiKeyState } from './api-key/api-key.state.js';
export {
  decideCreateApiKey,
  decideRevokeApiKey,
  decideApiKey,
  API_KEY_NAME_PATTERN,
  API_KEY_LIFETIME_DAYS_MAX,
  RATE_PER_SECOND_MAX,
  SERVICE_CALLER_NAMES,
  WATCHDOG_CALLER_NAME,
  isServiceCallerName,
  type ApiKeyDecision,
  type ApiKeyReply,
} from './api-key/api-key.decide.js';
export * from './webhook-endpoint/webhook-endpoint.events.js';
export type * from './webhook-endpoint/webhook-endpoint.commands.js';
export {
  initialWebhookEndpointState,
  evolveWebhookEndpoint,
  type WebhookEndpointState,
} from './webhook-endpoint/webhook-endpoint.state.js';
export {
  decideRegisterWebhookEndpoint,
  decideRotateWebhookSecret,
  decideSetWebhookEndpointEnabled,
  decideWebhookEndpoint,
  SECRET_OVERLAP_HOURS,
  type WebhookEndpointDecision,
  type WebhookEndpointReply,
} from './webhook-endpoint/webhook-endpoint.decide.js';
export * from './account-settings/account-settings.js';
