/**
 * A wire-level test double of a KurrentDB server: the subset the ledger's adapter uses, in
 * memory, served with @grpc/grpc-js on the service definitions the client ships. The real
 * `@kurrent/kurrentdb-client` (its grpc-js half for appends and subscriptions, its Rust bridge
 * for reads) talks to it exactly as to a server.
 *
 * Served: ServerFeatures/GetSupportedMethods (with a server version), Streams/Read (a stream or
 * $all, forwards and backwards, stream-name and event-type filters, $all subscriptions with
 * checkpoints), and the v2 StreamsService/AppendSession (the multi-stream append) with the
 * server's validation and error details. Its rules follow the server's source (v25.1.x:
 * StreamsService.AppendSession, the v2 record validators, StorageWriterService's commit checks
 * and IndexWriter's idempotency checks), including 25.1's answers the adapter must survive:
 * INTERNAL for a partly replayed multi-stream append, ABORTED for stream names that differ
 * only in case, FAILED_PRECONDITION + NotLeaderNodeErrorDetails on a follower.
 *
 * Faults on demand: a follower's not-leader answer, a dropped connection before or after an
 * append is written, a dropped connection under a subscription, a subscription ended by the
 * server.
 *
 * What it CANNOT prove: clustering (elections, gossip, replication, a real leader change),
 * persistence and restarts (nothing is on disk: the 25.1.0 stream-existence bug is invisible
 * here), real chunking (records that cross a chunk, transaction-size limits near 256 MiB, log
 * positions are byte-like but not the server's exact record sizes), scavenging, deletes and
 * stream metadata ($maxAge, ACLs), authentication and authorization (no users, no TLS; a
 * secured cluster's "$all needs $ops or admin" rule is not enforced), links and projections,
 * the idempotency cache's eviction (ids are remembered forever), the server's v1 Append and
 * BatchAppend (the adapter does not use them), the timings, backpressure windows and
 * performance of a real server. Nor the exact bytes a server stores as the metadata of a v2
 * record and gives back to v1 reads: the double stores the record's properties as a JSON
 * object with '$schema.name' and '$record.timestamp' added (25.1's converter serialises the
 * properties as JSON; later servers keep them as properties), and the position an idempotent
 * replay answers (the double: the original's; a server may answer -1, which the adapter reads
 * back).
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  errorsV2,
  featuresV1,
  featuresV1Grpc,
  sharedV1,
  statusDetails,
  streamErrorsV2,
  streamsV1,
  streamsV1Grpc,
  streamsV2,
  streamsV2Grpc,
} from './protocol.js';

/** The oldest server the adapter accepts; the double reports it unless told otherwise. */
export const DOUBLE_DEFAULT_VERSION = '25.1.4';

// The server's limits (TFConsts): one record of at most ~16 MiB, one append within a chunk.
const MAX_RECORD_SIZE = 16 * 1024 * 1024 - 1024;
const CHUNK_SIZE = 256 * 1024 * 1024;
// A log record's fixed part (prepare header), so positions advance like byte offsets do.
const RECORD_HEADER_BYTES = 86;
// .NET ticks (100 ns) between 0001-01-01 and the Unix epoch: the server's "created" is Unix ticks.
const TICKS_PER_MS = 10_000n;
// The server checks the event type (schema name) against this.
const SCHEMA_NAME = /^[a-zA-Z0-9_.$:-]+$/;
// Expected revisions on the v2 wire (no_stream is -1, compared as a revision).
const ANY = -2n;
const STREAM_EXISTS = -4n;

interface StoredRecord {
  streamName: string;
  revision: bigint;
  id: string;
  type: string;
  isJson: boolean;
  data: Buffer;
  metadata: Buffer;
  position: bigint;
  createdTicks: bigint;
}

export type AppendFault =
  /** A follower's answer: FAILED_PRECONDITION + NotLeaderNodeErrorDetails naming the leader. */
  | { kind: 'not-leader'; leader: { host: string; port: number } }
  /** ABORTED as the v1 services time out (no details): the outcome is unknown to the caller. */
  | { kind: 'aborted-timeout' }
  /** ABORTED + AppendTransactionSizeExceededErrorDetails: an append too big for a chunk. */
  | { kind: 'aborted-too-big' }
  | { kind: 'drop-before-write' }
  | { kind: 'drop-after-write' };

export interface KurrentDbDoubleOptions {
  port?: number;
  host?: string;
  /** The version ServerFeatures reports; '' answers UNIMPLEMENTED (a server too old to say). */
  serverVersion?: string;
  /** Leave the v2 AppendSession out of the supported methods (a server before 25.1). */
  withoutAppendSession?: boolean;
}

type Decision =
  | { kind: 'ok'; current: bigint }
  | { kind: 'idempotent'; first: bigint; last: bigint; position: bigint }
  | { kind: 'wrong-expected-version'; current: bigint }
  | { kind: 'corrupted-idempotency'; current: bigint };

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly statusBin?: Buffer,
  ) {
    super(message);
  }

  metadata?: grpc.Metadata;

  toServiceError(): Partial<grpc.StatusObject> {
    const metadata = this.metadata ?? new grpc.Metadata();
    if (this.statusBin) metadata.set('grpc-status-details-bin', this.statusBin);
    return { code: this.code, details: this.message, metadata };
  }
}

export class KurrentDbDouble {
  private readonly log: StoredRecord[] = [];
  private readonly streams = new Map<string, StoredRecord[]>();
  private readonly byId = new Map<string, StoredRecord>();
  private nextPosition = 1_000n;
  private server: grpc.Server | undefined;
  private boundPort = 0;
  private readonly waiters = new Set<() => void>();
  private readonly subscriptions = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  private readonly appendFaults: AppendFault[] = [];
  /** Append sessions received (answered or not): a test sees whether the adapter sent one. */
  appendCalls = 0;
  /** Refuse reads of $all as a secured cluster does to a user without the right (PERMISSION_DENIED). */
  denyAllReads = false;
  /** Answer ServerFeatures with UNAVAILABLE (the grpc-js half fails while reads still work). */
  featuresUnavailable = false;

  private constructor(private readonly options: KurrentDbDoubleOptions) {}

  static async start(options: KurrentDbDoubleOptions = {}): Promise<KurrentDbDouble> {
    const double = new KurrentDbDouble(options);
    await double.listen(options.port ?? 0);
    return double;
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionString(): string {
    return `kurrentdb://${this.host}:${this.boundPort}?tls=false`;
  }

  /** The next append fails this way (queued: one fault per append). */
  failNextAppend(fault: AppendFault): void {
    this.appendFaults.push(fault);
  }

  /** Live $all subscriptions, for tests that wait until one is served. */
  get activeSubscriptions(): number {
    return this.subscriptions.size;
  }

  /** Ends every live subscription with an OK status, as a server shutting its side down does. */
  endSubscriptions(): void {
    for (const call of this.subscriptions) call.end();
    this.subscriptions.clear();
  }

  /**
   * Drops every connection (the process "crashes") and listens again on the same port with the
   * same log: in-flight calls fail, new ones reconnect.
   */
  async dropConnections(): Promise<void> {
    this.server?.forceShutdown();
    this.subscriptions.clear();
    this.wake();
    await this.listen(this.boundPort);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.wake();
    if (!server) return;
    server.forceShutdown();
  }

  private get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  private async listen(port: number): Promise<void> {
    const server = new grpc.Server();
    server.addService(featuresV1Grpc.ServerFeaturesService, {
      getSupportedMethods: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => this.features(callback),
    });
    server.addService(streamsV1Grpc.StreamsService, {
      read: (call: grpc.ServerWritableStream<unknown, unknown>) => void this.read(call),
      append: unimplemented,
      batchAppend: unimplemented,
      delete: unimplemented,
      tombstone: unimplemented,
    });
    server.addService(streamsV2Grpc.StreamsServiceService, {
      appendSession: (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        this.appendSession(call, callback),
      appendRecords: unimplemented,
    });
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    this.server = server;
  }

  // --- ServerFeatures -------------------------------------------------------------------------

  private features(callback: grpc.sendUnaryData<unknown>): void {
    const version = this.options.serverVersion ?? DOUBLE_DEFAULT_VERSION;
    if (this.featuresUnavailable) {
      callback({ code: grpc.status.UNAVAILABLE, details: 'Server Is Not Ready' });
      return;
    }
    if (version === '') {
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'unknown service' });
      return;
    }
    const methods = [
      ['event_store.client.streams.streams', 'read', ['all', 'stream', 'position_by_commit']],
      ['kurrentdb.protocol.v2.streams.streamsservice', 'appendsession', []],
    ] as const;
    const answer = new featuresV1.SupportedMethods();
    answer.setEventStoreServerVersion(version);
    for (const [service, method, features] of methods) {
      if (method === 'appendsession' && this.options.withoutAppendSession) continue;
      const supported = new featuresV1.SupportedMethod();
      supported.setServiceName(service);
      supported.setMethodName(method);
      supported.setFeaturesList([...features]);
      answer.addMethods(supported);
    }
    callback(null, answer);
  }

  // --- v2 AppendSession --------------------------------------------------------------------------

  private appendSession(
    call: grpc.ServerReadableStream<unknown, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ): void {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const requests: any[] = [];
    call.on('data', (request) => requests.push(request));
    call.on('error', () => undefined);
    call.on('end', () => {
      void (async () => {
        this.appendCalls++;
        const fault = this.appendFaults.shift();
        try {
          if (fault?.kind === 'not-leader') throw notLeader(fault.leader);
          if (fault?.kind === 'aborted-timeout') throw new RpcError(grpc.status.ABORTED, 'Operation timed out: commit');
          if (fault?.kind === 'aborted-too-big') {
            const details = new streamErrorsV2.AppendTransactionSizeExceededErrorDetails();
            details.setSize(CHUNK_SIZE + 1);
            details.setMaxSize(CHUNK_SIZE);
            throw rpc(grpc.status.ABORTED, 'transaction too big', 'APPEND_TRANSACTION_SIZE_EXCEEDED', {
              typeName: 'kurrentdb.protocol.v2.streams.errors.AppendTransactionSizeExceededErrorDetails',
              message: details,
            });
          }
          if (fault?.kind === 'drop-before-write') return await this.dropConnections();
          const response = this.appendAll(requests);
          if (fault?.kind === 'drop-after-write') return await this.dropConnections();
          callback(null, response);
        } catch (error) {
          if (error instanceof RpcError) callback(error.toServiceError());
          else callback({ code: grpc.status.INTERNAL, details: String(error) });
        }
      })();
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private appendAll(requests: any[]): unknown {
    if (requests.length === 0) {
      throw rpc(
        grpc.status.FAILED_PRECONDITION,
        'Append session started, but no append requests were sent before ending the session.',
        'APPEND_SESSION_NO_REQUESTS',
      );
    }
    const seen = new Set<string>();
    const planned: { stream: string; expected: bigint; records: Omit<StoredRecord, 'revision' | 'position'>[] }[] = [];
    let total = 0;
    for (const request of requests) {
      const stream: string = request.getStream();
      // The server's request tracker compares stream names ignoring case (a temporary limitation).
      if (seen.has(stream.toLowerCase())) {
        const details = new streamErrorsV2.StreamAlreadyInAppendSessionErrorDetails();
        details.setStream(stream);
        throw rpc(
          grpc.status.ABORTED,
          `Stream '${stream}' already has a different group of messages in this session.`,
          'STREAM_ALREADY_IN_APPEND_SESSION',
          {
            typeName: 'kurrentdb.protocol.v2.streams.errors.StreamAlreadyInAppendSessionErrorDetails',
            message: details,
          },
        );
      }
      seen.add(stream.toLowerCase());
      if (request.getRecordsList().length === 0) {
        throw badRequest(`Write to stream "${stream}" does not have any records`);
      }
      const records = [];
      for (const record of request.getRecordsList()) {
        const converted = this.convertRecord(stream, record);
        const size = converted.data.length + converted.metadata.length + Buffer.byteLength(converted.type);
        if (size > MAX_RECORD_SIZE) {
          const details = new streamErrorsV2.AppendRecordSizeExceededErrorDetails();
          details.setStream(stream);
          details.setRecordId(converted.id);
          details.setSize(size);
          details.setMaxSize(MAX_RECORD_SIZE);
          throw rpc(grpc.status.INVALID_ARGUMENT, `record ${converted.id} is too big`, 'APPEND_RECORD_SIZE_EXCEEDED', {
            typeName: 'kurrentdb.protocol.v2.streams.errors.AppendRecordSizeExceededErrorDetails',
            message: details,
          });
        }
        total += size;
        if (total > CHUNK_SIZE) {
          const details = new streamErrorsV2.AppendTransactionSizeExceededErrorDetails();
          details.setSize(total);
          details.setMaxSize(CHUNK_SIZE);
          throw rpc(grpc.status.ABORTED, 'transaction too big', 'APPEND_TRANSACTION_SIZE_EXCEEDED', {
            typeName: 'kurrentdb.protocol.v2.streams.errors.AppendTransactionSizeExceededErrorDetails',
            message: details,
          });
        }
        records.push(converted);
      }
      const expected = request.hasExpectedRevision() ? BigInt(request.getExpectedRevision()) : ANY;
      planned.push({ stream, expected, records });
    }
    return this.commit(planned);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private convertRecord(stream: string, record: any): Omit<StoredRecord, 'revision' | 'position'> {
    const id: string = record.hasRecordId() ? record.getRecordId() : randomUUID();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw badRequest(`Could not parse RecordId "${id}" to GUID`);
    }
    const schema = record.getSchema();
    const type: string = schema?.getName() ?? '';
    if (!SCHEMA_NAME.test(type)) throw badRequest(`Schema name '${type}' of a record of '${stream}' is not valid`);
    const properties: Record<string, unknown> = {};
    for (const [key, value] of record.getPropertiesMap().entries() as Iterable<[string, { toJavaScript(): unknown }]>) {
      if (key.trim() === '') throw badRequest('Property keys must not be empty.');
      if (key.startsWith('$schema.')) throw badRequest(`Property '${key}' is reserved`);
      properties[key] = value.toJavaScript();
    }
    const created = BigInt(Date.now());
    // MapToEvent: the properties become the event's metadata, with the server's own '$' keys.
    const metadata = { ...properties, '$schema.name': type, '$record.timestamp': Number(created) };
    return {
      streamName: stream,
      id: id.toLowerCase(),
      type,
      isJson: schema?.getFormat() === 1,
      data: Buffer.from(record.getData_asU8()),
      metadata: Buffer.from(JSON.stringify(metadata)),
      createdTicks: created * TICKS_PER_MS,
    };
  }

  private commit(
    planned: { stream: string; expected: bigint; records: Omit<StoredRecord, 'revision' | 'position'>[] }[],
  ): unknown {
    const decisions = planned.map((p) => this.check(p.stream, p.expected, p.records));
    const response = new streamsV2.AppendSessionResponse();
    if (decisions.every((d) => d.kind === 'ok')) {
      for (const [i, p] of planned.entries()) {
        let revision = (decisions[i] as { current: bigint }).current;
        for (const record of p.records) {
          revision++;
          this.store({ ...record, revision, position: this.allocate(record) });
        }
        response.addOutput(output(p.stream, revision));
      }
      response.setPosition(String(this.log.at(-1)!.position));
      this.wake();
      return response;
    }
    if (decisions.every((d) => d.kind === 'idempotent')) {
      let position = -1n;
      for (const [i, p] of planned.entries()) {
        const d = decisions[i] as Extract<Decision, { kind: 'idempotent' }>;
        response.addOutput(output(p.stream, d.last));
        if (d.position > position) position = d.position;
      }
      response.setPosition(String(position));
      return response;
    }
    const single = planned.length === 1;
    const failures = decisions
      .map((d, i) => ({ d, i }))
      .filter(({ d }) => d.kind === 'wrong-expected-version' || (single && d.kind === 'corrupted-idempotency'));
    const mixed = decisions.some((d) => d.kind === 'idempotent' || d.kind === 'corrupted-idempotency');
    // StorageWriterService answers a multi-stream mix of replayed and new parts with a
    // WrongExpectedVersion that names no stream; 25.1's v2 service indexes its first failure
    // and fails with an exception, which reaches the client as INTERNAL.
    if ((mixed && !single) || failures.length === 0) {
      throw new RpcError(grpc.status.INTERNAL, 'Index was outside the bounds of the array.');
    }
    const { d, i } = failures[0]!;
    const details = new streamErrorsV2.StreamRevisionConflictErrorDetails();
    details.setStream(planned[i]!.stream);
    details.setExpectedRevision(String(planned[i]!.expected));
    details.setActualRevision(String((d as { current: bigint }).current));
    throw rpc(
      grpc.status.FAILED_PRECONDITION,
      `Append failed due to a revision conflict on stream '${planned[i]!.stream}'.`,
      'STREAM_REVISION_CONFLICT',
      { typeName: 'kurrentdb.protocol.v2.streams.errors.StreamRevisionConflictErrorDetails', message: details },
    );
  }

  /** IndexWriter.CheckCommit, without deletes and metadata streams. */
  private check(stream: string, expected: bigint, records: readonly { id: string }[]): Decision {
    const existing = this.streams.get(stream) ?? [];
    const current = BigInt(existing.length) - 1n;
    if (expected === STREAM_EXISTS && current < 0n) return { kind: 'wrong-expected-version', current };
    if (expected === ANY || expected === STREAM_EXISTS) {
      let first: StoredRecord | undefined;
      let last: StoredRecord | undefined;
      for (const record of records) {
        const known = this.byId.get(record.id);
        if (!known || known.streamName !== stream) {
          return first ? { kind: 'corrupted-idempotency', current } : { kind: 'ok', current };
        }
        first ??= known;
        last = known;
      }
      return { kind: 'idempotent', first: first!.revision, last: last!.revision, position: last!.position };
    }
    if (expected < current) {
      let revision = expected;
      let last: StoredRecord | undefined;
      for (const record of records) {
        revision++;
        const atRevision = existing[Number(revision)];
        if (!atRevision || atRevision.id !== record.id) {
          return last ? { kind: 'corrupted-idempotency', current } : { kind: 'wrong-expected-version', current };
        }
        last = atRevision;
      }
      return { kind: 'idempotent', first: expected + 1n, last: last!.revision, position: last!.position };
    }
    if (expected > current) return { kind: 'wrong-expected-version', current };
    return { kind: 'ok', current };
  }

  private allocate(record: { data: Buffer; metadata: Buffer; type: string; streamName: string }): bigint {
    const position = this.nextPosition;
    this.nextPosition +=
      BigInt(RECORD_HEADER_BYTES + record.data.length + record.metadata.length) +
      BigInt(Buffer.byteLength(record.type) + Buffer.byteLength(record.streamName));
    return position;
  }

  private store(record: StoredRecord): void {
    this.log.push(record);
    const stream = this.streams.get(record.streamName) ?? [];
    stream.push(record);
    this.streams.set(record.streamName, stream);
    this.byId.set(record.id, record);
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  // --- Streams/Read ------------------------------------------------------------------------------

  private async read(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const options = (call.request as any).getOptions();
    const backwards = options.getReadDirection() === 1;
    const filter = toFilter(options);
    try {
      if (options.hasSubscription()) {
        if (!options.hasAll()) throw new RpcError(grpc.status.UNIMPLEMENTED, 'stream subscriptions are not served');
        await this.subscribe(call, options, filter);
        return;
      }
      const count = BigInt(options.getCount());
      if (options.hasStream()) {
        const streamOptions = options.getStream();
        const name = Buffer.from(streamOptions.getStreamIdentifier().getStreamName_asU8()).toString('utf8');
        const stream = this.streams.get(name);
        if (!stream) {
          const notFound = new streamsV1.ReadResp.StreamNotFound();
          notFound.setStreamIdentifier(streamOptions.getStreamIdentifier());
          const response = new streamsV1.ReadResp();
          response.setStreamNotFound(notFound);
          await write(call, response);
          call.end();
          return;
        }
        let from: bigint;
        if (streamOptions.hasStart()) from = 0n;
        else if (streamOptions.hasEnd()) from = BigInt(stream.length) - 1n;
        else from = BigInt(streamOptions.getRevision());
        const selected = backwards
          ? stream.filter((r) => r.revision <= from).reverse()
          : stream.filter((r) => r.revision >= from);
        for (const record of selected.slice(0, Number(count > 1_000_000n ? 1_000_000n : count))) {
          await write(call, readEvent(record));
        }
        call.end();
        return;
      }
      const all = options.getAll();
      this.checkAllRead(all);
      let selected: StoredRecord[];
      if (backwards) {
        const before = all.hasPosition() ? BigInt(all.getPosition().getCommitPosition()) : undefined;
        selected = this.log.filter((r) => before === undefined || r.position < before).reverse();
      } else {
        const from = all.hasPosition() ? BigInt(all.getPosition().getCommitPosition()) : all.hasEnd() ? null : 0n;
        selected = from === null ? [] : this.log.filter((r) => r.position >= from);
      }
      let sent = 0n;
      for (const record of selected) {
        if (sent >= count) break;
        if (!filter(record)) continue;
        await write(call, readEvent(record));
        sent++;
      }
      call.end();
    } catch (error) {
      // A server-streaming call fails by emitting the status as an error (grpc-js sends it on end).
      const status =
        error instanceof RpcError ? error.toServiceError() : { code: grpc.status.INTERNAL, details: String(error) };
      call.emit('error', Object.assign(new Error(status.details), status));
    }
  }

  /**
   * A secured server refuses $all to a user without the right; a position that is not an
   * event's (inside the log) is "Trying to read from an invalid position." (INVALID_ARGUMENT).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private checkAllRead(all: any): void {
    if (this.denyAllReads) {
      const metadata = new grpc.Metadata();
      metadata.set('exception', 'access-denied');
      throw Object.assign(new RpcError(grpc.status.PERMISSION_DENIED, 'Access Denied'), { metadata });
    }
    if (!all.hasPosition()) return;
    const position = BigInt(all.getPosition().getCommitPosition());
    const last = this.log.at(-1)?.position ?? -1n;
    if (position <= last && !this.log.some((r) => r.position === position)) {
      throw new RpcError(grpc.status.INVALID_ARGUMENT, 'Trying to read from an invalid position.');
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async subscribe(call: grpc.ServerWritableStream<unknown, unknown>, options: any, filter: Filter) {
    const all = options.getAll();
    this.checkAllRead(all);
    let cursor: bigint;
    if (all.hasStart()) cursor = -1n;
    else if (all.hasEnd()) cursor = this.log.at(-1)?.position ?? -1n;
    else cursor = BigInt(all.getPosition().getCommitPosition());
    const confirmation = new streamsV1.ReadResp.SubscriptionConfirmation();
    confirmation.setSubscriptionId(randomUUID());
    const confirm = new streamsV1.ReadResp();
    confirm.setConfirmation(confirmation);
    this.subscriptions.add(call);
    let open = true;
    const close = () => {
      open = false;
      this.subscriptions.delete(call);
      this.wake();
    };
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);
    await write(call, confirm);
    // The server's filtered subscription sends a checkpoint every window of scanned events.
    const checkpointEvery =
      32 * Math.max(1, options.hasFilter() ? options.getFilter().getCheckpointintervalmultiplier() : 1);
    let scanned = 0;
    while (open && this.subscriptions.has(call)) {
      const next = this.log.filter((r) => r.position > cursor);
      if (next.length === 0) {
        await new Promise<void>((resolve) => this.waiters.add(resolve));
        continue;
      }
      for (const record of next) {
        if (!open || !this.subscriptions.has(call)) return;
        cursor = record.position;
        scanned++;
        if (filter(record)) await write(call, readEvent(record, true));
        if (options.hasFilter() && scanned % checkpointEvery === 0) await write(call, checkpoint(record.position));
      }
    }
  }
}

type Filter = (record: StoredRecord) => boolean;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toFilter(options: any): Filter {
  if (!options.hasFilter()) return () => true;
  const filter = options.getFilter();
  const onStream = filter.hasStreamIdentifier();
  const expression = onStream ? filter.getStreamIdentifier() : filter.getEventType();
  const prefixes: string[] = expression.getPrefixList();
  const regex: string = expression.getRegex();
  const pattern = regex ? new RegExp(regex) : undefined;
  return (record) => {
    const value = onStream ? record.streamName : record.type;
    if (prefixes.length > 0 && !prefixes.some((p) => value.startsWith(p))) return false;
    return !pattern || pattern.test(value);
  };
}

function readEvent(record: StoredRecord, subscription = false): unknown {
  const recorded = new streamsV1.ReadResp.ReadEvent.RecordedEvent();
  const id = new sharedV1.UUID();
  id.setString(record.id);
  recorded.setId(id);
  const identifier = new sharedV1.StreamIdentifier();
  identifier.setStreamName(Buffer.from(record.streamName, 'utf8'));
  recorded.setStreamIdentifier(identifier);
  recorded.setStreamRevision(String(record.revision));
  // Every event is its own self-committed record: commit and prepare positions are equal.
  recorded.setPreparePosition(String(record.position));
  recorded.setCommitPosition(String(record.position));
  const metadata = recorded.getMetadataMap();
  metadata.set('type', record.type);
  metadata.set('content-type', record.isJson ? 'application/json' : 'application/octet-stream');
  metadata.set('created', String(record.createdTicks));
  recorded.setData(record.data);
  recorded.setCustomMetadata(record.metadata);
  const event = new streamsV1.ReadResp.ReadEvent();
  event.setEvent(recorded);
  event.setCommitPosition(String(record.position));
  void subscription;
  const response = new streamsV1.ReadResp();
  response.setEvent(event);
  return response;
}

function checkpoint(position: bigint): unknown {
  const point = new streamsV1.ReadResp.Checkpoint();
  point.setCommitPosition(String(position));
  point.setPreparePosition(String(position));
  const response = new streamsV1.ReadResp();
  response.setCheckpoint(point);
  return response;
}

function output(stream: string, revision: bigint): unknown {
  const response = new streamsV2.AppendResponse();
  response.setStream(stream);
  response.setStreamRevision(String(revision));
  return response;
}

function write(call: grpc.ServerWritableStream<unknown, unknown>, message: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (call.write(message)) resolve();
    else {
      const done = () => {
        call.off('drain', done);
        call.off('close', done);
        resolve();
      };
      call.on('drain', done);
      call.on('close', done);
    }
  });
}

function rpc(
  code: grpc.status,
  message: string,
  reason: string,
  details?: { typeName: string; message: { serializeBinary(): Uint8Array } },
): RpcError {
  return new RpcError(code, message, statusDetails(code, message, reason, details));
}

function badRequest(message: string): RpcError {
  return rpc(grpc.status.INVALID_ARGUMENT, message, 'BAD_REQUEST');
}

function notLeader(leader: { host: string; port: number }): RpcError {
  const info = new errorsV2.NotLeaderNodeErrorDetails.NodeInfo();
  info.setHost(leader.host);
  info.setPort(leader.port);
  const details = new errorsV2.NotLeaderNodeErrorDetails();
  details.setCurrentLeader(info);
  return rpc(grpc.status.FAILED_PRECONDITION, 'Not leader', 'NOT_LEADER_NODE', {
    typeName: 'kurrent.rpc.NotLeaderNodeErrorDetails',
    message: details,
  });
}

function unimplemented(_call: unknown, callback?: grpc.sendUnaryData<unknown>): void {
  const error = { code: grpc.status.UNIMPLEMENTED, details: 'not served by the KurrentDB double' };
  if (typeof callback === 'function') callback(error);
  else (_call as { emit(event: string, e: Error): void }).emit('error', Object.assign(new Error(error.details), error));
}
