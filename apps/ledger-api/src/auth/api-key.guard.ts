import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Scope } from '../config/ledger-config.js';
import { API_KEYS } from '../infrastructure/tokens.js';
import { hasScope, type ApiKey, type ApiKeyRegistry } from './api-keys.js';
import { IS_PUBLIC } from './public.decorator.js';
import { REQUIRED_SCOPE } from './scopes.decorator.js';
import { ApiError } from '../errors/api-error.js';

export type AuthenticatedRequest = FastifyRequest & { apiKey?: ApiKey };

/** Every route needs a valid key (401) with the route's scope (403), unless marked @Public. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEYS) private readonly registry: ApiKeyRegistry,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/i.exec(header);
    const key = match ? this.registry.authenticate(match[1]!.trim()) : undefined;
    if (!key) throw new ApiError(401, 'unauthenticated', 'a valid API key is required: Authorization: Bearer <key>');
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets) ?? 'admin';
    if (!hasScope(key, scope)) throw new ApiError(403, 'forbidden', `this key lacks the '${scope}' scope`);
    request.apiKey = key;
    return true;
  }
}
