// service.ts: grpc-js method definitions built from the protobuf-es descriptors of our
// services, so messages are encoded by @bufbuild/protobuf (no protobufjs, no proto-loader).
import {
  type DescMessage,
  type DescMethod,
  fromBinary,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import type { MethodDefinition } from '@grpc/grpc-js';
import {
  GroupCache,
  type StreamRequestsSchema,
  type StreamResponsesSchema,
} from '../../proto/gen/groupcache_pb.js';
import { Health } from '../../proto/gen/grpc/health/v1/health_pb.js';
import { fromBinaryStrict } from '../../proto/strict.js';
import { encodeRequests, encodeResponses } from './exchange-codec.js';

/**
 * MalformedMessage stands for a request whose bytes did not decode, or decoded
 * to a string field that is not UTF-8 (see `fromBinaryStrict`). Servers get
 * it instead of an exception in grpc-js (which would answer INTERNAL), so they
 * can answer INVALID_ARGUMENT.
 */
export class MalformedMessage {
  /** cause is the decoding error. */
  readonly cause: unknown;

  constructor(cause: unknown) {
    this.cause = cause;
  }
}

/** Received is what a server handler gets: the decoded request, or a {@link MalformedMessage}. */
export type Received<T> = T | MalformedMessage;

/** UnaryMethod is the grpc-js definition of one unary rpc of ours. */
export type UnaryMethod<I extends DescMessage, O extends DescMessage> = MethodDefinition<
  Received<MessageShape<I>>,
  MessageShape<O>
>;

/**
 * unaryMethod builds the grpc-js definition of a unary rpc from its descriptor:
 * path `/{package.Service}/{Method}`, protobuf-es binary encoding both ways. The
 * request decoder never throws (see {@link MalformedMessage}); a response that
 * does not decode fails the call in grpc-js (INTERNAL on the client).
 */
export function unaryMethod<I extends DescMessage, O extends DescMessage>(
  method: DescMethod & { input: I; output: O },
): UnaryMethod<I, O> {
  const { input, output } = method;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    originalName: method.localName,
    requestStream: false,
    responseStream: false,
    requestSerialize: (message) => {
      if (message instanceof MalformedMessage)
        throw new TypeError('cannot send a malformed message');
      return asBuffer(toBinary(input, message));
    },
    requestDeserialize: (bytes) => {
      try {
        return fromBinaryStrict(input, bytes);
      } catch (err) {
        return new MalformedMessage(err);
      }
    },
    responseSerialize: (message) => asBuffer(toBinary(output, message)),
    responseDeserialize: (bytes) => fromBinary(output, bytes),
  };
}

/** StreamMethod is the grpc-js definition of one bidirectional streaming rpc of ours. */
export type StreamMethod<I extends DescMessage, O extends DescMessage> = MethodDefinition<
  Received<MessageShape<I>>,
  MessageShape<O>
>;

/**
 * streamMethod builds the grpc-js definition of a bidirectional streaming rpc
 * from its descriptor, encoded as {@link unaryMethod} encodes: a message that
 * does not decode reaches the server's handler as a {@link MalformedMessage}.
 */
export function streamMethod<I extends DescMessage, O extends DescMessage>(
  method: DescMethod & { input: I; output: O },
): StreamMethod<I, O> {
  return { ...unaryMethod(method), requestStream: true, responseStream: true };
}

/** asBuffer views bytes as a Buffer without copying, as grpc-js wants. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * groupCacheMethods are the rpcs of `groupcachepb.GroupCache`: Get, Set, Remove,
 * Stats, GetMany and the Exchange stream.
 */
export const groupCacheMethods = {
  get: unaryMethod(GroupCache.method.get),
  set: unaryMethod(GroupCache.method.set),
  remove: unaryMethod(GroupCache.method.remove),
  stats: unaryMethod(GroupCache.method.stats),
  getMany: unaryMethod(GroupCache.method.getMany),
  exchange: exchangeMethod(),
} as const;

/**
 * exchangeMethod is the Exchange stream's definition: the client's requests and the
 * server's answers encoded by the hand-written codecs of the hot path, the requests
 * decoded strictly as every request is (a message that does not decode reaches the
 * handler as a {@link MalformedMessage}).
 */
function exchangeMethod(): StreamMethod<typeof StreamRequestsSchema, typeof StreamResponsesSchema> {
  return {
    ...streamMethod(GroupCache.method.exchange),
    requestSerialize: (message) => {
      if (message instanceof MalformedMessage)
        throw new TypeError('cannot send a malformed message');
      return encodeRequests(message.requests);
    },
    responseSerialize: (message) => encodeResponses(message.responses),
  };
}

/** GROUP_CACHE_SERVICE is the full name of our peer service, as health checks name it. */
export const GROUP_CACHE_SERVICE = GroupCache.typeName;

/** healthMethods are the rpcs of `grpc.health.v1.Health` we serve: Check (not Watch). */
export const healthMethods = {
  check: unaryMethod(Health.method.check),
} as const;
