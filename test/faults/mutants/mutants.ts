/**
 * Seeded bugs, each the mistake a guarantee exists to prevent, and the tests that must
 * catch it (`npm run mutants`). A mutant is a search/replace on one file: the search text
 * must occur exactly once, so a mutant whose code moved fails loudly instead of testing
 * nothing; refresh its anchor then.
 */
export interface Mutant {
  name: string;
  /** The guarantee it breaks. */
  breaks: string;
  file: string;
  search: string;
  replace: string;
  /** The command that must fail on the mutated copy: jest paths, or ['eslint', ...files]. */
  tests: string[];
  /** Environment for the tests (e.g. one column of the crash matrix). */
  env?: Record<string, string>;
}

export interface PendingMutant {
  name: string;
  pending: string;
}

export const MUTANTS: readonly Mutant[] = [
  {
    name: 'checkpoint-own-transaction',
    breaks: "a projector batch's rows and its checkpoint commit together (nothing replayed twice or lost)",
    file: 'projections/engine/projection-runner.ts',
    search: ': { slices, last, transactions: [checkedSql([...rows, ...checkpoints])] };',
    replace: ': { slices, last, transactions: [checkedSql(rows), checkedSql(checkpoints)] };',
    tests: ['test/crash/projector-crash.e2e-spec.ts'],
  },
  {
    name: 'append-expecting-any-revision',
    breaks: 'a decision is appended at the revision it saw (optimistic concurrency across replicas)',
    file: 'apps/ledger-api/src/commands/command-executor.ts',
    search:
      "appends.push({ streamName, expectedRevision: stream.loaded.revision ?? 'no_stream', events: stream.events });",
    replace: "appends.push({ streamName, expectedRevision: 'any', events: stream.events });",
    tests: ['apps/ledger-api/src/commands/command-executor.int-spec.ts'],
  },
  {
    name: 'record-appended-apart',
    breaks: "a command's events and its idempotency record are one atomic append (I4, I5)",
    file: 'apps/ledger-api/src/commands/command-executor.ts',
    search: 'result = await this.store.append(appends);',
    replace:
      "await this.store.append(appends.slice(0, appends.length - accepted.length)); crashPoint('command.after-append'); result = await this.store.append(appends.slice(appends.length - accepted.length));",
    tests: ['test/faults/crash-matrix.e2e-spec.ts'],
    env: { CRASH_MATRIX_SITES: 'command.after-append' },
  },
  {
    name: 'signature-compared-with-equals',
    breaks: 'webhook signatures are compared in constant time',
    file: 'apps/ledger-api/src/webhooks/webhook-signature.ts',
    search: 'if (timingSafeEqual(expected, digest)) matched = true;',
    replace: "if (expected.toString('hex') == digest.toString('hex')) matched = true;",
    // Only the rule against == on credentials may catch it (the import it leaves unused is not the point).
    tests: [
      'eslint',
      '--rule',
      '@typescript-eslint/no-unused-vars: off',
      'apps/ledger-api/src/webhooks/webhook-signature.ts',
    ],
  },
  {
    name: 'scope-not-checked',
    breaks: "every route checks its key's scope before any work (403)",
    file: 'apps/ledger-api/src/auth/api-key.guard.ts',
    search: 'if (!hasScope(key, scope)) {',
    replace: 'if (false && !hasScope(key, scope)) {',
    tests: ['test/auth.e2e-spec.ts'],
  },
  {
    name: 'refund-without-once-guard',
    breaks: 'a project is refunded once and nothing follows its terminal event (I2, I3)',
    file: 'libs/domain/src/project/project.finish.ts',
    search: "  if (isTerminal(project)) throw invalidTransition(project, projectId, 'fail');\n",
    replace: '',
    tests: ['libs/domain/src/project'],
  },
  {
    name: 'lot-drawn-past-expiry',
    breaks: 'nothing is drawn from a lot at or after its expiresAt (I7)',
    file: 'libs/domain/src/account/account.lots.ts',
    search: '(nowIso === undefined || lot.expiresAt === undefined || lot.expiresAt > nowIso)',
    replace: '(nowIso === undefined || lot.expiresAt === undefined || lot.expiresAt >= nowIso)',
    tests: ['libs/domain/src/account'],
  },
  {
    name: 'delivery-marked-sent-before-sent',
    breaks: 'a delivery is marked succeeded only once its receiver answered 2xx, else retried (I8)',
    file: 'apps/ledger-api/src/outbound/sender.ts',
    search: 'const succeeded = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;',
    replace: 'const succeeded = true;',
    tests: ['test/outbound.e2e-spec.ts'],
  },
  {
    name: 'key-held-elsewhere-decided',
    breaks: 'one answer per Idempotency-Key across replicas: a key another replica holds is not decided here',
    file: 'apps/ledger-api/src/commands/command-executor.ts',
    search: 'if (claims[index]?.held === false) {',
    replace: 'if (claims[index]?.held === false && process.env.NEVER === "set") {',
    tests: ['apps/ledger-api/src/commands/key-locks.int-spec.ts', 'test/idempotency-replicas.e2e-spec.ts'],
  },
];

export const PENDING: readonly PendingMutant[] = [];
