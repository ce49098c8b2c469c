export * from './projection.js';
export * from './schema.js';
export { accountBalancesProjection } from './account-balances/account-balances.projection.js';
export { projectsProjection } from './projects/projects.projection.js';
export { ledgerEntriesProjection } from './ledger-entries/ledger-entries.projection.js';
export { Projector, type ProjectorOptions, type ProjectorLag } from './engine/projector.js';
export {
  ProjectionRunner,
  PROJECTIONS_CHANNEL,
  type RunnerLog,
  type RunnerStatus,
} from './engine/projection-runner.js';
export { ProjectionAssertionError, FencedOffError } from './engine/errors.js';
export { rebuildProjection, compareTables, type RebuildOptions, type RebuildResult } from './engine/rebuild.js';
