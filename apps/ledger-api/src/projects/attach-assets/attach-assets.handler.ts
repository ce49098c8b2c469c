import { decideAttachAssets } from '@ledger/domain';
import { onProject } from '../../commands/command-handler.js';

/** Result assets for a completed project: the keys given replace its own, the rest stay. */
export const attachAssets = onProject(decideAttachAssets);
