/** The project as every project answer shows it (`ProjectRow` of @ledger/projections), for the API docs. */
export const PROJECT_DESCRIPTION =
  '`{projectId, accountId, status, cost, creditsUsed, refunded, attempt, workerId, leaseExpiresAt, deadlineAt, ' +
  'errorCode, errorMessage, assets: {assetUrl, previewUrl, thumbnailUrl, resultUrls} | null, kind, externalTaskId, ' +
  'metadata, createdAt, updatedAt, position}`';
export const PROJECT_LIST_DESCRIPTION = `page of projects, each ${PROJECT_DESCRIPTION}: \`{items, nextCursor}\``;
