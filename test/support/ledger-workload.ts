import { randomUUID } from 'node:crypto';
import type { EventStore, StoredEvent, StreamAppend } from '@ledger/event-store';

interface ModelProject {
  id: string;
  accountId: string;
  cost: number;
  status: 'pending' | 'processing' | 'completed' | 'failed';
  attempt: number;
}

/**
 * A writer of valid ledger event sequences (grants, starts with their debit,
 * claims, partial completions and failures with their refunds), appended the
 * way the command handlers do: every step one atomic append.
 */
export class LedgerWorkload {
  private readonly balances = new Map<string, number>();
  private readonly projects: ModelProject[] = [];
  appended = 0;

  constructor(
    private readonly store: EventStore,
    private readonly accounts = 12,
  ) {}

  async step(): Promise<void> {
    const streams = this.next();
    await this.store.append(streams);
    this.appended += streams.reduce((n, s) => n + s.events.length, 0);
  }

  private next(): StreamAppend[] {
    const r = Math.random();
    const open = this.projects.filter((p) => p.status === 'pending' || p.status === 'processing');
    const accountId = `acc-${Math.floor(Math.random() * this.accounts)}`;
    const balance = this.balances.get(accountId) ?? 0;
    if (r < 0.25 || balance < 10) return this.grant(accountId, 1 + Math.floor(Math.random() * 100));
    if (r < 0.5 || open.length === 0)
      return this.start(accountId, 1 + Math.floor(Math.random() * Math.min(balance, 40)));
    const project = open[Math.floor(Math.random() * open.length)]!;
    if (project.status === 'pending' && r < 0.75) return this.claim(project);
    if (project.status === 'processing' && r < 0.85) return this.complete(project);
    return this.fail(project);
  }

  private grant(accountId: string, amount: number): StreamAppend[] {
    this.balances.set(accountId, (this.balances.get(accountId) ?? 0) + amount);
    return [append(`account-${accountId}`, event('CreditsGranted', { amount, source: 'purchase' }))];
  }

  private start(accountId: string, cost: number): StreamAppend[] {
    const project: ModelProject = { id: `prj-${randomUUID()}`, accountId, cost, status: 'pending', attempt: 0 };
    this.projects.push(project);
    this.balances.set(accountId, this.balances.get(accountId)! - cost);
    return [
      append(
        `account-${accountId}`,
        event('Debited', { amount: cost, projectId: project.id, reason: 'project_started' }),
      ),
      append(
        `project-${project.id}`,
        event('ProjectStarted', { accountId, cost, deadlineAt: '2030-01-01T00:00:00.000Z' }),
      ),
    ];
  }

  private claim(project: ModelProject): StreamAppend[] {
    project.status = 'processing';
    project.attempt++;
    return [
      append(
        `project-${project.id}`,
        event('ProjectClaimed', {
          attempt: project.attempt,
          workerId: 'w',
          leaseExpiresAt: '2030-01-01T00:00:00.000Z',
        }),
      ),
    ];
  }

  private complete(project: ModelProject): StreamAppend[] {
    const creditsUsed = Math.floor(Math.random() * (project.cost + 1));
    project.status = 'completed';
    const streams = [
      append(
        `project-${project.id}`,
        event('ProjectCompleted', {
          attempt: project.attempt,
          creditsUsed,
          assets: { assetUrl: 'https://cdn.test/x' },
        }),
      ),
    ];
    if (creditsUsed < project.cost) streams.push(this.refund(project, project.cost - creditsUsed, 'partial_use'));
    return streams;
  }

  private fail(project: ModelProject): StreamAppend[] {
    project.status = 'failed';
    return [
      append(`project-${project.id}`, event('ProjectFailed', { code: 'failed', errorMessage: 'boom' })),
      this.refund(project, project.cost, 'project_failed'),
    ];
  }

  private refund(project: ModelProject, amount: number, reason: string): StreamAppend {
    this.balances.set(project.accountId, this.balances.get(project.accountId)! + amount);
    return append(`account-${project.accountId}`, event('Refunded', { amount, projectId: project.id, reason }));
  }
}

function event(type: string, data: Record<string, unknown>) {
  return { id: randomUUID(), type, data };
}

function append(streamName: string, ...events: ReturnType<typeof event>[]): StreamAppend {
  return { streamName, expectedRevision: 'any', events };
}

export interface ExpectedTables {
  balances: Map<string, { balance: number; granted: number; debited: number; refunded: number }>;
  entries: Map<string, { accountId: string; balanceAfter: number }>;
  projects: Map<string, { status: string; refunded: number; creditsUsed: number | null; attempt: number }>;
}

/** The read models as a plain fold of the events, computed apart from the projections' SQL. */
export function foldExpected(events: readonly StoredEvent[]): ExpectedTables {
  const expected: ExpectedTables = { balances: new Map(), entries: new Map(), projects: new Map() };
  for (const e of events) {
    const amount = e.data.amount as number;
    if (e.streamName.startsWith('account-')) {
      const accountId = e.streamName.slice('account-'.length);
      const b = expected.balances.get(accountId) ?? { balance: 0, granted: 0, debited: 0, refunded: 0 };
      if (e.type === 'CreditsGranted') Object.assign(b, { balance: b.balance + amount, granted: b.granted + amount });
      if (e.type === 'Debited') Object.assign(b, { balance: b.balance - amount, debited: b.debited + amount });
      if (e.type === 'Refunded') Object.assign(b, { balance: b.balance + amount, refunded: b.refunded + amount });
      expected.balances.set(accountId, b);
      expected.entries.set(e.position.toString(), { accountId, balanceAfter: b.balance });
      if (e.type === 'Refunded') expected.projects.get(e.data.projectId as string)!.refunded += amount;
    } else if (e.streamName.startsWith('project-')) {
      const id = e.streamName.slice('project-'.length);
      const p = expected.projects.get(id) ?? { status: 'pending', refunded: 0, creditsUsed: null, attempt: 0 };
      if (e.type === 'ProjectClaimed') Object.assign(p, { status: 'processing', attempt: e.data.attempt as number });
      if (e.type === 'ProjectCompleted')
        Object.assign(p, { status: 'completed', creditsUsed: e.data.creditsUsed as number });
      if (e.type === 'ProjectFailed') p.status = 'failed';
      expected.projects.set(id, p);
    }
  }
  return expected;
}
