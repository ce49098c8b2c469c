import { AssetsDto } from '../complete-project/complete-project.dto.js';

/**
 * `POST /v1/projects/{projectId}/assets`: the assets themselves, as `complete` takes them.
 * At least one must be given; the domain says so (400 `validation_failed` on `assets`).
 */
export class AttachAssetsDto extends AssetsDto {}
