import autocannon, { type Request, type Result } from 'autocannon';
import { BENCH_KEY } from './service.js';

export interface LoadResult {
  /** Completed operations per second (a cycle of three requests counts once). */
  perSecond: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  /** Status codes other than 2xx, by code: 402/409 are the expected refusals of a contended account. */
  refusals: Record<string, number>;
  errors: number;
}

let sequence = 0;
const unique = () => `${process.pid}-${++sequence}`;
const headers = { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' };

function post(
  path: (context: Record<string, unknown>) => string,
  body: (context: Record<string, unknown>) => object,
): Request {
  return {
    method: 'POST',
    setupRequest: (request, context) => ({
      ...request,
      path: path(context as Record<string, unknown>),
      headers: { ...headers, 'idempotency-key': unique() },
      body: JSON.stringify(body(context as Record<string, unknown>)),
    }),
  } as Request;
}

export type Scenario = 'grants' | 'start' | 'cycle' | 'hot' | 'http-ceiling';

/** The request sequence of a scenario; `accounts` have balance enough for every start. */
export function requestsOf(scenario: Scenario, accounts: number): Request[] {
  const account = () => `bench-${Math.floor(Math.random() * accounts)}`;
  switch (scenario) {
    case 'grants':
      return [
        post(
          () => `/v1/accounts/${account()}/grants`,
          () => ({ amount: 1, source: 'purchase' }),
        ),
      ];
    case 'start':
      return [
        post(
          () => '/v1/projects',
          () => ({ projectId: `p-${unique()}`, accountId: account(), cost: 1 }),
        ),
      ];
    case 'hot':
      return [
        post(
          () => '/v1/projects',
          () => ({ projectId: `p-${unique()}`, accountId: 'bench-hot', cost: 1 }),
        ),
      ];
    case 'cycle':
      return [
        post(
          () => '/v1/projects',
          (context) => {
            context.projectId = `c-${unique()}`;
            return { projectId: context.projectId, accountId: account(), cost: 2 };
          },
        ),
        post(
          (context) => `/v1/projects/${String(context.projectId)}/claim`,
          () => ({ workerId: 'bench-worker', leaseSeconds: 60 }),
        ),
        post(
          (context) => `/v1/projects/${String(context.projectId)}/complete`,
          () => ({ attempt: 1, creditsUsed: 1, assets: { assetUrl: 'https://cdn.test/a.png' } }),
        ),
      ];
    case 'http-ceiling':
      return [
        { method: 'POST', path: '/echo', headers, body: JSON.stringify({ projectId: 'p', accountId: 'a', cost: 1 }) },
      ];
  }
}

export async function load(
  url: string,
  scenario: Scenario,
  connections: number,
  seconds: number,
  options: { accounts?: number; overallRate?: number } = {},
): Promise<LoadResult> {
  const requests = requestsOf(scenario, options.accounts ?? 1000);
  const result: Result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
  });
  const refusals: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    if (!code.startsWith('2')) refusals[code] = Number(count);
  }
  const requestsPerSecond = result.requests.average;
  return {
    perSecond: requestsPerSecond / requests.length,
    requestsPerSecond,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    requests: result.requests.total,
    refusals,
    errors: result.errors + result.timeouts,
  };
}

/** Rounds of one load as one figure: the mean rate, the median of the rounds' latencies, every refusal. */
export function combineLoads(rounds: readonly LoadResult[]): LoadResult {
  const mean = (pick: (r: LoadResult) => number) => rounds.reduce((sum, r) => sum + pick(r), 0) / rounds.length;
  const median = (pick: (r: LoadResult) => number) => {
    const sorted = rounds.map(pick).sort((a, b) => a - b);
    const middle = sorted.length / 2;
    return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!;
  };
  const refusals: Record<string, number> = {};
  for (const r of rounds)
    for (const [code, n] of Object.entries(r.refusals)) refusals[code] = (refusals[code] ?? 0) + n;
  return {
    perSecond: mean((r) => r.perSecond),
    requestsPerSecond: mean((r) => r.requestsPerSecond),
    p50Ms: median((r) => r.p50Ms),
    p99Ms: median((r) => r.p99Ms),
    maxMs: Math.max(...rounds.map((r) => r.maxMs)),
    requests: rounds.reduce((sum, r) => sum + r.requests, 0),
    refusals,
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  };
}
