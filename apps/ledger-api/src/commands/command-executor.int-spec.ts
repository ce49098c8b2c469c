import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrate } from '@ledger/platform';
import { PostgresEventStore } from '@ledger/event-store';
import {
  RuleViolation,
  decideGrantCredits,
  evolveAccount,
  evolveProject,
  initialAccountState,
  initialProjectState,
  accountStream,
  type AccountEvent,
  type AccountState,
  type ProjectEvent,
  type ProjectState,
} from '@ledger/domain';
import { createTestDatabase } from '@ledger/test-support';
import { ApiExceptionFilter } from '../errors/api-exception.filter.js';
import { CommandExecutor, type CommandPlan } from './command-executor.js';
import { requestHash, type CommandContext } from './idempotency.js';
import { RecordedRefusal, RefusalRecords } from './refusals.js';
import { SnapshotStore, ledgerApiMigrations } from './snapshot.store.js';
import { StreamStateCache } from './stream-state.cache.js';

/** Two executors on one database stand for two replicas of the service. */
describe('CommandExecutor: one answer per idempotency key across replicas', () => {
  let store: PostgresEventStore;
  let pool: pg.Pool;

  beforeAll(async () => {
    const url = await createTestDatabase('executor');
    store = await PostgresEventStore.connect({ connectionString: url });
    pool = new pg.Pool({ connectionString: url });
    await migrate(pool, ledgerApiMigrations);
  });
  afterAll(async () => {
    await store.close();
    await pool.end();
  });

  function replica(): CommandExecutor {
    const snapshots = new SnapshotStore(pool, { warn: () => undefined });
    const accounts = new StreamStateCache<AccountState>(
      store,
      {
        kind: 'account',
        version: 1,
        initial: initialAccountState,
        evolve: (s, e) => evolveAccount(s, e as AccountEvent),
      },
      snapshots,
    );
    const projects = new StreamStateCache<ProjectState>(
      store,
      {
        kind: 'project',
        version: 1,
        initial: initialProjectState,
        evolve: (s, e) => evolveProject(s, e as ProjectEvent),
      },
      snapshots,
    );
    const filter = new ApiExceptionFilter();
    return new CommandExecutor(store, accounts, projects, { now: () => new Date() }, new RefusalRecords(pool), (v) =>
      filter.toResponse(v),
    );
  }

  const context = (key: string): CommandContext => ({
    caller: 'svc',
    idempotencyKey: key,
    requestHash: requestHash('POST', '/x', { key }),
    correlationId: 'c',
  });

  const grant = (accountId: string): CommandPlan => ({
    serializeOn: accountStream(accountId),
    reads: [accountStream(accountId)],
    decide: async (loads) => {
      const decision = decideGrantCredits(await loads.account(accountId), {
        type: 'GrantCredits',
        accountId,
        amount: 5,
        source: 'promo',
      });
      return { accountId, account: decision.account, outcome: { status: 201, body: decision.reply } };
    },
  });

  it('answers a refusal with the acceptance another replica made of the same key meanwhile', async () => {
    const accountId = `acc-${randomUUID()}`;
    const key = context(randomUUID());
    const other = replica();
    let accepted: Awaited<ReturnType<CommandExecutor['execute']>> | undefined;
    const answer = await replica().execute(key, {
      serializeOn: accountStream(accountId),
      decide: async () => {
        // The other replica accepts the same key while this one decides, and this one says no.
        accepted = await other.execute(key, grant(accountId));
        throw new RuleViolation('insufficient_credits', 'no');
      },
    });
    expect(answer).toEqual(accepted);
    const { rowCount } = await pool.query('SELECT 1 FROM ledger_api.refusals WHERE idempotency_key = $1', [
      key.idempotencyKey,
    ]);
    expect(rowCount).toBe(0);
    // And every later repeat gets the acceptance too.
    await expect(replica().execute(key, grant(accountId))).resolves.toEqual(accepted);
  });

  it('keeps a refusal nobody accepted, and answers repeats with it', async () => {
    const accountId = `acc-${randomUUID()}`;
    const key = context(randomUUID());
    const refuse: CommandPlan = {
      serializeOn: accountStream(accountId),
      decide: async () => {
        throw new RuleViolation('insufficient_credits', 'no');
      },
    };
    await expect(replica().execute(key, refuse)).rejects.toBeInstanceOf(RuleViolation);
    const repeat = await replica()
      .execute(key, grant(accountId))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(repeat).toBeInstanceOf(RecordedRefusal);
    expect((repeat as RecordedRefusal).outcome.status).toBe(402);
  });
});
