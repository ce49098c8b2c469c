import { createRequire } from 'node:module';

/**
 * The server's v2 API (the multi-stream append) explains its errors in the gRPC status details
 * (google.rpc.Status in `grpc-status-details-bin`: an ErrorInfo, then typed details). Client
 * 1.3.1 reads only the last detail and knows only some types; these read what it drops.
 */
const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any -- the client's generated jspb classes */
const jspb: any = require('google-protobuf');
const errorsV2: any = require('@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v2/errors_pb.js');
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface StatusDetail {
  /** The message's full name, e.g. kurrent.rpc.NotLeaderNodeErrorDetails. */
  typeName: string;
  value: Uint8Array;
}

/** Every detail of a gRPC error's status, or none when it carries no status details. */
export function statusDetailsOf(error: unknown): StatusDetail[] {
  const status = statusBytes(error) ?? statusBytes((error as { _raw?: unknown } | null)?._raw);
  return status ? decodeDetails(status) : [];
}

export function decodeDetails(status: Uint8Array): StatusDetail[] {
  const details: StatusDetail[] = [];
  const reader = new jspb.BinaryReader(status);
  while (reader.nextField()) {
    if (reader.isEndGroup()) break;
    if (reader.getFieldNumber() !== 3) {
      reader.skipField();
      continue;
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    reader.readMessage(null, (_: unknown, any: any) => {
      let typeName = '';
      let value: Uint8Array = new Uint8Array();
      while (any.nextField()) {
        if (any.isEndGroup()) break;
        if (any.getFieldNumber() === 1) typeName = String(any.readString()).replace(/^.*\//, '');
        else if (any.getFieldNumber() === 2) value = any.readBytes() as Uint8Array;
        else any.skipField();
      }
      details.push({ typeName, value });
    });
  }
  return details;
}

export function hasDetail(error: unknown, typeName: string): boolean {
  return statusDetailsOf(error).some((d) => d.typeName === typeName);
}

/** The leader a follower names when it refuses a write (host and gRPC port), if it names one. */
export function notLeaderDetails(error: unknown): { isNotLeader: boolean; leader?: { host: string; port: number } } {
  const detail = statusDetailsOf(error).find((d) => d.typeName === 'kurrent.rpc.NotLeaderNodeErrorDetails');
  if (!detail) return { isNotLeader: false };
  const leader = errorsV2.NotLeaderNodeErrorDetails.deserializeBinary(detail.value).getCurrentLeader();
  if (!leader || !leader.getHost()) return { isNotLeader: true };
  return { isNotLeader: true, leader: { host: leader.getHost() as string, port: leader.getPort() as number } };
}

function statusBytes(error: unknown): Uint8Array | undefined {
  const metadata = (error as { metadata?: { get?: (key: string) => unknown[] } } | null)?.metadata;
  if (!metadata || typeof metadata.get !== 'function') return undefined;
  const [value] = metadata.get('grpc-status-details-bin');
  return value instanceof Uint8Array ? value : undefined;
}
