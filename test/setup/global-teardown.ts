import { rm } from 'node:fs/promises';
// eslint-disable-next-line no-restricted-imports -- jest loads global teardown without path aliases
import type { RunningPostgres } from '../../libs/platform/src/embedded-postgres.ts';

export default async function globalTeardown(): Promise<void> {
  const postgres = (globalThis as { __ledgerPostgres?: RunningPostgres }).__ledgerPostgres;
  await postgres?.stop();
  const dataDir = process.env.TEST_DATA_DIR;
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}
