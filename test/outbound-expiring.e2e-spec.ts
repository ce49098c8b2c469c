import { OutboundService } from '@ledger/ledger-api';
import { client, ManualClock, startTestApp, within, WebhookReceiver, type TestApp } from '@ledger/test-support';

const HOUR_S = 3600;

/** credits.expiring on a clock the test moves, and the dispatcher's fold against a redelivered event. */
describe('outbound credits.expiring and the dispatcher fold', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  let receiver: WebhookReceiver;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    t = await startTestApp('outbound_expiring', {
      clock,
      env: {
        LEDGER_OUTBOUND_ALLOW_PRIVATE: 'true',
        LEDGER_OUTBOUND_POLL_MS: '20',
        LEDGER_EXPIRY_NOTICE_HOURS: '1',
        LEDGER_WATCHDOG: 'off',
      },
    });
    api = client(t);
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  const outbound = () => t.app.get(OutboundService);

  /** Until the dispatcher has folded the whole log. */
  async function dispatched(): Promise<bigint> {
    const head = await api.head();
    expect(await within(20_000, async () => (await outbound().lagEvents()) === 0)).toBeDefined();
    return head;
  }

  it('judges a lot at the position its notice names: what remains after the debits folded before it', async () => {
    const registered = await api.post('/v1/webhook-endpoints', {
      url: receiver.url('/expiring'),
      events: ['credits.expiring'],
    });
    expect(registered.status).toBe(201);
    const expiresAt = new Date(clock.now().getTime() + 3 * HOUR_S * 1000).toISOString();
    const grant = await api.post('/v1/accounts/exp-2/grants', {
      amount: 40,
      source: 'promo',
      category: 'promotional',
      expiresAt,
    });
    expect(grant.status).toBe(201);
    expect((await api.post('/v1/accounts/exp-2/debits', { amount: 30, reason: 'fee' })).status).toBe(201);
    const events = await t.runtime.eventStore.readStream('account-exp-2');
    const granted = events.find((e) => e.type === 'CreditsGranted')!;
    const debited = events.find((e) => e.type === 'Debited')!;
    expect(debited.data.lots).toEqual([{ grantId: granted.data.grantId, amount: 30 }]);
    await dispatched();
    expect(receiver.received).toHaveLength(0); // 3 h away, the notice is 1 h before

    clock.advanceSeconds(2.5 * HOUR_S);
    await receiver.waitFor((received) => received.length >= 1);
    const notice = JSON.parse(receiver.received[0]!.body) as { type: string; data: Record<string, unknown> };
    expect(notice).toMatchObject({
      type: 'credits.expiring',
      data: { accountId: 'exp-2', grantId: granted.data.grantId, amount: 10, expiresAt },
    });
    // Not the grant's position: a receiver ordering by data.position has seen the debit already.
    expect(notice.data.position).toBeGreaterThanOrEqual(Number(debited.position));
  });

  it('skips an event at or below its checkpoint: a redelivered grant moves no balance and no checkpoint', async () => {
    // Balances are kept while an enabled endpoint needs them (credits.*, balance.low).
    const registered = await api.post('/v1/webhook-endpoints', {
      url: receiver.url('/granted'),
      events: ['credits.granted'],
    });
    expect(registered.status).toBe(201);
    expect((await api.post('/v1/accounts/redeliver-1/grants', { amount: 25, source: 'purchase' })).status).toBe(201);
    await dispatched();
    const [granted] = await t.runtime.eventStore.readStream('account-redeliver-1');
    const balance = async () =>
      (
        await t.runtime.pool.query<{ balance: string }>(
          'SELECT balance FROM ledger_api.outbound_accounts WHERE account_id = $1',
          ['redeliver-1'],
        )
      ).rows[0]?.balance;
    const checkpoint = async () =>
      (await t.runtime.pool.query<{ position: string }>('SELECT position FROM ledger_api.outbound_checkpoint')).rows[0]!
        .position;
    expect(await balance()).toBe('25');
    const before = await checkpoint();
    await outbound().dispatcher['inTurn'](() => outbound().dispatcher['apply']([granted!]));
    expect(await balance()).toBe('25');
    expect(await checkpoint()).toBe(before);
  });
});
