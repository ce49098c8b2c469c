import { randomUUID } from 'node:crypto';
import type { EventStore, StoredEvent, StreamAppend } from '@ledger/event-store';

interface ModelProject {
  id: string;
  accountId: string;
  cost: number;
  status: 'pending' | 'processing' | 'completed' | 'failed';
  attempt: number;
  /** What its debit drew from each lot (accounts written with lots). */
  draws?: { grantId: string; amount: number }[];
}

interface ModelLot {
  grantId: string;
  remaining: number;
  closed?: 'CreditsExpired' | 'GrantVoided';
}

/**
 * Accounts with an odd number are written as before lots (no lot fields, debits and
 * refunds that name no lots); the others with lots: grants of both categories,
 * priorities and expiries, debits and refunds naming their lots, expiries and voids.
 * The draws are not in the spending order: the projections apply what events name.
 */
function withLots(accountId: string): boolean {
  return Number(accountId.slice('acc-'.length)) % 2 === 0;
}

/**
 * A writer of valid ledger event sequences (grants, starts with their debit,
 * claims, partial completions and failures with their refunds), appended the
 * way the command handlers do: every step one atomic append.
 */
export class LedgerWorkload {
  private readonly balances = new Map<string, number>();
  private readonly projects: ModelProject[] = [];
  private readonly lots = new Map<string, ModelLot[]>();
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
    if (r < 0.3 && withLots(accountId)) return this.close(accountId);
    if (r < 0.5 || open.length === 0)
      return this.start(accountId, 1 + Math.floor(Math.random() * Math.min(balance, 40)));
    const project = open[Math.floor(Math.random() * open.length)]!;
    if (project.status === 'pending' && r < 0.75) return this.claim(project);
    if (project.status === 'processing' && r < 0.85) return this.complete(project);
    return this.fail(project);
  }

  private grant(accountId: string, amount: number): StreamAppend[] {
    this.balances.set(accountId, (this.balances.get(accountId) ?? 0) + amount);
    if (!withLots(accountId)) {
      return [append(`account-${accountId}`, event('CreditsGranted', { amount, source: 'purchase' }))];
    }
    const grantId = `g-${randomUUID()}`;
    const lots = this.lots.get(accountId) ?? [];
    lots.push({ grantId, remaining: amount });
    this.lots.set(accountId, lots);
    const promotional = Math.random() < 0.5;
    const expiresAt = Math.random() < 0.5 ? undefined : new Date(Date.UTC(2031, 0, 1 + Math.floor(Math.random() * 30)));
    return [
      append(
        `account-${accountId}`,
        event('CreditsGranted', {
          amount,
          source: promotional ? 'promo' : 'purchase',
          grantId,
          category: promotional ? 'promotional' : 'paid',
          priority: [0, 50, 100][Math.floor(Math.random() * 3)]!,
          ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
        }),
      ),
    ];
  }

  /** Expires or voids what remains of one of the account's lots. */
  private close(accountId: string): StreamAppend[] {
    const open = (this.lots.get(accountId) ?? []).filter((lot) => !lot.closed && lot.remaining > 0);
    const lot = open[Math.floor(Math.random() * open.length)];
    if (!lot) return this.grant(accountId, 10);
    const type = Math.random() < 0.5 ? 'CreditsExpired' : 'GrantVoided';
    const amount = lot.remaining;
    lot.closed = type;
    lot.remaining = 0;
    this.balances.set(accountId, this.balances.get(accountId)! - amount);
    const data = { grantId: lot.grantId, amount, ...(type === 'GrantVoided' ? { reason: 'fraud' } : {}) };
    return [append(`account-${accountId}`, event(type, data))];
  }

  /** Draws `cost` from the account's open lots, oldest first. */
  private draw(accountId: string, cost: number): { grantId: string; amount: number }[] {
    const draws: { grantId: string; amount: number }[] = [];
    let left = cost;
    for (const lot of this.lots.get(accountId)!) {
      if (left === 0) break;
      const take = lot.closed ? 0 : Math.min(lot.remaining, left);
      if (take === 0) continue;
      lot.remaining -= take;
      left -= take;
      draws.push({ grantId: lot.grantId, amount: take });
    }
    return draws;
  }

  private start(accountId: string, cost: number): StreamAppend[] {
    const project: ModelProject = { id: `prj-${randomUUID()}`, accountId, cost, status: 'pending', attempt: 0 };
    this.projects.push(project);
    this.balances.set(accountId, this.balances.get(accountId)! - cost);
    if (withLots(accountId)) project.draws = this.draw(accountId, cost);
    const lots = project.draws ? { lots: project.draws } : {};
    return [
      append(
        `account-${accountId}`,
        event('Debited', { amount: cost, projectId: project.id, reason: 'project_started', ...lots }),
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
    const stream = `account-${project.accountId}`;
    if (!project.draws) return append(stream, event('Refunded', { amount, projectId: project.id, reason }));
    // The last drawn first; what goes back to a closed lot is closed again in the same append.
    const shares: { grantId: string; amount: number }[] = [];
    const closings: ReturnType<typeof event>[] = [];
    let left = amount;
    for (const draw of [...project.draws].reverse()) {
      const take = Math.min(draw.amount, left);
      if (take === 0) break;
      left -= take;
      shares.push({ grantId: draw.grantId, amount: take });
      const lot = this.lots.get(project.accountId)!.find((l) => l.grantId === draw.grantId)!;
      if (lot.closed) {
        this.balances.set(project.accountId, this.balances.get(project.accountId)! - take);
        const data = {
          grantId: lot.grantId,
          amount: take,
          ...(lot.closed === 'GrantVoided' ? { reason: 'fraud' } : {}),
        };
        closings.push(event(lot.closed, data));
      } else {
        lot.remaining += take;
      }
    }
    return append(stream, event('Refunded', { amount, projectId: project.id, reason, lots: shares }), ...closings);
  }
}

function event(type: string, data: Record<string, unknown>) {
  return { id: randomUUID(), type, data };
}

function append(streamName: string, ...events: ReturnType<typeof event>[]): StreamAppend {
  return { streamName, expectedRevision: 'any', events };
}

export interface ExpectedLot {
  accountId: string;
  grantId: string;
  category: string;
  granted: number;
  remaining: number;
  status: 'active' | 'exhausted' | 'expired' | 'voided';
}

export interface ExpectedTables {
  balances: Map<
    string,
    { balance: number; granted: number; debited: number; refunded: number; expired: number; voided: number }
  >;
  entries: Map<string, { accountId: string; balanceAfter: number; paidAfter: number; promotionalAfter: number }>;
  projects: Map<string, { status: string; refunded: number; creditsUsed: number | null; attempt: number }>;
  /** By account and grant id (`${accountId}/${grantId}`). */
  lots: Map<string, ExpectedLot>;
}

type Share = { grantId: string; amount: number };

/**
 * The lots a debit or refund that names none drew or returned. Only accounts written
 * before lots have them, whose lots are all paid, never expire and have one priority:
 * the spending order is the oldest grant first.
 */
function unnamedShares(lots: ExpectedLot[], type: string, amount: number): Share[] {
  const shares: Share[] = [];
  let left = amount;
  for (const lot of lots) {
    const room = type === 'Debited' ? (lot.status === 'active' ? lot.remaining : 0) : lot.granted - lot.remaining;
    const take = Math.min(room, left);
    if (take > 0) shares.push({ grantId: lot.grantId, amount: take });
    left -= take;
  }
  return shares;
}

/** The read models as a plain fold of the events, computed apart from the projections' SQL. */
export function foldExpected(events: readonly StoredEvent[]): ExpectedTables {
  const expected: ExpectedTables = { balances: new Map(), entries: new Map(), projects: new Map(), lots: new Map() };
  const paid = new Map<string, number>();
  const byAccount = new Map<string, ExpectedLot[]>();
  const lotsOf = (accountId: string) => byAccount.get(accountId) ?? [];
  for (const e of events) {
    const amount = e.data.amount as number;
    if (e.streamName.startsWith('account-')) {
      const accountId = e.streamName.slice('account-'.length);
      const b = expected.balances.get(accountId) ?? {
        balance: 0,
        granted: 0,
        debited: 0,
        refunded: 0,
        expired: 0,
        voided: 0,
      };
      let paidAfter = paid.get(accountId) ?? 0;
      const lot = (grantId: string) => expected.lots.get(`${accountId}/${grantId}`)!;
      const move = (shares: readonly Share[], sign: number) => {
        for (const share of shares) {
          const l = lot(share.grantId);
          l.remaining += sign * share.amount;
          if (l.status === 'active' || l.status === 'exhausted') l.status = l.remaining > 0 ? 'active' : 'exhausted';
          if (l.category === 'paid') paidAfter += sign * share.amount;
        }
      };
      if (e.type === 'CreditsGranted') {
        Object.assign(b, { balance: b.balance + amount, granted: b.granted + amount });
        const grantId = (e.data.grantId as string | undefined) ?? e.id;
        const category = (e.data.category as string | undefined) ?? 'paid';
        const created: ExpectedLot = {
          accountId,
          grantId,
          category,
          granted: amount,
          remaining: amount,
          status: 'active',
        };
        expected.lots.set(`${accountId}/${grantId}`, created);
        byAccount.set(accountId, lotsOf(accountId).concat(created));
        if (category === 'paid') paidAfter += amount;
      }
      if (e.type === 'Debited' || e.type === 'Refunded') {
        const sign = e.type === 'Debited' ? -1 : 1;
        const shares = (e.data.lots as Share[] | undefined) ?? unnamedShares(lotsOf(accountId), e.type, amount);
        move(shares, sign);
      }
      if (e.type === 'Debited') Object.assign(b, { balance: b.balance - amount, debited: b.debited + amount });
      if (e.type === 'Refunded') Object.assign(b, { balance: b.balance + amount, refunded: b.refunded + amount });
      if (e.type === 'CreditsExpired' || e.type === 'GrantVoided') {
        move([{ grantId: e.data.grantId as string, amount }], -1);
        // As the domain folds them: a void closes the lot (an expired one stays expired); an
        // expiry closes it only when nothing remains (a refund's part expired again leaves it open).
        const closed = lot(e.data.grantId as string);
        if (e.type === 'GrantVoided') closed.status = closed.status === 'expired' ? 'expired' : 'voided';
        else if (closed.remaining === 0 && (closed.status === 'active' || closed.status === 'exhausted'))
          closed.status = 'expired';
        if (e.type === 'CreditsExpired') Object.assign(b, { balance: b.balance - amount, expired: b.expired + amount });
        else Object.assign(b, { balance: b.balance - amount, voided: b.voided + amount });
      }
      expected.balances.set(accountId, b);
      paid.set(accountId, paidAfter);
      // A movement of nothing (a void of a lot whose credits are all spent or held) closes its
      // lot but is no ledger entry, as the projection has it.
      if (amount !== 0)
        expected.entries.set(e.position.toString(), {
          accountId,
          balanceAfter: b.balance,
          paidAfter,
          promotionalAfter: b.balance - paidAfter,
        });
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
