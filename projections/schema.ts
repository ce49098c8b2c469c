import type { MigrationSet } from '@ledger/platform';
import { accountBalancesProjection } from './account-balances/account-balances.projection.js';
import { ledgerEntriesProjection } from './ledger-entries/ledger-entries.projection.js';
import { lotsProjection } from './lots/lots.projection.js';
import { projectsProjection } from './projects/projects.projection.js';
import type { Projection } from './projection.js';

export const PROJECTIONS: readonly Projection[] = [
  accountBalancesProjection,
  projectsProjection,
  ledgerEntriesProjection,
  lotsProjection,
];

/** The projections' tables, checkpoints and checked statements: the files of ./migrations. */
export const projectionMigrations: MigrationSet = {
  component: 'projections',
  folder: new URL('./migrations/', import.meta.url),
  recordedBeforeChecksums: {
    1: 'account balances, projects, ledger entries, checkpoints',
    2: "projects in flight by deadline and lease (the watchdog's search)",
    3: 'row counts checked inside the batch transaction (expect_rows)',
  },
};
