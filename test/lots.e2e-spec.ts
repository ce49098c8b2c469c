import { client, startTestApp, type Reply, type TestApp } from '@ledger/test-support';

/**
 * The query side of credit lots over HTTP: a paid lot and a promotional one that expires
 * in a few seconds, a project drawing from both and giving part back, a void, the
 * watchdog's expiry, and what the lots, the account, the ledger, a balance at an instant
 * and a statement (JSON and CSV) say of them; reconciliation clean at the end.
 */
describe('credit lots: the queries', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    t = await startTestApp('lots_queries', { env: { LEDGER_WATCHDOG_INTERVAL_MS: '100' } });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  /** A GET once the read models include every event appended so far (read-your-writes). */
  const read = async (url: string, headers?: Record<string, string>) =>
    api.get(`${url}${url.includes('?') ? '&' : '?'}minPosition=${await api.head()}`, {
      key: t.keys.read,
      ...(headers ? { headers } : {}),
    });
  const ok = (reply: Reply, status = 200) => {
    expect({ status: reply.status, body: reply.body }).toEqual({ status, body: expect.anything() });
    return reply.body;
  };

  /** Re-checks `check` until it holds (bounded): the expiry is the watchdog's, on its own schedule. */
  async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('the condition never held');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const account = 'lots-e2e';
  const base = `/v1/accounts/${account}`;
  let before: string;
  let promoExpiresAt: string;

  it('lists the lots in the spending order, and the account adds paid, promotional and the next expiry', async () => {
    before = new Date().toISOString();
    // Instants strictly after `before` (the service's clock is this one).
    await new Promise((resolve) => setTimeout(resolve, 5));
    promoExpiresAt = new Date(Date.now() + 4_000).toISOString();
    ok(await api.post(`${base}/grants`, { amount: 100, source: 'purchase', grantId: 'paid-1' }), 201);
    ok(
      await api.post(`${base}/grants`, {
        amount: 50,
        source: 'promo',
        grantId: 'promo-1',
        expiresAt: promoExpiresAt,
      }),
      201,
    );
    // A start draws the promotional lot (it expires first) and then the paid one.
    ok(await api.post('/v1/projects', { projectId: 'lots-e2e-p', accountId: account, cost: 70 }), 201);
    const debit = ok(await read(`${base}/ledger?limit=1`)).items[0];
    expect(debit).toMatchObject({
      type: 'Debited',
      amount: 70,
      balanceAfter: 80,
      paidAfter: 80,
      promotionalAfter: 0,
      lots: [
        { grantId: 'promo-1', amount: 50 },
        { grantId: 'paid-1', amount: 20 },
      ],
    });
    // Used 40 of 70: 30 back, the last drawn first (the paid 20, then 10 promotional).
    ok(await api.post('/v1/projects/lots-e2e-p/claim', { workerId: 'w', leaseSeconds: 60 }));
    ok(await api.post('/v1/projects/lots-e2e-p/complete', { attempt: 1, creditsUsed: 40 }));

    expect(ok(await read(`${base}/lots`))).toEqual({
      items: [
        lot('promo-1', 'promotional', 'promo', 50, 10, promoExpiresAt, 'active'),
        lot('paid-1', 'paid', 'purchase', 100, 100, null, 'active'),
      ],
      nextCursor: null,
    });
    const firstPage = ok(await read(`${base}/lots?limit=1`));
    expect(firstPage.items.map((l: { grantId: string }) => l.grantId)).toEqual(['promo-1']);
    const secondPage = ok(await read(`${base}/lots?limit=1&cursor=${firstPage.nextCursor}`));
    expect(secondPage).toEqual({ items: [expect.objectContaining({ grantId: 'paid-1' })], nextCursor: null });

    expect(ok(await read(base))).toEqual(
      expect.objectContaining({
        accountId: account,
        balance: 110,
        paid: 100,
        promotional: 10,
        totalGranted: 150,
        totalDebited: 70,
        totalRefunded: 30,
        totalExpired: 0,
        totalVoided: 0,
        expiringNext: { at: promoExpiresAt, amount: 10 },
      }),
    );
  });

  it('shows a void and, once the watchdog records it, the expiry in the lots, the account and the ledger', async () => {
    ok(await api.post(`${base}/grants`, { amount: 20, source: 'adjustment', grantId: 'adj-1' }), 201);
    ok(await api.post(`${base}/grants/adj-1/void`, { reason: 'granted twice' }));
    expect(ok(await read(`${base}/lots?status=voided`)).items).toEqual([
      lot('adj-1', 'paid', 'adjustment', 20, 0, null, 'voided'),
    ]);

    await eventually(async () => ok(await read(`${base}/lots?status=expired`)).items.length > 0);
    expect(ok(await read(`${base}/lots?status=expired`)).items).toEqual([
      lot('promo-1', 'promotional', 'promo', 50, 0, promoExpiresAt, 'expired'),
    ]);
    expect(ok(await read(`${base}/lots`)).items.map((l: { grantId: string }) => l.grantId)).toEqual(['paid-1']);
    expect(ok(await read(base))).toEqual(
      expect.objectContaining({
        balance: 100,
        paid: 100,
        promotional: 0,
        totalGranted: 170,
        totalExpired: 10,
        totalVoided: 20,
        expiringNext: null,
      }),
    );
    const latest = ok(await read(`${base}/ledger?limit=2`)).items;
    expect(latest).toEqual([
      expect.objectContaining({ type: 'CreditsExpired', amount: 10, grantId: 'promo-1', balanceAfter: 100 }),
      expect.objectContaining({ type: 'GrantVoided', amount: 20, grantId: 'adj-1', reason: 'granted twice' }),
    ]);
  });

  it('answers the balance at an instant: zero before the first entry, the balances of the last one after', async () => {
    expect(ok(await read(`${base}/balance?at=${before}`))).toEqual({
      accountId: account,
      at: before,
      balance: 0,
      paid: 0,
      promotional: 0,
      position: 0,
    });
    const now = new Date().toISOString();
    const [last] = ok(await read(`${base}/ledger?limit=1`)).items;
    expect(ok(await read(`${base}/balance?at=${now}`))).toEqual({
      accountId: account,
      at: now,
      balance: 100,
      paid: 100,
      promotional: 0,
      position: last.position,
    });
  });

  it('gives a statement whose totals add up, as JSON and as CSV', async () => {
    const to = new Date().toISOString();
    const statement = ok(await read(`${base}/statement?from=${before}&to=${to}`));
    expect(statement).toEqual(
      expect.objectContaining({
        accountId: account,
        from: before,
        to,
        opening: { balance: 0, paid: 0, promotional: 0 },
        closing: { balance: 100, paid: 100, promotional: 0 },
        totals: { granted: 170, debited: 70, refunded: 30, expired: 10, voided: 20 },
      }),
    );
    const { opening, closing, totals } = statement;
    expect(closing.balance).toBe(
      opening.balance + totals.granted - totals.debited + totals.refunded - totals.expired - totals.voided,
    );
    expect(statement.entries.map((e: { type: string }) => e.type)).toEqual([
      'CreditsGranted',
      'CreditsGranted',
      'Debited',
      'Refunded',
      'CreditsGranted',
      'GrantVoided',
      'CreditsExpired',
    ]);
    expect(statement.entries).toEqual(ok(await read(`${base}/ledger?order=asc`)).items);

    const csv = await t.app.inject({
      method: 'GET',
      url: `${base}/statement?from=${before}&to=${to}`,
      headers: { authorization: `Bearer ${t.keys.read}`, accept: 'text/csv' },
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'position,at,type,amount,balanceAfter,paidAfter,promotionalAfter,grantId,projectId,reason,source,reference,lots',
    );
    expect(lines).toHaveLength(1 + statement.entries.length);
    expect(lines[3]).toContain(',Debited,70,80,80,0,,lots-e2e-p,project_started,,,');
    expect(lines[3]).toContain('"[{""grantId"":""promo-1"",""amount"":50},{""grantId"":""paid-1"",""amount"":20}]"');

    // A period before the account: opening and closing zero, no entries.
    const empty = ok(await read(`${base}/statement?from=2020-01-01T00:00:00.000Z&to=${before}`));
    expect(empty).toMatchObject({ closing: { balance: 0 }, entries: [], totals: { granted: 0 } });
  });

  it('refuses bad parameters (400) and unknown accounts (404)', async () => {
    const bad = [
      `${base}/balance`,
      `${base}/balance?at=yesterday`,
      `${base}/balance?at=2030-01-01T00:00:00`,
      `${base}/statement?from=${before}`,
      `${base}/statement?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z`,
      `${base}/lots?status=spent`,
      `${base}/lots?cursor=nope`,
    ];
    for (const url of bad) {
      const reply = await read(url);
      expect({ url, status: reply.status, code: reply.body.error?.code }).toEqual({
        url,
        status: 400,
        code: 'validation_failed',
      });
    }
    const at = new Date().toISOString();
    for (const path of ['lots', `balance?at=${at}`, `statement?from=${before}&to=${at}`]) {
      const reply = await read(`/v1/accounts/nobody/${path}`);
      expect({ path, status: reply.status, code: reply.body.error?.code }).toEqual({
        path,
        status: 404,
        code: 'not_found',
      });
    }
  });

  it('reconciles clean: the lots agree with a fold of the log', async () => {
    const reconciliation = ok(
      await api.get(`/v1/audit/reconciliation?minPosition=${await api.head()}&waitMs=10000`, { key: t.keys.audit }),
    );
    expect(reconciliation).toMatchObject({ mismatches: [], violations: [] });
    expect(reconciliation.checkedAccounts).toBeGreaterThanOrEqual(1);
  });
});

function lot(
  grantId: string,
  category: string,
  source: string,
  granted: number,
  remaining: number,
  expiresAt: string | null,
  status: string,
) {
  return {
    grantId,
    category,
    source,
    reference: null,
    priority: 50,
    granted,
    remaining,
    expiresAt,
    status,
    grantedAt: expect.any(String),
  };
}
