import { CanActivate, ExecutionContext, Inject, Injectable, type RawBodyRequest } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CLOCK, type Clock } from '../commands/clock.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { ApiError } from '../errors/api-error.js';
import { LEDGER_CONFIG } from '../infrastructure/tokens.js';
import { SIGNATURE_HEADER, signatureRefusal } from './webhook-signature.js';

export type WebhookRequest = RawBodyRequest<FastifyRequest> & { params: { provider?: string } };

/**
 * A provider's delivery is authenticated by its signature, not an API key: an
 * unknown provider, or a missing, wrong or expired signature, is 401 before
 * the body is even validated, so nothing unsigned reaches a command. Guards run
 * after the body is parsed, and `rawBody: true` (create-app.ts) keeps its bytes.
 */
@Injectable()
export class WebhookSignatureGuard implements CanActivate {
  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<WebhookRequest>();
    const secrets = this.config.webhookSecrets.get(request.params.provider ?? '') ?? [];
    if (secrets.length === 0) throw new ApiError(401, 'unauthenticated', 'webhook refused: unknown provider');
    const header = request.headers[SIGNATURE_HEADER];
    const refusal = signatureRefusal(
      typeof header === 'string' ? header : undefined,
      request.rawBody ?? Buffer.alloc(0),
      secrets,
      this.clock.now(),
    );
    if (refusal !== undefined) throw new ApiError(401, 'unauthenticated', `webhook refused: ${refusal}`);
    return true;
  }
}
