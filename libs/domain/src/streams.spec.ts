import { createHash } from 'node:crypto';
import { accountStream, idempotencyStream, projectStream } from './streams.js';

describe('stream names', () => {
  it('prefix account and project ids', () => {
    expect(accountStream('acc-1')).toBe('account-acc-1');
    expect(projectStream('p:1')).toBe('project-p:1');
  });

  it('name an idempotency stream by the sha256 of caller, newline, key', () => {
    const expected = createHash('sha256').update('billing\nkey-1').digest('hex');
    expect(idempotencyStream('billing', 'key-1')).toBe(`idem-${expected}`);
    expect(idempotencyStream('billing', 'key-1')).toMatch(/^idem-[0-9a-f]{64}$/);
  });

  it('keep callers apart, even when caller and key run together', () => {
    expect(idempotencyStream('ab', 'c')).not.toBe(idempotencyStream('a', 'bc'));
    expect(idempotencyStream('billing', 'k')).not.toBe(idempotencyStream('studio', 'k'));
  });
});
