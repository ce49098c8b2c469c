import { decideHeartbeatProject } from '@ledger/domain';
import { onProject } from '../../commands/command-handler.js';

/** The current attempt's worker is alive: its lease is extended. */
export const heartbeatProject = onProject(decideHeartbeatProject);
