import { expireContext, expireKey, WATCHDOG_CALLER } from './expire-context.js';
import type { DueProject } from '../due-projects.js';

const lease = new Date('2026-01-01T00:01:00.000Z');
const exhausted: DueProject = { projectId: 'p-1', attempt: 3, leaseExpiresAt: lease, reason: 'attempts_exhausted' };
const overdue: DueProject = { projectId: 'p-1', attempt: 1, leaseExpiresAt: lease, reason: 'deadline_exceeded' };

describe('the watchdog idempotency key', () => {
  it('names project, attempt and reason, and for an exhausted attempt its lease', () => {
    expect(expireKey(overdue)).toBe('expire:p-1:1:deadline_exceeded');
    expect(expireKey({ ...overdue, attempt: 0, leaseExpiresAt: null })).toBe('expire:p-1:0:deadline_exceeded');
    expect(expireKey(exhausted)).toBe('expire:p-1:3:attempts_exhausted:2026-01-01T00:01:00.000Z');
  });

  it('changes when a heartbeat moved the lease of the same attempt, so "not yet" does not stick', () => {
    const later = { ...exhausted, leaseExpiresAt: new Date(lease.getTime() + 30_000) };
    expect(expireKey(later)).not.toBe(expireKey(exhausted));
  });

  it('runs as the reserved watchdog caller, the same request for the same key', () => {
    const a = expireContext(exhausted, 'sweep-a');
    const b = expireContext({ ...exhausted }, 'sweep-b');
    expect(a).toMatchObject({
      caller: WATCHDOG_CALLER,
      idempotencyKey: expireKey(exhausted),
      correlationId: 'sweep-a',
    });
    expect(b.requestHash).toBe(a.requestHash);
    expect(expireContext(overdue, 'sweep-a').requestHash).not.toBe(a.requestHash);
  });
});
