import { createHash } from 'node:crypto';
import {
  LEDGER_STREAM_PREFIXES,
  accountIdOf,
  apiKeyIdOf,
  apiKeyStream,
  accountStream,
  idempotencyStream,
  isIdempotencyStream,
  projectIdOf,
  projectStream,
  streamCategoryOf,
  webhookEndpointStream,
  webhookEndpointIdOf,
  accountSettingsStream,
} from './streams.js';

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

describe('stream names parsed', () => {
  it('give back the id a name was built from, and nothing for another category', () => {
    expect(accountIdOf(accountStream('acc-1'))).toBe('acc-1');
    expect(projectIdOf(projectStream('project-x'))).toBe('project-x');
    expect(accountIdOf(projectStream('acc-1'))).toBeUndefined();
    expect(projectIdOf(accountStream('p'))).toBeUndefined();
    expect(accountIdOf('accounts-1')).toBeUndefined();
  });

  it('tell the category of every stream the ledger writes', () => {
    expect(streamCategoryOf(accountStream('a'))).toBe('account');
    expect(streamCategoryOf(projectStream('p'))).toBe('project');
    expect(streamCategoryOf(idempotencyStream('c', 'k'))).toBe('idempotency');
    expect(streamCategoryOf(apiKeyStream('k1'))).toBe('apiKey');
    expect(apiKeyIdOf(apiKeyStream('k1'))).toBe('k1');
    expect(apiKeyIdOf(accountStream('k1'))).toBeUndefined();
    expect(streamCategoryOf(webhookEndpointStream('we_1'))).toBe('webhookEndpoint');
    expect(webhookEndpointIdOf(webhookEndpointStream('we_1'))).toBe('we_1');
    expect(streamCategoryOf(accountSettingsStream('a'))).toBe('accountSettings');
    expect(accountIdOf(accountSettingsStream('a'))).toBeUndefined();
    expect(streamCategoryOf('$stats')).toBeUndefined();
    expect(isIdempotencyStream(idempotencyStream('c', 'k'))).toBe(true);
    expect(isIdempotencyStream(accountStream('idem-1'))).toBe(false);
    for (const name of [
      accountStream('a'),
      projectStream('p'),
      idempotencyStream('c', 'k'),
      apiKeyStream('k'),
      webhookEndpointStream('w'),
      accountSettingsStream('a'),
    ])
      expect(LEDGER_STREAM_PREFIXES.some((prefix) => name.startsWith(prefix))).toBe(true);
  });
});
