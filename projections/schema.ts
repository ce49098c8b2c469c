import type { MigrationSet } from '@ledger/platform';
import { accountBalancesProjection } from './account-balances/account-balances.projection.js';
import { ledgerEntriesProjection } from './ledger-entries/ledger-entries.projection.js';
import { projectsProjection } from './projects/projects.projection.js';
import type { Projection } from './projection.js';

export const PROJECTIONS: readonly Projection[] = [
  accountBalancesProjection,
  projectsProjection,
  ledgerEntriesProjection,
];

/** The projections' tables, checkpoints and checked statements: the files of ./migrations. */
export const projectionMigrations: MigrationSet = {
  component: 'projections',
  folder: new URL('./migrations/', import.meta.url),
};
