import type { MigrationSet } from '@ledger/platform';
import { accountBalancesProjection } from './account-balances/account-balances.projection.js';
import { ledgerEntriesProjection } from './ledger-entries/ledger-entries.projection.js';
import { projectsProjection } from './projects/projects.projection.js';
import { LIVE_SCHEMA, type Projection } from './projection.js';

export const PROJECTIONS: readonly Projection[] = [
  accountBalancesProjection,
  projectsProjection,
  ledgerEntriesProjection,
];

/** Where each projection has got to: its tables equal a fold of the events up to `position`. */
export const CHECKPOINTS_TABLE = `${LIVE_SCHEMA}.checkpoints`;

/** The projections' tables, checkpoints and checked statements: the files of ./migrations. */
export const projectionMigrations: MigrationSet = {
  component: 'projections',
  folder: new URL('./migrations/', import.meta.url),
};
