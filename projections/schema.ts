import type { MigrationSet } from '@ledger/platform';
import { accountBalancesProjection } from './account-balances/account-balances.projection.js';
import { ledgerEntriesProjection } from './ledger-entries/ledger-entries.projection.js';
import { projectsDueIndexes, projectsProjection } from './projects/projects.projection.js';
import { expectRowsFunction } from './engine/checked-statements.js';
import { LIVE_SCHEMA, type Projection } from './projection.js';

export const PROJECTIONS: readonly Projection[] = [
  accountBalancesProjection,
  projectsProjection,
  ledgerEntriesProjection,
];

/** Where each projection has got to: its tables equal a fold of the events up to `position`. */
export const CHECKPOINTS_TABLE = `${LIVE_SCHEMA}.checkpoints`;

export const projectionMigrations: MigrationSet = {
  component: 'projections',
  migrations: [
    {
      version: 1,
      name: 'account balances, projects, ledger entries, checkpoints',
      sql: `
CREATE SCHEMA IF NOT EXISTS ${LIVE_SCHEMA};
${PROJECTIONS.map((p) => p.createTables(LIVE_SCHEMA)).join('\n')}
CREATE TABLE ${CHECKPOINTS_TABLE} (
  projection text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ${CHECKPOINTS_TABLE} (projection, position) VALUES
  ${PROJECTIONS.map((p) => `('${p.name}', 0)`).join(', ')};`,
    },
    {
      version: 2,
      name: "projects in flight by deadline and lease (the watchdog's search)",
      sql: projectsDueIndexes(LIVE_SCHEMA),
    },
    {
      version: 3,
      name: 'row counts checked inside the batch transaction (expect_rows)',
      sql: expectRowsFunction,
    },
  ],
};
