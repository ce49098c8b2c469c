import { Global, Module, type Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { PinoLogger } from 'nestjs-pino';
import type pg from 'pg';
import {
  evolveAccount,
  evolveProject,
  initialAccountState,
  initialProjectState,
  type AccountEvent,
  type AccountState,
  type ProjectEvent,
  type ProjectState,
} from '@ledger/domain';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { PG_POOL } from '../infrastructure/tokens.js';
import { CLOCK, type Clock } from './clock.js';
import { CommandExecutor } from './command-executor.js';
import { ACCOUNT_STATES, PROJECT_STATES } from './commands.tokens.js';
import { SnapshotStore } from './snapshot.store.js';
import { RefusalRecords } from './refusals.js';
import { ApiExceptionFilter } from '../errors/api-exception.filter.js';
import { StreamStateCache, type StreamFold } from './stream-state.cache.js';

// Bump when evolve changes what it builds: snapshots of another version are ignored.
const ACCOUNT_FOLD_VERSION = 1;
// 3: a completed project keeps its current assets (ProjectAssetsAttached).
const PROJECT_FOLD_VERSION = 3;

function stateCache<S>(token: symbol, fold: StreamFold<S>): Provider {
  return {
    provide: token,
    inject: [EVENT_STORE, SnapshotStore],
    useFactory: (store: EventStore, snapshots: SnapshotStore) => new StreamStateCache<S>(store, fold, snapshots),
  };
}

/** What every command handler needs: the executor, the state caches, the clock. */
@Global()
@Module({
  imports: [CqrsModule.forRoot()],
  providers: [
    {
      provide: SnapshotStore,
      inject: [PG_POOL, PinoLogger],
      useFactory: (pool: pg.Pool, log: PinoLogger) => new SnapshotStore(pool, log.logger),
    },
    stateCache<AccountState>(ACCOUNT_STATES, {
      kind: 'account',
      version: ACCOUNT_FOLD_VERSION,
      initial: initialAccountState,
      evolve: (state, event) => evolveAccount(state, event as AccountEvent),
    }),
    stateCache<ProjectState>(PROJECT_STATES, {
      kind: 'project',
      version: PROJECT_FOLD_VERSION,
      initial: initialProjectState,
      evolve: (state, event) => evolveProject(state, event as ProjectEvent),
    }),
    {
      provide: CommandExecutor,
      inject: [EVENT_STORE, ACCOUNT_STATES, PROJECT_STATES, CLOCK, PG_POOL],
      useFactory: (
        store: EventStore,
        accounts: StreamStateCache<AccountState>,
        projects: StreamStateCache<ProjectState>,
        clock: Clock,
        pool: pg.Pool,
      ) =>
        new CommandExecutor(store, accounts, projects, clock, new RefusalRecords(pool), (violation) =>
          new ApiExceptionFilter().toResponse(violation),
        ),
    },
  ],
  exports: [CqrsModule, CommandExecutor, ACCOUNT_STATES, PROJECT_STATES],
})
export class CommandsModule {}
