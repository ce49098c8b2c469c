import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { Scope } from '@ledger/domain';

export const REQUIRED_SCOPE = 'ledger:scope';

/** The scope a route needs, fixed or read off the request's body (cancel and fail share a route). */
export type RequiredScope = Scope | ScopeOfBody;
export interface ScopeOfBody {
  (body: unknown): Scope;
  /** What the OpenAPI document says about it. */
  readonly scopes: readonly Scope[];
}

/** The scope a route needs; `admin` keys pass every scope, `commands` the four command scopes. */
export const RequireScope = (scope: RequiredScope) =>
  applyDecorators(
    SetMetadata(REQUIRED_SCOPE, scope),
    ApiExtension('x-required-scopes', typeof scope === 'string' ? [scope] : scope.scopes),
  );

/**
 * `fail` without `attempt` is the owner cancelling (`start`); with one, the worker
 * failing its attempt (`work`). Read before the body is validated: a body that is not
 * an object needs `start`, then fails validation.
 */
export const CANCEL_OR_FAIL: ScopeOfBody = Object.assign(
  (body: unknown): Scope =>
    body !== null && typeof body === 'object' && (body as { attempt?: unknown }).attempt !== undefined
      ? 'work'
      : 'start',
  { scopes: ['start', 'work'] as const },
);
