import pg from 'pg';
import { OutboundService } from '@ledger/ledger-api';
import { client, startTestApp, within, WebhookReceiver, type TestApp } from '@ledger/test-support';

/**
 * What the outbound dispatcher costs a command when it has nothing to do: no transaction
 * for a batch that owes nothing, no balance kept while no endpoint needs one; and, once an
 * endpoint needs them again, balances exact from its first event on.
 */
describe('outbound dispatcher with little or nothing to do', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    t = await startTestApp('outbound_idle', {
      env: { LEDGER_OUTBOUND_ALLOW_PRIVATE: 'true', LEDGER_OUTBOUND_POLL_MS: '20', LEDGER_WATCHDOG: 'off' },
    });
    api = client(t);
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  const outbound = () => t.app.get(OutboundService);
  const committedCheckpoint = async () =>
    BigInt(
      (await t.runtime.pool.query<{ position: string }>('SELECT position FROM ledger_api.outbound_checkpoint')).rows[0]!
        .position,
    );

  async function register(path: string, events: string[]): Promise<string> {
    const answer = await api.post('/v1/webhook-endpoints', { url: receiver.url(path), events });
    expect(answer.status).toBe(201);
    return answer.body.endpointId as string;
  }

  /** Every statement any pg client of this process sends while `work` runs. */
  async function statementsOf(work: () => Promise<void>): Promise<string[]> {
    const statements: string[] = [];
    const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const query = prototype.query;
    prototype.query = function (this: unknown, ...args: unknown[]) {
      const text = args[0];
      statements.push(typeof text === 'string' ? text : String((text as { text?: unknown })?.text));
      return query.apply(this, args);
    };
    try {
      await work();
    } finally {
      prototype.query = query;
    }
    return statements;
  }

  it('opens no transaction and keeps no balance for batches that owe nothing, and still commits its checkpoint', async () => {
    // An endpoint of project events only: account events owe it nothing, and need no balance.
    await register('/projects', ['project.started']);
    const statements = await statementsOf(async () => {
      expect((await api.post('/v1/accounts/idle-1/grants', { amount: 100, source: 'purchase' })).status).toBe(201);
      for (let i = 0; i < 10; i++) {
        expect((await api.post('/v1/accounts/idle-1/debits', { amount: 1, reason: 'use' })).status).toBe(201);
      }
      const head = await api.head();
      expect(await within(20_000, async () => outbound().dispatcher.position >= head)).toBeDefined();
    });
    const onOutbound = (pattern: RegExp) => statements.filter((s) => pattern.test(s));
    // A batch's transaction starts by locking the checkpoint: none was opened.
    expect(onOutbound(/outbound_checkpoint WHERE id = 1 FOR UPDATE/)).toEqual([]);
    expect(onOutbound(/outbound_accounts/)).toEqual([]);
    const balanceRow = await t.runtime.pool.query('SELECT 1 FROM ledger_api.outbound_accounts WHERE account_id = $1', [
      'idle-1',
    ]);
    expect(balanceRow.rowCount).toBe(0);
    // The checkpoint is written late, not never: lag and a restart see the whole log taken in.
    const head = await api.head();
    expect(await within(5_000, async () => (await committedCheckpoint()) >= head)).toBeDefined();
    expect(await outbound().lagEvents()).toBe(0);
  });

  it('keeps balances again from the first event after an endpoint that needs them is enabled, exact', async () => {
    const endpointId = await register('/money', ['credits.granted', 'credits.debited', 'balance.low']);
    // Kept while the endpoint is enabled: 100.
    expect((await api.post('/v1/accounts/idle-3/grants', { amount: 100, source: 'purchase' })).status).toBe(201);
    expect((await api.post(`/v1/webhook-endpoints/${endpointId}/disable`, {})).status).toBe(200);
    // Not kept while it is disabled: the kept 100 goes stale (40), and idle-2 is never kept (70).
    expect((await api.post('/v1/accounts/idle-3/debits', { amount: 60, reason: 'use' })).status).toBe(201);
    const settings = await api.post('/v1/accounts/idle-2/settings', { lowBalanceThreshold: 50 }, { key: t.keys.grant });
    expect(settings.status).toBe(200);
    expect((await api.post('/v1/accounts/idle-2/grants', { amount: 100, source: 'purchase' })).status).toBe(201);
    expect((await api.post('/v1/accounts/idle-2/debits', { amount: 30, reason: 'use' })).status).toBe(201);
    expect((await api.post(`/v1/webhook-endpoints/${endpointId}/enable`, {})).status).toBe(200);
    // Enabled again: each balance is folded from its stream, the threshold kept throughout.
    expect((await api.post('/v1/accounts/idle-3/grants', { amount: 5, source: 'purchase' })).status).toBe(201);
    expect((await api.post('/v1/accounts/idle-2/debits', { amount: 30, reason: 'use' })).status).toBe(201);
    const mine = () =>
      receiver.received
        .filter((r) => r.path === '/money')
        .map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
    await receiver.waitFor(() => mine().length >= 4);
    const seen = mine()
      .sort((a, b) => Number(a.data.position) - Number(b.data.position) || a.type.localeCompare(b.type))
      .map((m) => [m.type, m.data.accountId, m.data.balanceAfter ?? m.data.balance]);
    expect(seen).toEqual([
      ['credits.granted', 'idle-3', 100],
      ['credits.granted', 'idle-3', 45],
      ['balance.low', 'idle-2', 40],
      ['credits.debited', 'idle-2', 40],
    ]);
  });
});
