import { randomUUID } from 'node:crypto';
import { accountStream } from '@ledger/domain';
import { client, startTestApp, within, type Reply, type TestApp } from '@ledger/test-support';

// Starting a replica under a loaded suite takes seconds, not the default 5.
const START_TIMEOUT_MS = 60_000;
const ROUNDS = 200;
// A repeat answered 409 request_in_flight is sent again until the first request's answer comes (bounded).
const IN_FLIGHT_BOUND_MS = 10_000;

/**
 * Two replicas on one database receive the same Idempotency-Key at the same moment, round
 * after round, with a command whose second application would be refused. Odd rounds: a
 * debit of the whole balance. Even rounds: a debit of more than the balance while a grant
 * (another key) lands at the same moment, so the debit is accepted or refused depending on
 * when it is decided (without the key locks, one replica refused it while the other applied
 * it, from the first round on). The two answers must be one answer (or one is 409
 * request_in_flight, and its retry gets the other's answer), and the command applied
 * exactly once when accepted, never when refused.
 */
describe('one answer per idempotency key across replicas', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await startTestApp('key_replicas');
    b = await startTestApp('key_replicas_b', { databaseUrl: a.runtime.databaseUrl });
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  }, START_TIMEOUT_MS);

  it(
    `gives both replicas the same answer for the same key, ${ROUNDS} rounds`,
    async () => {
      const onA = client(a);
      const onB = client(b);
      const tally = { accepted: 0, refused: 0, inFlight: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        const accountId = `acc-${round}-${randomUUID().slice(0, 8)}`;
        const url = `/v1/accounts/${accountId}/debits`;
        expect((await onA.post(`/v1/accounts/${accountId}/grants`, { amount: 6, source: 'promo' })).status).toBe(201);
        const key = `debit-${round}-${randomUUID()}`;
        const racing = round % 2 === 0;
        const debit = racing ? { amount: 10, reason: 'more than the balance' } : { amount: 6, reason: 'all of it' };
        const grantOn = round % 4 === 0 ? onA : onB;
        const [first, second, grant] = await Promise.all([
          onA.post(url, debit, { idempotencyKey: key }),
          onB.post(url, debit, { idempotencyKey: key }),
          racing ? grantOn.post(`/v1/accounts/${accountId}/grants`, { amount: 6, source: 'promo' }) : undefined,
        ]);
        if (grant) expect(grant.status).toBe(201);
        if ([first, second].some(inFlight)) tally.inFlight++;
        const answers = [await settled(first, () => onA.post(url, debit, { idempotencyKey: key }))];
        answers.push(await settled(second, () => onB.post(url, debit, { idempotencyKey: key })));
        // One answer: the same status and the same body, whichever replica gave it.
        expect({ round, status: answers[1]!.status, body: answers[1]!.body }).toEqual({
          round,
          status: answers[0]!.status,
          body: answers[0]!.body,
        });
        expect([201, 402]).toContain(answers[0]!.status);
        // And once more on each replica, now that both are done: still that answer.
        for (const api of [onA, onB]) {
          const repeat = await api.post(url, debit, { idempotencyKey: key });
          expect({ round, status: repeat.status, body: repeat.body }).toEqual({
            round,
            status: answers[0]!.status,
            body: answers[0]!.body,
          });
        }
        // Applied exactly once when accepted, never when refused.
        const events = await a.runtime.eventStore.readStream(accountStream(accountId));
        const debits = events.filter((e) => e.type === 'Debited' && e.metadata.idempotencyKey === key);
        expect({ round, debits: debits.length }).toEqual({ round, debits: answers[0]!.status === 201 ? 1 : 0 });
        if (answers[0]!.status === 201) tally.accepted++;
        else tally.refused++;
      }
      // Both outcomes were met, so both kinds of answer were compared.
      expect(tally.accepted).toBeGreaterThan(0);
      expect(tally.refused).toBeGreaterThan(0);
      // Seen with `--verbose`: how the rounds went.
      console.log(`key across replicas: ${JSON.stringify(tally)}`);
    },
    START_TIMEOUT_MS * 3,
  );
});

function inFlight(reply: Reply): boolean {
  return reply.status === 409 && reply.body.error?.code === 'request_in_flight';
}

/**
 * The answer a request comes to: a 409 request_in_flight says the first request with the key
 * is still running on another replica; the client sends the same request again after
 * Retry-After (here at once, repeatedly, within a bound) and gets the first one's answer.
 */
async function settled(reply: Reply, again: () => Promise<Reply>): Promise<Reply> {
  let answer = reply;
  if (!inFlight(answer)) return answer;
  expect(answer.headers['retry-after']).toBe('1');
  await within(IN_FLIGHT_BOUND_MS, async () => {
    answer = await again();
    return !inFlight(answer);
  });
  return answer;
}
