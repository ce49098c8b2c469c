import { Global, Inject, Module, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { PinoLogger } from 'nestjs-pino';
import type pg from 'pg';
import type {
  AccountSettingsState,
  AccountState,
  ApiKeyState,
  ProjectState,
  WebhookEndpointState,
} from '@ledger/domain';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import type { LedgerConfig } from '../config/ledger-config.js';
import { LEDGER_CONFIG, PG_POOL } from '../infrastructure/tokens.js';
import { CLOCK, type Clock } from './clock.js';
import { CommandExecutor } from './command-executor.js';
import {
  ACCOUNT_SETTINGS_STATES,
  ACCOUNT_STATES,
  API_KEY_STATES,
  PROJECT_STATES,
  WEBHOOK_ENDPOINT_STATES,
} from './commands.tokens.js';
import { KeyLocks } from './key-locks.js';
import { SnapshotStore } from './snapshot.store.js';
import { RefusalRecords } from './refusals.js';
import { ApiExceptionFilter } from '../errors/api-exception.filter.js';
import {
  ACCOUNT_FOLD,
  ACCOUNT_SETTINGS_FOLD,
  API_KEY_FOLD,
  PROJECT_FOLD,
  WEBHOOK_ENDPOINT_FOLD,
} from './stream-folds.js';
import { StateCacheMemory, StreamStateCache, type StreamFold } from './stream-state.cache.js';

function stateCache<S>(token: symbol, fold: StreamFold<S>): Provider {
  return {
    provide: token,
    inject: [EVENT_STORE, SnapshotStore, StateCacheMemory],
    useFactory: (store: EventStore, snapshots: SnapshotStore, memory: StateCacheMemory) =>
      new StreamStateCache<S>(store, fold, snapshots, memory),
  };
}

/**
 * What every command needs: the executor, the state caches, the clock. The CQRS module
 * is here for the query bus, which every module's queries use.
 */
@Global()
@Module({
  imports: [CqrsModule.forRoot()],
  providers: [
    {
      provide: SnapshotStore,
      inject: [PG_POOL, PinoLogger],
      useFactory: (pool: pg.Pool, log: PinoLogger) => new SnapshotStore(pool, log.logger),
    },
    {
      // One bound for the states of every kind of stream together.
      provide: StateCacheMemory,
      inject: [LEDGER_CONFIG],
      useFactory: (config: LedgerConfig) => new StateCacheMemory(config.stateCacheMb * 1024 * 1024),
    },
    {
      provide: KeyLocks,
      inject: [LEDGER_CONFIG],
      useFactory: (config: LedgerConfig) => new KeyLocks(config.databaseUrl!),
    },
    stateCache<AccountState>(ACCOUNT_STATES, ACCOUNT_FOLD),
    stateCache<ProjectState>(PROJECT_STATES, PROJECT_FOLD),
    stateCache<ApiKeyState>(API_KEY_STATES, API_KEY_FOLD),
    stateCache<WebhookEndpointState>(WEBHOOK_ENDPOINT_STATES, WEBHOOK_ENDPOINT_FOLD),
    stateCache<AccountSettingsState>(ACCOUNT_SETTINGS_STATES, ACCOUNT_SETTINGS_FOLD),
    {
      provide: CommandExecutor,
      inject: [
        EVENT_STORE,
        ACCOUNT_STATES,
        PROJECT_STATES,
        CLOCK,
        PG_POOL,
        API_KEY_STATES,
        WEBHOOK_ENDPOINT_STATES,
        ACCOUNT_SETTINGS_STATES,
        KeyLocks,
      ],
      useFactory: (
        store: EventStore,
        account: StreamStateCache<AccountState>,
        project: StreamStateCache<ProjectState>,
        clock: Clock,
        pool: pg.Pool,
        apiKey: StreamStateCache<ApiKeyState>,
        webhookEndpoint: StreamStateCache<WebhookEndpointState>,
        accountSettings: StreamStateCache<AccountSettingsState>,
        keyLocks: KeyLocks,
      ) => {
        const filter = new ApiExceptionFilter();
        return new CommandExecutor(
          store,
          { account, project, apiKey, webhookEndpoint, accountSettings },
          clock,
          new RefusalRecords(pool),
          keyLocks,
          (violation, context) => filter.toResponse(violation, context.requestId),
        );
      },
    },
  ],
  exports: [CqrsModule, CommandExecutor, ACCOUNT_STATES, PROJECT_STATES],
})
export class CommandsModule implements OnApplicationShutdown {
  constructor(@Inject(KeyLocks) private readonly keyLocks: KeyLocks) {}

  /** Ending the lock session lets go of every key this replica still holds. */
  async onApplicationShutdown(): Promise<void> {
    await this.keyLocks.close();
  }
}
