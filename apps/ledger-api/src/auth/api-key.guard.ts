import { CanActivate, ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Scope } from '@ledger/domain';
import { CLOCK, type Clock } from '../commands/clock.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { ApiError } from '../errors/api-error.js';
import { API_KEYS, LEDGER_CONFIG } from '../infrastructure/tokens.js';
import { ledgerMetrics } from '../metrics/metrics.js';
import { hasScope, type ApiKey, type ApiKeyRegistry } from './api-keys.js';
import { IS_PUBLIC } from './public.decorator.js';
import { REQUIRED_SCOPE, type RequiredScope } from './scopes.decorator.js';
import { TokenBuckets } from './token-buckets.js';

export type AuthenticatedRequest = FastifyRequest & { apiKey?: ApiKey };

export type RefusalReason = 'unauthenticated' | 'revoked' | 'expired' | 'rate_limited' | 'forbidden';

const UNAUTHENTICATED = 'a valid API key is required: Authorization: Bearer <key>';

/**
 * Every route needs a valid key (401) within its rate (429) with the route's scope
 * (403), unless marked @Public. All of it runs before the body is validated and before
 * anything is read or appended, so a refusal costs nothing and changes nothing. Each
 * refusal is logged with the key's name (an unknown key: a fingerprint of its digest),
 * never the secret, and counted by reason.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly logger = new Logger('Auth');
  private readonly buckets = new TokenBuckets();

  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEYS) private readonly registry: ApiKeyRegistry,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const match = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '');
    if (!match)
      throw this.refuse(request, 'unauthenticated', {}, new ApiError(401, 'unauthenticated', UNAUTHENTICATED));
    const found = this.registry.authenticate(match[1]!.trim(), this.clock.now());
    if (found.outcome === 'unknown') {
      throw this.refuse(
        request,
        'unauthenticated',
        { fingerprint: found.fingerprint },
        new ApiError(401, 'unauthenticated', UNAUTHENTICATED),
      );
    }
    const key = found.key;
    const who = { key: key.name, keyId: key.keyId };
    if (found.outcome !== 'valid') {
      throw this.refuse(
        request,
        found.outcome,
        who,
        new ApiError(401, 'unauthenticated', `this key is ${found.outcome}`),
      );
    }
    const take = this.buckets.take(key.keyId, key.ratePerSecond ?? this.config.rateLimitPerSecond, performance.now());
    if (!take.allowed) {
      throw this.refuse(
        request,
        'rate_limited',
        who,
        new ApiError(
          429,
          'rate_limited',
          `this key is over its rate; retry in ${take.retryAfterSeconds} s`,
          { retryAfterSeconds: take.retryAfterSeconds },
          { 'retry-after': String(take.retryAfterSeconds) },
        ),
      );
    }
    const scope = this.requiredScope(targets, request);
    if (!hasScope(key, scope)) {
      throw this.refuse(
        request,
        'forbidden',
        who,
        new ApiError(403, 'forbidden', `this key lacks the '${scope}' scope`),
      );
    }
    request.apiKey = key;
    return true;
  }

  private requiredScope(targets: Parameters<Reflector['getAllAndOverride']>[1], request: FastifyRequest): Scope {
    const required = this.reflector.getAllAndOverride<RequiredScope | undefined>(REQUIRED_SCOPE, targets) ?? 'admin';
    return typeof required === 'string' ? required : required(request.body);
  }

  private refuse(request: FastifyRequest, reason: RefusalReason, who: object, error: ApiError): ApiError {
    ledgerMetrics.authRefusals.inc({ reason });
    this.logger.warn({
      msg: 'request refused',
      reason,
      ...who,
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
    });
    return error;
  }
}
