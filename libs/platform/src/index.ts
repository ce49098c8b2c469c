export * from './migrations.js';
export * from './embedded-postgres.js';
export * from './files.js';
export * from './group-runner.js';
export * from './crash-points.js';
export * from './pool-clients.js';
export * from './service-node-args.js';
