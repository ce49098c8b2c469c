// Jest runs in its ESM mode (NestJS 12 ships ES modules only): see the `test` script.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2023',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

// The KurrentDB contract suite needs a server; none can run here, so it runs
// only when one is named (the global setup prints that it was left out).
const kurrentIgnored = process.env.EVENTSTORE_CONNECTION_STRING ? [] : ['/kurrentdb-event-store\\.int-spec\\.ts$'];

// The end-to-end specs also run on the KurrentDB double (the others test auth, OpenAPI,
// migrations, crashes and PostgreSQL's own metrics, which do not depend on the KurrentDB path;
// test/kurrentdb/*.e2e-spec.ts covers health on KurrentDB).
const kurrentDoubleE2e = [
  'stories',
  'accounts',
  'projects',
  'queries',
  'audit',
  'bad-requests',
  'lots',
  'lots-commands',
];

const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@ledger/domain$': '<rootDir>/libs/domain/src/index.ts',
    '^@ledger/event-store$': '<rootDir>/libs/event-store/src/index.ts',
    '^@ledger/event-store/testing$': '<rootDir>/libs/event-store/src/testing/index.ts',
    '^@ledger/platform$': '<rootDir>/libs/platform/src/index.ts',
    '^@ledger/ledger-api$': '<rootDir>/apps/ledger-api/src/index.ts',
    '^@ledger/test-support$': '<rootDir>/test/support/index.ts',
    '^@ledger/projections$': '<rootDir>/projections/index.ts',
    '^@ledger/client$': '<rootDir>/libs/client/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testEnvironment: 'node',
  // A bound, not a wait: the end-to-end tests start apps and processes on two
  // shared cores (CI's size), where jest's 5 s default trips under load.
  testTimeout: 30_000,
  testPathIgnorePatterns: ['/node_modules/', '/dist/', ...kurrentIgnored],
  rootDir: '.',
};

/** @type {import('jest').Config} */
export default {
  ...shared,
  // Starts one embedded PostgreSQL for the whole run; each spec file creates its own database.
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,projections}/**/*.spec.ts'] },
    { ...shared, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs,projections}/**/*.int-spec.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
    // The main end-to-end stories again, each app on a KurrentDB double through the real client
    // (libs/event-store/src/testing/kurrentdb-double): the production store's path in CI.
    {
      ...shared,
      displayName: 'e2e (kurrentdb double)',
      testMatch: kurrentDoubleE2e.map((name) => `<rootDir>/test/${name}.e2e-spec.ts`),
      setupFilesAfterEnv: ['<rootDir>/test/kurrentdb/on-kurrentdb-double.ts'],
    },
  ],
};
