import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExcludeEndpoint,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '../auth/scopes.decorator.js';
import { WAIT_MS_DEFAULT, WAIT_MS_MAX } from '../projections/projection-progress.js';
import { QueryParameters } from './audit-query.js';
import {
  EVENTS_PAGE_LIMIT_DEFAULT,
  EVENTS_PAGE_LIMIT_MAX,
  EVENTS_STREAM_LIMIT_MAX,
  EventsReader,
} from './read-events/read-events.query.js';
import {
  STREAM_NAME_LENGTH_MAX,
  STREAM_PAGE_LIMIT_DEFAULT,
  STREAM_PAGE_LIMIT_MAX,
  StreamReader,
  checkStreamName,
} from './read-stream/read-stream.query.js';
import { accepts } from '../queries/accepts.js';
import { ErrorResponses } from '../http/error-responses.decorator.js';
import { responseSchema } from '../http/response-schemas.js';
import { Reconciliation } from './reconciliation/reconciliation.service.js';

const NDJSON = 'application/x-ndjson';
// What each route answers, for the API docs.
const STREAM_PAGE =
  '`{items: [{revision, position, id, type, data, metadata, at}], nextRevision}` (null on the last page)';
const LOG_PAGE =
  '`{items: [{position, streamName, revision, id, type, data, metadata, at}], nextPosition}` (null once at the head)';
const RECONCILIATION_REPORT =
  '`{checkedAccounts, checkedProjects, mismatches: [{accountId|projectId, field, projected, folded}], mismatchCount, ' +
  'violations: [{invariant, id, message, position}], violationCount, position, checkpoints, mode, headPosition, lagEvents}`';
const POSITION = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

@ApiTags('audit')
@ApiBearerAuth()
@RequireScope('audit')
@Controller('v1/audit')
export class AuditController {
  constructor(
    private readonly streams: StreamReader,
    private readonly events: EventsReader,
    private readonly reconciliation: Reconciliation,
  ) {}

  @Get('streams/:streamName')
  @ApiOperation({ summary: "A stream's events as stored, by revision" })
  @ApiParam({
    name: 'streamName',
    description: `1–${STREAM_NAME_LENGTH_MAX} characters without control characters, URL-encoded`,
  })
  @ApiQuery({ name: 'fromRevision', required: false, description: 'inclusive', schema: { ...POSITION, default: 0 } })
  @OptionalInteger('limit', 1, STREAM_PAGE_LIMIT_MAX, STREAM_PAGE_LIMIT_DEFAULT)
  @ApiResponse({ status: 200, description: STREAM_PAGE, schema: responseSchema('StreamEventPage') })
  @AuditErrors({ 404: 'not_found: the stream has no events' })
  stream(
    @Param('streamName') streamName: unknown,
    @Query('fromRevision') fromRevision: unknown,
    @Query('limit') limit: unknown,
  ) {
    const query = new QueryParameters();
    const from = query.position('fromRevision', fromRevision) ?? 0n;
    const pageLimit = query.integer('limit', limit, 1, STREAM_PAGE_LIMIT_MAX, STREAM_PAGE_LIMIT_DEFAULT);
    query.check();
    return this.streams.page(checkStreamName(streamName), from, pageLimit);
  }

  /**
   * The same for names the route above can't take: the router caps a parameter at 100
   * characters (stream names go to 300), and a name may hold a '/'. The router tries
   * the parameter first and falls back to this.
   */
  @Get('streams/*')
  @ApiExcludeEndpoint()
  anyStream(
    @Param('*') streamName: unknown,
    @Query('fromRevision') fromRevision: unknown,
    @Query('limit') limit: unknown,
  ) {
    return this.stream(streamName, fromRevision, limit);
  }

  @Get('events')
  @ApiOperation({
    summary: 'All ledger events in global order (idempotency records left out)',
    description: `JSON pages; with \`Accept: ${NDJSON}\`, one JSON line per event, up to the head of the log at the request (or \`limit\`).`,
  })
  @ApiQuery({ name: 'fromPosition', required: false, description: 'exclusive', schema: { ...POSITION, default: 0 } })
  @ApiQuery({
    name: 'limit',
    required: false,
    description: `JSON: 1–${EVENTS_PAGE_LIMIT_MAX}, default ${EVENTS_PAGE_LIMIT_DEFAULT}; NDJSON: 1–${EVENTS_STREAM_LIMIT_MAX}, default all`,
    schema: { type: 'integer', minimum: 1, maximum: EVENTS_STREAM_LIMIT_MAX },
  })
  @ApiProduces('application/json', NDJSON)
  @ApiResponse({
    status: 200,
    description: LOG_PAGE,
    content: {
      'application/json': { schema: responseSchema('LogEventPage') },
      [NDJSON]: { schema: { ...responseSchema('LogEvent'), description: 'one event a line' } },
    },
  })
  @AuditErrors()
  async log(
    @Query('fromPosition') fromPosition: unknown,
    @Query('limit') limit: unknown,
    @Headers('accept') accept: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const streaming = accepts(accept, NDJSON);
    const query = new QueryParameters();
    const after = query.position('fromPosition', fromPosition) ?? 0n;
    const eventsLimit = streaming
      ? query.integer('limit', limit, 1, EVENTS_STREAM_LIMIT_MAX, Number.MAX_SAFE_INTEGER)
      : query.integer('limit', limit, 1, EVENTS_PAGE_LIMIT_MAX, EVENTS_PAGE_LIMIT_DEFAULT);
    query.check();
    if (!streaming) {
      await reply.send(await this.events.page(after, eventsLimit));
      return;
    }
    const { upTo, body } = await this.events.stream(after, eventsLimit);
    await reply.header('content-type', NDJSON).header('x-audit-up-to', upTo.toString()).send(body);
  }

  @Get('reconciliation')
  @ApiOperation({
    summary: 'The read models against a fold of the log, and the invariants I1–I4 over the log',
    description:
      'What the continuous check has found, up to `position` (`lagEvents` behind `headPosition`); `minPosition` ' +
      'waits (at most `waitMs`) until the read models and the check reach it. `full=true`: a fold of the whole ' +
      "log for this call, at the read models' checkpoints.",
  })
  @ApiQuery({ name: 'minPosition', required: false, schema: POSITION })
  @ApiQuery({ name: 'full', required: false, schema: { type: 'boolean', default: false } })
  @OptionalInteger('waitMs', 0, WAIT_MS_MAX, WAIT_MS_DEFAULT)
  @ApiResponse({ status: 200, description: RECONCILIATION_REPORT, schema: responseSchema('Reconciliation') })
  @AuditErrors({ 503: 'projection_behind: the read models did not reach `minPosition` in time | unavailable' })
  reconcile(
    @Query('minPosition') minPosition: unknown,
    @Query('waitMs') waitMs: unknown,
    @Query('full') full: unknown,
  ) {
    const query = new QueryParameters();
    const min = query.position('minPosition', minPosition);
    const wait = query.integer('waitMs', waitMs, 0, WAIT_MS_MAX, WAIT_MS_DEFAULT);
    const whole = query.boolean('full', full, false);
    query.check();
    return this.reconciliation.run(min, wait, whole);
  }
}

/** The errors every audit route may answer, and its own. */
function AuditErrors(own: Record<number, string> = {}) {
  const descriptions = {
    400: 'validation_failed',
    401: 'unauthenticated',
    403: 'forbidden',
    429: 'rate_limited',
    503: 'unavailable',
    ...own,
  };
  return ErrorResponses(Object.keys(descriptions).map(Number), descriptions);
}

/** An optional integer query parameter, in the API docs. */
function OptionalInteger(name: string, minimum: number, maximum: number, fallback: number): MethodDecorator {
  return ApiQuery({ name, required: false, schema: { type: 'integer', minimum, maximum, default: fallback } });
}
