export * from './projection.js';
export * from './schema.js';
export * from './rows.js';
export * from './ledger-event.js';
export * from './account-balances/account-balances.table.js';
export * from './projects/projects.table.js';
export * from './ledger-entries/ledger-entries.table.js';
export * from './checkpoints/checkpoints.table.js';
export * from './lots/lots.table.js';
export { accountBalancesProjection } from './account-balances/account-balances.projection.js';
export { projectsProjection } from './projects/projects.projection.js';
export { ledgerEntriesProjection } from './ledger-entries/ledger-entries.projection.js';
export { lotsProjection } from './lots/lots.projection.js';
export { Projector, type ProjectorOptions, type ProjectorLag } from './engine/projector.js';
export {
  ProjectionRunner,
  PROJECTIONS_CHANNEL,
  type RunnerLog,
  type RunnerStatus,
} from './engine/projection-runner.js';
export { ProjectionAssertionError, FencedOffError } from './engine/errors.js';
export { rebuildProjection, compareTables, type RebuildOptions, type RebuildResult } from './engine/rebuild.js';
export { batched } from './engine/batches.js';
