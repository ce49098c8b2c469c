import { PagingDto } from '../../queries/read-query.dto.js';

/** `GET /v1/webhooks/unmatched`: a list like the others, of a table that is no projection (no `minPosition`). */
export class ListUnmatchedQueryDto extends PagingDto {}
