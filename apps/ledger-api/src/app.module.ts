import { DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LoggerModule, type Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { IncomingMessage } from 'node:http';
import { prettyTransport, requestIdOf } from './infrastructure/log-format.js';
import { EVENT_STORE } from '@ledger/event-store';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { CommandsModule } from './commands/commands.module.js';
import { AccountsModule } from './accounts/accounts.module.js';
import { ProjectsModule } from './projects/projects.module.js';
import { ProjectionsModule } from './projections/projections.module.js';
import { AuditModule } from './audit/audit.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';
import { WatchdogModule } from './watchdog/watchdog.module.js';
import { ApiKeysModule } from './api-keys/api-keys.module.js';
import { OutboundModule } from './outbound/outbound.module.js';
import { CLOCK, systemClock, type Clock } from './commands/clock.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ApiKeyRegistry } from './auth/api-keys.js';
import type { ApiKeyConfig } from './config/ledger-config.js';
import { ApiExceptionFilter } from './errors/api-exception.filter.js';
import { API_KEYS, LEDGER_CONFIG, PG_POOL } from './infrastructure/tokens.js';
import type { LedgerRuntime } from './infrastructure/runtime.js';

export interface AppModuleOptions {
  runtime: LedgerRuntime;
  apiKeys: ApiKeyConfig[];
  /** Off in tests that don't want request logs. */
  requestLogging?: boolean;
  /** The service's clock; tests pass one they can move. */
  clock?: Clock;
  /** Where the log goes (default stdout); a test passes a stream to read what was logged. */
  logStream?: DestinationStream;
}

@Module({})
export class AppModule {
  static register(options: AppModuleOptions): DynamicModule {
    const { runtime } = options;
    return {
      module: AppModule,
      global: true,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: loggerOptions(options),
          forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
        }),
        HealthModule,
        MetricsModule,
        CommandsModule,
        ProjectionsModule,
        AccountsModule,
        ProjectsModule,
        AuditModule,
        WebhooksModule,
        WatchdogModule,
        ApiKeysModule,
        OutboundModule,
      ],
      providers: [
        { provide: LEDGER_CONFIG, useValue: runtime.config },
        { provide: CLOCK, useValue: options.clock ?? systemClock },
        { provide: EVENT_STORE, useValue: runtime.eventStore },
        { provide: PG_POOL, useValue: runtime.pool },
        { provide: API_KEYS, useValue: new ApiKeyRegistry(options.apiKeys) },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
      ],
      exports: [LEDGER_CONFIG, EVENT_STORE, PG_POOL, API_KEYS, CLOCK],
    };
  }
}

function loggerOptions(options: AppModuleOptions): Params['pinoHttp'] {
  const transport = options.logStream ? undefined : prettyTransport();
  const pinoOptions = {
    level: options.runtime.config.logLevel,
    autoLogging: options.requestLogging ?? true,
    // Secrets are never logged: not the API key, not a webhook signature.
    redact: ['req.headers.authorization', 'req.headers["x-signature"]'],
    // Every line logged while a request runs carries its id (the one error bodies return), not the whole request.
    genReqId: (request: IncomingMessage) => requestIdOf(request),
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    ...(transport ? { transport } : {}),
  };
  return options.logStream ? [pinoOptions, options.logStream] : pinoOptions;
}
