// sinks.ts: Sinks, the destinations a Group.get fills and a Getter writes into.
import { fileURLToPath } from 'node:url';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { ByteView } from './byteview.js';
import { adoptBytes } from './byteview-internal.js';

/**
 * Loads modules from this one's location, for {@link protobuf} (node:module itself
 * is loaded then too, not with the core entry).
 */
const requireHere = (id: string): unknown =>
  process.getBuiltinModule('node:module').createRequire(import.meta.url)(id);

/**
 * protobuf returns @bufbuild/protobuf, loaded on the first proto sink or
 * `setProto` rather than with this module: a cache that stores no messages never
 * loads it. It requires the package's ES module build (as `import` resolves it),
 * so the caller's schemas and this code share one instance of the runtime.
 */
function protobuf(): typeof import('@bufbuild/protobuf') {
  const entry = fileURLToPath(import.meta.resolve('@bufbuild/protobuf'));
  return requireHere(entry) as typeof import('@bufbuild/protobuf');
}

/**
 * Sink receives one value. A {@link Getter} fills the sink it is handed with
 * `setString`, `setBytes` or `setProto`; `Group.get(key, sink)` fills a caller's
 * sink with the cached value. Each setter copies, so the caller keeps its buffers.
 */
export interface Sink {
  /** setString sets the value to the UTF-8 bytes of `s`. */
  setString(s: string): void;
  /** setBytes sets the value to a copy of `b`. */
  setBytes(b: Uint8Array): void;
  /** setProto sets the value to the binary encoding of `message` (of `schema`). */
  setProto<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void;
  /** setView sets the value to `view` (no copy: views are immutable). */
  setView(view: ByteView): void;
}

/** SinkBase funnels every setter into `setView`; sinks extend it and implement that one method. */
export abstract class SinkBase implements Sink {
  setString(s: string): void {
    this.setView(ByteView.from(s));
  }
  setBytes(b: Uint8Array): void {
    this.setView(ByteView.from(b));
  }
  setProto<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
    // toBinary's output is fresh and nobody else holds it: no copy needed.
    this.setView(adoptBytes(protobuf().toBinary(schema, message)));
  }
  abstract setView(view: ByteView): void;
}

/** ByteViewSink holds the value as a {@link ByteView} in `value` (undefined until set). */
export class ByteViewSink extends SinkBase {
  /** The value, once set. */
  value: ByteView | undefined;
  setView(view: ByteView): void {
    this.value = view;
  }
}

/** byteViewSink returns a sink whose `value` becomes the {@link ByteView}. */
export function byteViewSink(): ByteViewSink {
  return new ByteViewSink();
}

/** StringSink holds the value decoded as UTF-8 in `value` (undefined until set). */
export class StringSink extends SinkBase {
  /** The value, once set. */
  value: string | undefined;
  override setString(s: string): void {
    this.value = s;
  }
  setView(view: ByteView): void {
    this.value = view.toString();
  }
}

/** stringSink returns a sink whose `value` becomes the value as a string. */
export function stringSink(): StringSink {
  return new StringSink();
}

/** AllocatingByteSliceSink holds a fresh copy of the value in `value`. */
export class AllocatingByteSliceSink extends SinkBase {
  /** A newly allocated copy of the value, once set. */
  value: Uint8Array | undefined;
  setView(view: ByteView): void {
    this.value = view.byteSlice();
  }
}

/** allocatingByteSliceSink returns a sink whose `value` becomes a new Uint8Array holding the value. */
export function allocatingByteSliceSink(): AllocatingByteSliceSink {
  return new AllocatingByteSliceSink();
}

/**
 * TruncatingByteSliceSink copies the value into a buffer the caller owns,
 * truncated to its length; `length` says how many bytes were written and `value`
 * is the written part of the buffer.
 */
export class TruncatingByteSliceSink extends SinkBase {
  readonly #dest: Uint8Array;
  /** Bytes written into the buffer. */
  length = 0;
  constructor(dest: Uint8Array) {
    super();
    this.#dest = dest;
  }
  /** The written part of the caller's buffer. */
  get value(): Uint8Array {
    return this.#dest.subarray(0, this.length);
  }
  setView(view: ByteView): void {
    this.length = view.copy(this.#dest);
  }
}

/** truncatingByteSliceSink returns a sink that copies into `dest`, keeping at most `dest.length` bytes. */
export function truncatingByteSliceSink(dest: Uint8Array): TruncatingByteSliceSink {
  return new TruncatingByteSliceSink(dest);
}

/**
 * ProtoSink decodes the value as a message of `schema` into `message`. With a
 * `target` message it merges into it (as Go's ProtoSink unmarshals into m).
 * A value that is not a valid encoding throws when set.
 */
export class ProtoSink<Desc extends DescMessage> extends SinkBase {
  readonly #schema: Desc;
  #message: MessageShape<Desc> | undefined;
  constructor(schema: Desc, target?: MessageShape<Desc>) {
    super();
    this.#schema = schema;
    this.#message = target;
  }
  /** The decoded message, once set. */
  get message(): MessageShape<Desc> | undefined {
    return this.#message;
  }
  setView(view: ByteView): void {
    // A copy: the decoder hands out `bytes` fields as ranges of its input, and the
    // message is the caller's to change.
    const bytes = view.byteSlice();
    const { fromBinary, mergeFromBinary } = protobuf();
    this.#message =
      this.#message === undefined
        ? fromBinary(this.#schema, bytes)
        : mergeFromBinary(this.#schema, this.#message, bytes);
  }
}

/** protoSink returns a sink that decodes the value as a message of `schema` (into `target` if given). */
export function protoSink<Desc extends DescMessage>(
  schema: Desc,
  target?: MessageShape<Desc>,
): ProtoSink<Desc> {
  return new ProtoSink(schema, target);
}
