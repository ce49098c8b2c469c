import { createRequire } from 'node:module';
import type * as grpc from '@grpc/grpc-js';

/**
 * The message classes and service definitions the KurrentDB client ships (generated from the
 * server's protos), loaded as CommonJS. The double serves exactly these, so the client and its
 * Rust bridge talk to it over the same wire format as to a server.
 */
const require = createRequire(import.meta.url);
const GENERATED = '@kurrent/kurrentdb-client/generated/kurrentdb/protocols';

/* eslint-disable @typescript-eslint/no-explicit-any -- generated jspb classes, typed loosely on purpose */
export const streamsV1: any = require(`${GENERATED}/v1/streams_pb.js`);
export const streamsV1Grpc: { StreamsService: grpc.ServiceDefinition } = require(`${GENERATED}/v1/streams_grpc_pb.js`);
export const sharedV1: any = require(`${GENERATED}/v1/shared_pb.js`);
export const featuresV1: any = require(`${GENERATED}/v1/serverfeatures_pb.js`);
export const featuresV1Grpc: { ServerFeaturesService: grpc.ServiceDefinition } = require(
  `${GENERATED}/v1/serverfeatures_grpc_pb.js`,
);
export const streamsV2: any = require(`${GENERATED}/v2/streams/streams_pb.js`);
export const streamsV2Grpc: { StreamsServiceService: grpc.ServiceDefinition } = require(
  `${GENERATED}/v2/streams/streams_grpc_pb.js`,
);
export const streamErrorsV2: any = require(`${GENERATED}/v2/streams/errors_pb.js`);
export const errorsV2: any = require(`${GENERATED}/v2/errors_pb.js`);
const jspb: any = require('google-protobuf');
/* eslint-enable @typescript-eslint/no-explicit-any */

interface PackableMessage {
  serializeBinary(): Uint8Array;
}

/**
 * A google.rpc.Status as the server's RpcExceptions.FromError builds it: an ErrorInfo naming the
 * error first, then the typed details, each packed in an Any. Encoded by hand: the client ships
 * a Status with a single Any, which reads the repeated field as "the last one wins".
 */
export function statusDetails(
  code: number,
  message: string,
  reason: string,
  details?: { typeName: string; message: PackableMessage },
): Buffer {
  const writer = new jspb.BinaryWriter();
  writer.writeInt32(1, code);
  writer.writeString(2, message);
  const errorInfo = new jspb.BinaryWriter();
  errorInfo.writeString(1, reason);
  errorInfo.writeString(2, 'kurrentdb');
  writeAny(writer, 'google.rpc.ErrorInfo', errorInfo.getResultBuffer());
  if (details) writeAny(writer, details.typeName, details.message.serializeBinary());
  return Buffer.from(writer.getResultBuffer());
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function writeAny(writer: any, typeName: string, value: Uint8Array): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  writer.writeMessage(3, { typeName, value }, (any: { typeName: string; value: Uint8Array }, w: any) => {
    w.writeString(1, `type.googleapis.com/${any.typeName}`);
    w.writeBytes(2, any.value);
  });
}
