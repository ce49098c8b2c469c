import { randomUUID } from 'node:crypto';
import { WatchdogService, type WatchdogStatus } from '@ledger/ledger-api';
import { client, ManualClock, startTestApp, within, type TestApp } from '@ledger/test-support';

/**
 * Credit lots over HTTP, the command side (API.md "Credit lots"): grants as lots, a start
 * drawing in the spending order, refunds to their lots, expiry at the service clock's
 * `now` with no sweep needed, a refund after the expiry coming back expired, voids, and
 * many debits at once drawing in order. What the events say is read from the audit stream.
 */

type Api = ReturnType<typeof client>;
type AuditItem = { type: string; data: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- event data asserted field by field

async function accountEvents(api: Api, accountId: string): Promise<AuditItem[]> {
  const items: AuditItem[] = [];
  for (let from: number | null = 0; from !== null;) {
    const page = await api.get(`/v1/audit/streams/account-${accountId}?fromRevision=${from}&limit=1000`);
    expect(page.status).toBe(200);
    items.push(...(page.body.items as AuditItem[]));
    from = page.body.nextRevision as number | null;
  }
  return items;
}

/** Resolves once `check` holds (polled by the support's `within`); fails after `boundMs`. */
async function eventually(check: () => Promise<boolean>, boundMs = 10_000): Promise<void> {
  expect(await within(boundMs, check)).toBeDefined();
}

/** Resolves once the watchdog's status satisfies `predicate` (checked now and on every change). */
function until(watchdog: WatchdogService, predicate: (status: WatchdogStatus) => boolean): Promise<void> {
  return eventually(() => Promise.resolve(predicate(watchdog.status())));
}

const inSeconds = (clock: ManualClock, seconds: number) =>
  new Date(clock.now().getTime() + seconds * 1000).toISOString();

describe('credit lots: the command side over HTTP', () => {
  const clock = new ManualClock();
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    // No watchdog: these expiries are decided at `now`, never swept.
    t = await startTestApp('lots-commands', { clock, env: { LEDGER_WATCHDOG: 'off' } });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('draws promo then paid, returns them to their lots, refuses what expired, and expires a refund after the expiry', async () => {
    const accountId = `lots-${randomUUID()}`;
    const promo = await api.post(`/v1/accounts/${accountId}/grants`, {
      amount: 50,
      source: 'promo',
      grantId: 'promo-1',
      expiresAt: inSeconds(clock, 5),
    });
    expect(promo.status).toBe(201);
    expect(promo.body).toMatchObject({ accountId, grantId: 'promo-1', balance: 50 });
    const paid = await api.post(`/v1/accounts/${accountId}/grants`, {
      amount: 100,
      source: 'purchase',
      grantId: 'paid-1',
    });
    expect(paid.body).toMatchObject({ grantId: 'paid-1', balance: 150 });

    // A start draws the promotional lot (it expires; the paid one never does), then the paid one.
    const start = async (projectId: string, cost: number) =>
      api.post('/v1/projects', { projectId, accountId, cost, deadlineSeconds: 600 });
    expect((await start(`${accountId}-p1`, 80)).body).toMatchObject({ status: 'pending', balance: 70 });
    const cancel = async (projectId: string) =>
      api.post(`/v1/projects/${projectId}/fail`, { errorMessage: 'user cancelled' });
    const cancelled = await cancel(`${accountId}-p1`);
    expect(cancelled.body).toMatchObject({ status: 'failed', refunded: 80 });

    expect((await start(`${accountId}-p2`, 80)).status).toBe(201);
    // Past the promotional lot's expiry, with no sweep: only the paid credits can be spent.
    clock.advanceSeconds(5);
    const head = await api.head();
    const refused = await start(`${accountId}-p3`, 80);
    expect(refused.status).toBe(402);
    expect(refused.body.error).toMatchObject({ code: 'insufficient_credits', details: { balance: 70, amount: 80 } });
    expect(await api.head()).toBe(head);

    // The refund after the expiry: the paid part comes back spendable, the promotional part expired.
    const late = await cancel(`${accountId}-p2`);
    expect(late.body).toMatchObject({ status: 'failed', refunded: 80 });
    expect(
      (await api.post(`/v1/accounts/${accountId}/debits`, { amount: 100, reason: 'all that is left' })).body,
    ).toMatchObject({ balance: 0 });

    const events = (await accountEvents(api, accountId)).map(({ type, data }) => ({
      type,
      lots: data.lots,
      grantId: data.grantId,
      amount: data.amount,
    }));
    // Each start drew the promotional lot, then the paid one; each cancel gave back the last drawn first.
    const drawn = [
      { grantId: 'promo-1', amount: 50 },
      { grantId: 'paid-1', amount: 30 },
    ];
    const startThenCancel = [
      { type: 'Debited', amount: 80, grantId: undefined, lots: drawn },
      { type: 'Refunded', amount: 80, grantId: undefined, lots: [...drawn].reverse() },
    ];
    expect(events).toEqual([
      { type: 'CreditsGranted', grantId: 'promo-1', amount: 50, lots: undefined },
      { type: 'CreditsGranted', grantId: 'paid-1', amount: 100, lots: undefined },
      ...startThenCancel,
      ...startThenCancel,
      { type: 'CreditsExpired', grantId: 'promo-1', amount: 50, lots: undefined },
      { type: 'Debited', amount: 100, grantId: undefined, lots: [{ grantId: 'paid-1', amount: 100 }] },
    ]);
  });

  it('voids what remains of a lot, once; an expired lot or an unknown one is refused', async () => {
    const accountId = `void-${randomUUID()}`;
    const grants = `/v1/accounts/${accountId}/grants`;
    await api.post(grants, { amount: 40, source: 'adjustment', grantId: 'adj-1' });
    await api.post(grants, { amount: 10, source: 'promo', grantId: 'promo-1', expiresAt: inSeconds(clock, 60) });
    await api.post(`/v1/accounts/${accountId}/debits`, { amount: 15, reason: 'fee' });

    const voided = await api.post(`${grants}/promo-1/void`, { reason: 'campaign withdrawn' });
    expect(voided.status).toBe(200);
    // The fee drew the promotional lot first: nothing of it remains, yet it is voided.
    expect(voided.body).toMatchObject({ accountId, grantId: 'promo-1', voided: 0, balance: 35 });
    const paidVoid = await api.post(`${grants}/adj-1/void`, { reason: 'chargeback' });
    expect(paidVoid.body).toMatchObject({ grantId: 'adj-1', voided: 35, balance: 0 });

    const head = await api.head();
    const again = await api.post(`${grants}/adj-1/void`, { reason: 'chargeback' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'invalid_transition', details: { status: 'voided' } });
    expect((await api.post(`${grants}/nope/void`, { reason: 'x' })).status).toBe(404);
    expect((await api.post(`${grants}/adj-1/void`, {})).status).toBe(400);

    await api.post(grants, { amount: 5, source: 'promo', grantId: 'promo-2', expiresAt: inSeconds(clock, 1) });
    clock.advanceSeconds(1);
    const expired = await api.post(`${grants}/promo-2/void`, { reason: 'x' });
    expect(expired.status).toBe(409);
    expect(expired.body.error).toMatchObject({ code: 'invalid_transition', details: { status: 'expired' } });
    expect((await accountEvents(api, accountId)).filter((e) => e.type === 'GrantVoided').length).toBe(2);
    expect(await api.head()).toBeGreaterThan(head); // only the promo-2 grant was appended since
  });

  it('validates the lot fields, names a grant without grantId after its key, and refuses a grantId with another body', async () => {
    const accountId = `grant-${randomUUID()}`;
    const grants = `/v1/accounts/${accountId}/grants`;
    const head = await api.head();
    for (const bad of [
      { priority: 101 },
      { priority: 1.5 },
      { category: 'gift' },
      { grantId: 'has space' },
      { expiresAt: 'soon' },
      { expiresAt: inSeconds(clock, -1) },
      { expiresAt: inSeconds(clock, 11 * 366 * 24 * 3600) },
    ]) {
      const reply = await api.post(grants, { amount: 5, source: 'promo', ...bad });
      expect([reply.status, reply.body.error?.code]).toEqual([400, 'validation_failed']);
    }
    expect(await api.head()).toBe(head);

    const key = randomUUID();
    const first = await api.post(grants, { amount: 5, source: 'promo' }, { idempotencyKey: key });
    expect(first.status).toBe(201);
    expect(first.body.grantId).toMatch(/^grant-[0-9a-f]{32}$/);
    const repeat = await api.post(grants, { amount: 5, source: 'promo' }, { idempotencyKey: key });
    expect(repeat.body).toEqual(first.body);

    const body = { amount: 7, source: 'purchase', grantId: 'inv-1', priority: 20 };
    expect((await api.post(grants, body)).status).toBe(201);
    const sameHead = await api.head();
    // The same grant under a new key: a retry, nothing appended, the same lot.
    const retried = await api.post(grants, body);
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ grantId: 'inv-1', balance: 12 });
    const other = await api.post(grants, { ...body, amount: 8 });
    expect([other.status, other.body.error?.code]).toEqual([409, 'already_exists']);
    expect(await api.head()).toBeGreaterThan(sameHead); // the retry's idempotency record only
    expect((await accountEvents(api, accountId)).map((e) => e.type)).toEqual(['CreditsGranted', 'CreditsGranted']);
  });

  it('200 concurrent 1-credit debits over three lots leave every lot at or above zero, drawn in the spending order', async () => {
    const accountId = `hot-${randomUUID()}`;
    const grants = `/v1/accounts/${accountId}/grants`;
    await api.post(grants, { amount: 70, source: 'purchase', grantId: 'c-paid' });
    await api.post(grants, { amount: 70, source: 'promo', grantId: 'b-promo', expiresAt: inSeconds(clock, 3600) });
    await api.post(grants, { amount: 70, source: 'adjustment', grantId: 'a-first', priority: 0 });
    const replies = await Promise.all(
      Array.from({ length: 200 }, () => api.post(`/v1/accounts/${accountId}/debits`, { amount: 1, reason: 'tick' })),
    );
    expect(replies.map((r) => r.status).filter((s) => s !== 201)).toEqual([]);

    const draws = (await accountEvents(api, accountId))
      .filter((e) => e.type === 'Debited')
      .map((e) => e.data.lots as { grantId: string; amount: number }[]);
    expect(draws).toHaveLength(200);
    expect(draws.every((lots) => lots.length === 1 && lots[0]!.amount === 1)).toBe(true);
    // In the log's order: the priority-0 lot, then the expiring promotional one, then the paid one.
    const expected = [...Array(70).fill('a-first'), ...Array(70).fill('b-promo'), ...Array(60).fill('c-paid')];
    expect(draws.map((lots) => lots[0]!.grantId)).toEqual(expected);
    const last = await api.post(`/v1/accounts/${accountId}/debits`, { amount: 10, reason: 'the rest' });
    expect(last.body).toMatchObject({ balance: 0 });
    expect((await api.post(`/v1/accounts/${accountId}/debits`, { amount: 1, reason: 'one more' })).status).toBe(402);
  }, 60_000);
});

describe('credit lots: the expiry sweep', () => {
  const clock = new ManualClock();
  let t: TestApp;
  let api: Api;
  let watchdog: WatchdogService;

  beforeAll(async () => {
    // A long interval: after its first sweep the watchdog sweeps when the test says so.
    t = await startTestApp('lots-sweep', { clock, env: { LEDGER_WATCHDOG_INTERVAL_MS: String(60 * 60 * 1000) } });
    api = client(t);
    watchdog = t.app.get(WatchdogService);
  });
  afterAll(async () => {
    await t.close();
  });

  it('records CreditsExpired for what remains of a lot past its expiry, once', async () => {
    const accountId = `sweep-${randomUUID()}`;
    const grants = `/v1/accounts/${accountId}/grants`;
    await api.post(grants, { amount: 30, source: 'promo', grantId: 'promo-1', expiresAt: inSeconds(clock, 10) });
    await api.post(grants, { amount: 5, source: 'purchase', grantId: 'paid-1' });
    await api.post(`/v1/accounts/${accountId}/debits`, { amount: 12, reason: 'fee' });
    await until(watchdog, (s) => s.role === 'active');

    expect(await watchdog.sweep()).toMatchObject({ swept: true, lotsExpired: 0, errors: 0 });
    clock.advanceSeconds(10);
    // The sweep's candidates come from the lots read model: sweep until it has caught up.
    await eventually(async () => ((await watchdog.sweep()).lotsExpired ?? 0) === 1);
    const expired = (await accountEvents(api, accountId)).filter((e) => e.type === 'CreditsExpired');
    expect(expired.map((e) => e.data)).toEqual([{ grantId: 'promo-1', amount: 18 }]);
    // Once the read model shows the expiry, the lot is no candidate any more; before, a repeat
    // decision appends nothing (the lot is closed) and its key answers as the first time.
    await eventually(async () => (await watchdog.sweep()).lotsDue === 0);
    expect(watchdog.status()).toMatchObject({ lotsExpired: 1 });
    expect((await accountEvents(api, accountId)).filter((e) => e.type === 'CreditsExpired')).toHaveLength(1);
    const after = await api.post(`/v1/accounts/${accountId}/debits`, { amount: 5, reason: 'fee' });
    expect(after.body).toMatchObject({ balance: 0 });
  });
});
