import { createRequire } from 'node:module';
import type { KurrentDBClient } from '@kurrent/kurrentdb-client';
import { IncompatibleStoreError } from '../errors.js';

/**
 * What the adapter asks of the server before it serves: a version at or above the minimum, and
 * the v2 append session (the multi-stream append). Asked over the client's own grpc-js channel
 * (the half that carries appends and subscriptions; reads go through its Rust bridge).
 */

/**
 * 25.1.0 loses streams created by a multi-stream append from its stream-existence filter after a
 * restart (fixed in 25.1.1: `no_stream` appends to them succeed again, so commands replay), and
 * reports wrong per-stream revisions for appends that cross a chunk. Every ledger command is a
 * multi-stream append, so 25.1.4 (the current 25.1 patch) is the floor.
 */
export const MIN_SERVER_VERSION = '25.1.4';

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any -- the client's generated jspb/grpc-js classes */
const featuresGrpc: any = require('@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/serverfeatures_grpc_pb.js');
const sharedPb: any = require('@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/shared_pb.js');
/* eslint-enable @typescript-eslint/no-explicit-any */

const APPEND_SESSION = 'kurrentdb.protocol.v2.streams.streamsservice/appendsession';
const UNIMPLEMENTED = 12;

export interface ServerFeatures {
  /** As the server reports it, or undefined when it does not (servers before 21.10). */
  version: string | undefined;
  /** `service/method`, lower case, as the client compares them. */
  methods: Set<string>;
}

/**
 * The client's internals this uses: its `execute` runs a call on its channel (with its TLS,
 * credentials and reconnection handling) and `callArguments` builds the call's metadata and
 * deadline. Protected in 1.3.1, which package.json pins exactly; the double's tests break if
 * they move.
 */
interface ClientInternals {
  execute<T>(
    client: unknown,
    debugName: string,
    action: (grpcClient: {
      getSupportedMethods(
        request: unknown,
        metadata: unknown,
        options: unknown,
        callback: (error: (Error & { code?: number }) | null, answer?: SupportedMethodsAnswer) => void,
      ): void;
    }) => Promise<T>,
  ): Promise<T>;
  callArguments(options: Record<string, unknown>): [unknown, unknown];
}

interface SupportedMethodsAnswer {
  getEventStoreServerVersion(): string;
  getMethodsList(): { getServiceName(): string; getMethodName(): string }[];
}

/** Asks the server afresh every time (the client caches its own copy for the connection). */
export function fetchServerFeatures(client: KurrentDBClient): Promise<ServerFeatures> {
  const internals = client as unknown as ClientInternals;
  return internals.execute(
    featuresGrpc.ServerFeaturesClient,
    'serverFeatures',
    (grpcClient) =>
      new Promise<ServerFeatures>((resolve, reject) => {
        const [metadata, options] = internals.callArguments({});
        grpcClient.getSupportedMethods(new sharedPb.Empty(), metadata, options, (error, answer) => {
          if (error?.code === UNIMPLEMENTED) return resolve({ version: undefined, methods: new Set() });
          if (error || !answer) return reject(error ?? new Error('no answer to GetSupportedMethods'));
          resolve({
            version: answer.getEventStoreServerVersion() || undefined,
            methods: new Set(
              answer.getMethodsList().map((m) => `${m.getServiceName()}/${m.getMethodName()}`.toLowerCase()),
            ),
          });
        });
      }),
  );
}

/** Throws IncompatibleStoreError unless the server can serve the ledger. */
export function checkServerFeatures(features: ServerFeatures): void {
  const version = features.version === undefined ? undefined : parseVersion(features.version);
  if (version && compareVersions(version, parseVersion(MIN_SERVER_VERSION)!) < 0) {
    throw new IncompatibleStoreError(
      `KurrentDB ${features.version} is older than ${MIN_SERVER_VERSION}, the minimum: 25.1.0 loses streams ` +
        'created by a multi-stream append after a restart (replayed commands); upgrade the server',
    );
  }
  if (!features.methods.has(APPEND_SESSION)) {
    throw new IncompatibleStoreError(
      `KurrentDB ${features.version ?? '(version not reported)'} does not offer the multi-stream append ` +
        `(v2 AppendSession); the ledger needs KurrentDB ${MIN_SERVER_VERSION} or later`,
    );
  }
}

/** "25.1.4", "25.1.4.0" or "v25.1.4-rc.1" → [25, 1, 4]; undefined when not a version at all. */
export function parseVersion(text: string): number[] | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
