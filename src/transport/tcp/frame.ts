// frame.ts: the tcp transport's binary framing (see docs/wire-format.md): frame types, status
// codes, encoders, and a reader that splits a byte stream into frames under a hard size limit.
import type { ErrorCode } from '../../errors.js';
import { MAX_BATCH_KEY_BYTES, MAX_BATCH_KEYS } from '../../limits.js';
import type { RingKind } from '../../ring/owner-ring.js';
import { ownedCopy } from '../owned-copy.js';

/**
 * PROTOCOL_VERSION is the version a client announces in the HELLO of each connection it
 * dials: 2, which knows GET_MANY. A server of version 2 answers a HELLO of version 2 with
 * an OK (a version 1 HELLO, never); a server of version 1 refuses it, and the client
 * redials announcing 1 for that one connection (the next offers 2 again).
 */
export const PROTOCOL_VERSION = 2;
/** BATCH_VERSION is the first protocol version with GET_MANY. */
export const BATCH_VERSION = 2;

/** Frame types: requests from client to server, and the one response type. */
export const FrameType = {
  /** First frame of every connection: the protocol version and the peer secret. */
  Hello: 0x01,
  Get: 0x02,
  Set: 0x03,
  Remove: 0x04,
  /** The client no longer wants the answer to request `id`; nothing is answered. */
  Cancel: 0x05,
  /** Answered with an empty OK: a cheap liveness check. */
  Ping: 0x06,
  /**
   * The node's stats: the payload is a JSON NodeStatsRequest, the OK answer's
   * body the JSON NodeStats. A server of protocol 1 before it closes the
   * connection on it (an unknown type), so clients send it on a connection of
   * its own.
   */
  Stats: 0x07,
  /**
   * The W3C trace context of request `id`, sent right before it (tracing on); nothing is
   * answered.
   */
  Trace: 0x08,
  /**
   * A group's generation (see `Group.clear`), f64: sent right before request `id` by a
   * client, or right before the answer to `id` by a server, only when it is not 0;
   * nothing is answered.
   */
  Generation: 0x09,
  /**
   * A group's clear notice: laid out as a REMOVE with an empty key, right after the
   * GENERATION frame of the same id that carries the generation; answered OK.
   */
  Clear: 0x0a,
  /**
   * Many keys of one group, answered together, key by key (protocol 2: sent only on a
   * connection whose HELLO the server accepted with an OK).
   */
  GetMany: 0x0b,
  /** The answer to request `id`: a status byte, then a body. */
  Response: 0x80,
} as const;

/**
 * RING_IDS numbers the ring kinds in the HELLO's `ring` byte; 0 means the
 * client did not say (a version before the byte, or a client with no node).
 */
export const RING_IDS: Readonly<Record<RingKind, number>> = {
  golang: 1,
  mailgun: 2,
  'groupcache-go': 3,
  balanced: 4,
};

/** ringOfId names the ring kind of a HELLO's `ring` byte: undefined for 0 or an unknown id. */
export function ringOfId(id: number): RingKind | undefined {
  for (const [kind, n] of Object.entries(RING_IDS)) if (n === id) return kind as RingKind;
  return undefined;
}

/** LENGTH_BYTES is the size of the length prefix that starts every frame. */
export const LENGTH_BYTES = 4;
/** HEADER_BYTES is the part of a frame the length counts first: type (1) and id (4). */
export const HEADER_BYTES = 5;
/** REQUEST_FIXED_BYTES is GET/REMOVE's fixed part: timeout (4), group length (2), key length (2). */
export const REQUEST_FIXED_BYTES = 8;
/** SET_FIXED_BYTES is SET's fixed part: the request's, then expireAt (8). */
export const SET_FIXED_BYTES = REQUEST_FIXED_BYTES + 8;
/** GET_OK_FIXED_BYTES is an OK GET answer's fixed part: status (1), expireAt (8), minuteQps (8). */
export const GET_OK_FIXED_BYTES = 17;
/** MAX_GROUP_BYTES is the largest group name on the wire, in UTF-8 bytes. */
export const MAX_GROUP_BYTES = 1024;
/** MAX_SECRET_BYTES is the largest secret a HELLO may carry. */
export const MAX_SECRET_BYTES = 1024;
/** MAX_HELLO_FRAME is the largest HELLO frame (after the length prefix): header, fixed part, secret. */
export const MAX_HELLO_FRAME = HEADER_BYTES + 4 + MAX_SECRET_BYTES;
/** MAX_MESSAGE_BYTES is the largest error message an answer carries; longer ones are cut. */
export const MAX_MESSAGE_BYTES = 1024;
/** MAX_TIMEOUT_MS is the largest time left a request carries (u32); 0 means none. */
export const MAX_TIMEOUT_MS = 0xffff_ffff;

/** OK is the status of a successful answer; the others are {@link statusOf}'s. */
export const OK = 0;
/**
 * SKIPPED is a GET_MANY key's status when its answer did not fit in the answer's room
 * (`maxAnswerBytes`): the client asks for it again with a GET.
 */
export const SKIPPED = 0xff;

/** GET_MANY_FIXED_BYTES is GET_MANY's fixed part: timeout (4), maxAnswerBytes (4), group length (2), key count (2). */
export const GET_MANY_FIXED_BYTES = 12;
/** MAX_BATCH_FRAME is the largest GET_MANY frame (after the length prefix) a batch within the limits makes. */
export const MAX_BATCH_FRAME =
  HEADER_BYTES + GET_MANY_FIXED_BYTES + MAX_GROUP_BYTES + 2 * MAX_BATCH_KEYS + MAX_BATCH_KEY_BYTES;
/** A GET_MANY answer's OK entry before its value: status (1), expireAt (8), minuteQps (8), value length (4). */
const MANY_OK_FIXED_BYTES = 21;
/** A GET_MANY answer's error entry before its message: status (1), message length (2). */
const MANY_ERROR_FIXED_BYTES = 3;
/** MAX_BATCH_MESSAGE_BYTES is the longest error message of one GET_MANY key; longer ones are cut. */
export const MAX_BATCH_MESSAGE_BYTES = 256;

const codes: readonly ErrorCode[] = [
  'NOT_FOUND',
  'INVALID_ARGUMENT',
  'TOO_LARGE',
  'ALREADY_EXISTS',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'CANCELLED',
  'UNAUTHENTICATED',
  'INTERNAL',
];

/** statusOf is the status byte of an error code: 1 (NOT_FOUND) to 9 (INTERNAL). */
export function statusOf(code: ErrorCode): number {
  return codes.indexOf(code) + 1;
}

/** codeOf is the error code of a non-OK status byte, or undefined for one no version defines. */
export function codeOf(status: number): ErrorCode | undefined {
  return codes[status - 1];
}

/**
 * maxRequestFrame is the largest request frame (after the length prefix) a
 * server with these limits reads; anything declared larger closes the connection.
 */
export function maxRequestFrame(maxKeyBytes: number, maxValueBytes: number): number {
  return Math.max(
    HEADER_BYTES + SET_FIXED_BYTES + MAX_GROUP_BYTES + maxKeyBytes + maxValueBytes,
    MAX_BATCH_FRAME,
  );
}

/** maxResponseFrame is the largest answer frame (after the length prefix) a client reads. */
export function maxResponseFrame(maxValueBytes: number): number {
  return HEADER_BYTES + Math.max(GET_OK_FIXED_BYTES + maxValueBytes, 1 + MAX_MESSAGE_BYTES);
}

/**
 * encodeHello builds the HELLO frame, carrying `secret` (empty when there is
 * none), the client's ring kind (0, unsaid, when there is none) and its protocol
 * `version`: by default 1, whose HELLO is never answered once accepted (a
 * connection of one call, such as STATS, wants no other answer); a client that
 * sends GET_MANY announces {@link PROTOCOL_VERSION} (see dial.ts, which builds each
 * connection's HELLO).
 */
export function encodeHello(secret: string | undefined, ring?: RingKind, version = 1): Buffer {
  const bytes = Buffer.from(secret ?? '', 'utf8');
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + 4 + bytes.length);
  frame.writeUInt32BE(HEADER_BYTES + 4 + bytes.length, 0);
  frame[4] = FrameType.Hello;
  frame.writeUInt32BE(0, 5);
  frame[9] = version;
  frame[10] = ring === undefined ? 0 : RING_IDS[ring];
  frame.writeUInt16BE(bytes.length, 11);
  bytes.copy(frame, 13);
  return frame;
}

/**
 * encodeRequest builds a GET, SET or REMOVE frame. `groupBytes` and `keyBytes`
 * are the UTF-8 lengths of `group` and `key`, measured by the caller.
 */
export function encodeRequest(
  type: number,
  id: number,
  timeoutMs: number,
  group: string,
  groupBytes: number,
  key: string,
  keyBytes: number,
  value?: Uint8Array,
  expireAt = 0,
): Buffer {
  const fixed = type === FrameType.Set ? SET_FIXED_BYTES : REQUEST_FIXED_BYTES;
  const valueBytes = value?.byteLength ?? 0;
  const length = HEADER_BYTES + fixed + groupBytes + keyBytes + valueBytes;
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + length);
  frame.writeUInt32BE(length, 0);
  frame[4] = type;
  frame.writeUInt32BE(id, 5);
  frame.writeUInt32BE(timeoutMs, 9);
  frame.writeUInt16BE(groupBytes, 13);
  frame.writeUInt16BE(keyBytes, 15);
  let at = 17;
  if (type === FrameType.Set) {
    frame.writeDoubleBE(expireAt, at);
    at += 8;
  }
  at += frame.write(group, at, groupBytes, 'utf8');
  at += frame.write(key, at, keyBytes, 'utf8');
  if (value !== undefined && valueBytes > 0) frame.set(value, at);
  return frame;
}

/**
 * encodeHelloOk builds a server's OK to a HELLO of version 2 or later: id 0, its body the
 * version the server speaks.
 */
export function encodeHelloOk(): Buffer {
  return encodeOkBody(0, Uint8Array.of(PROTOCOL_VERSION));
}

/**
 * encodeGetMany builds a GET_MANY frame: `keyBytes[i]` is the UTF-8 length of `keys[i]`,
 * measured by the caller; `maxAnswerBytes` is the most bytes the answer's entries may take.
 */
export function encodeGetMany(
  id: number,
  timeoutMs: number,
  maxAnswerBytes: number,
  group: string,
  groupBytes: number,
  keys: readonly string[],
  keyBytes: readonly number[],
): Buffer {
  let length = HEADER_BYTES + GET_MANY_FIXED_BYTES + groupBytes + 2 * keys.length;
  for (const n of keyBytes) length += n;
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + length);
  frame.writeUInt32BE(length, 0);
  frame[4] = FrameType.GetMany;
  frame.writeUInt32BE(id, 5);
  frame.writeUInt32BE(timeoutMs, 9);
  frame.writeUInt32BE(maxAnswerBytes, 13);
  frame.writeUInt16BE(groupBytes, 17);
  frame.writeUInt16BE(keys.length, 19);
  let at = 21 + frame.write(group, 21, groupBytes, 'utf8');
  keys.forEach((key, i) => {
    const n = keyBytes[i] as number;
    frame.writeUInt16BE(n, at);
    at += 2 + frame.write(key, at + 2, n, 'utf8');
  });
  return frame;
}

/** ManyRequest is a GET_MANY frame's payload, read: the keys as byte ranges of the frame. */
export interface ManyRequest {
  timeoutMs: number;
  maxAnswerBytes: number;
  /** The group's bytes: `[groupAt, groupEnd)`. */
  groupAt: number;
  groupEnd: number;
  /** Each key's bytes: `[keyAt[i], keyEnd[i])`. */
  keyAt: number[];
  keyEnd: number[];
}

/**
 * readGetMany reads the GET_MANY payload `buf[at, end)`; a string says what is malformed
 * (lengths that do not match the frame): the connection is then closed.
 */
export function readGetMany(buf: Buffer, at: number, end: number): ManyRequest | string {
  if (end - at < GET_MANY_FIXED_BYTES) return 'truncated GET_MANY';
  const groupBytes = buf.readUInt16BE(at + 8);
  const count = buf.readUInt16BE(at + 10);
  const groupAt = at + GET_MANY_FIXED_BYTES;
  const request: ManyRequest = {
    timeoutMs: buf.readUInt32BE(at),
    maxAnswerBytes: buf.readUInt32BE(at + 4),
    groupAt,
    groupEnd: groupAt + groupBytes,
    keyAt: new Array(count),
    keyEnd: new Array(count),
  };
  let p = request.groupEnd;
  for (let i = 0; i < count; i++) {
    if (p + 2 > end) return 'GET_MANY: lengths do not match the frame';
    const n = buf.readUInt16BE(p);
    request.keyAt[i] = p + 2;
    p += 2 + n;
    request.keyEnd[i] = p;
  }
  if (p !== end) return 'GET_MANY: lengths do not match the frame';
  return request;
}

/**
 * ManyEntry is one key's outcome in a GET_MANY answer: a value (its bytes a view of the
 * value to copy), an error (a status from 1 to 9 and its message), or SKIPPED.
 */
export type ManyEntry =
  | { status: typeof OK; expireAt: number; minuteQps: number; value: Uint8Array }
  | { status: number; message: string };

/**
 * encodeGetManyAnswer builds the OK answer of GET_MANY `id`: one entry per key, in the
 * request's order. Entries take at most `maxAnswerBytes` together: an entry that would go
 * past it (leaving a byte for each key after it) is sent SKIPPED instead; error messages
 * are cut to {@link MAX_BATCH_MESSAGE_BYTES}.
 */
export function encodeGetManyAnswer(
  id: number,
  entries: readonly ManyEntry[],
  maxAnswerBytes: number,
): Buffer {
  const messages: Array<Buffer | undefined> = new Array(entries.length);
  // sizes[i] is entry i's bytes; 1 for an entry sent SKIPPED.
  const sizes: number[] = new Array(entries.length);
  // Every entry takes 1 byte at least: what is left is the room for what they take past it.
  let room = maxAnswerBytes - entries.length;
  let total = 0;
  entries.forEach((entry, i) => {
    let size = 1;
    if ('value' in entry) size = MANY_OK_FIXED_BYTES + entry.value.byteLength;
    else if (entry.status !== SKIPPED) {
      const text = Buffer.from(entry.message, 'utf8');
      const cut = text.subarray(0, Math.min(text.length, MAX_BATCH_MESSAGE_BYTES));
      messages[i] = cut;
      size = MANY_ERROR_FIXED_BYTES + cut.length;
    }
    if (size - 1 > room) size = 1;
    else room -= size - 1;
    sizes[i] = size;
    total += size;
  });
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + 1 + total);
  frame.writeUInt32BE(HEADER_BYTES + 1 + total, 0);
  frame[4] = FrameType.Response;
  frame.writeUInt32BE(id, 5);
  frame[9] = OK;
  let at = 10;
  entries.forEach((entry, i) => {
    const size = sizes[i] as number;
    if (size === 1) {
      frame[at++] = SKIPPED;
      return;
    }
    frame[at] = entry.status;
    if ('value' in entry) {
      frame.writeDoubleBE(entry.expireAt, at + 1);
      frame.writeDoubleBE(entry.minuteQps, at + 9);
      frame.writeUInt32BE(entry.value.byteLength, at + 17);
      frame.set(entry.value, at + MANY_OK_FIXED_BYTES);
    } else {
      const text = messages[i] as Buffer;
      frame.writeUInt16BE(text.length, at + 1);
      text.copy(frame, at + MANY_ERROR_FIXED_BYTES);
    }
    at += size;
  });
  return frame;
}

/**
 * readGetManyAnswer reads the entries of an OK GET_MANY answer, `buf[at, end)` after its
 * status byte, for `count` keys; a string says what is malformed. Each value is a copy of
 * its own ({@link ownedCopy}): `buf` may be a read buffer that the next read overwrites.
 */
export function readGetManyAnswer(
  buf: Buffer,
  at: number,
  end: number,
  count: number,
): ManyEntry[] | string {
  const entries: ManyEntry[] = new Array(count);
  let p = at;
  for (let i = 0; i < count; i++) {
    if (p >= end) return 'a truncated GET_MANY answer';
    const status = buf[p] as number;
    if (status === OK) {
      if (p + MANY_OK_FIXED_BYTES > end) return 'a truncated GET_MANY answer';
      const n = buf.readUInt32BE(p + 17);
      const valueAt = p + MANY_OK_FIXED_BYTES;
      if (valueAt + n > end) return 'a truncated GET_MANY answer';
      entries[i] = {
        status: OK,
        expireAt: buf.readDoubleBE(p + 1),
        minuteQps: buf.readDoubleBE(p + 9),
        value: ownedCopy(buf.subarray(valueAt, valueAt + n)),
      };
      p = valueAt + n;
    } else if (status === SKIPPED) {
      entries[i] = { status, message: '' };
      p += 1;
    } else {
      if (p + MANY_ERROR_FIXED_BYTES > end) return 'a truncated GET_MANY answer';
      const n = buf.readUInt16BE(p + 1);
      const textAt = p + MANY_ERROR_FIXED_BYTES;
      if (textAt + n > end) return 'a truncated GET_MANY answer';
      entries[i] = { status, message: buf.toString('utf8', textAt, textAt + n) };
      p = textAt + n;
    }
  }
  if (p !== end) return 'a GET_MANY answer longer than its entries';
  return entries;
}

/** encodeCancel builds the CANCEL frame of request `id`. */
export function encodeCancel(id: number): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES);
  frame.writeUInt32BE(HEADER_BYTES, 0);
  frame[4] = FrameType.Cancel;
  frame.writeUInt32BE(id, 5);
  return frame;
}

/** MAX_TRACEPARENT_BYTES is the largest trace context a TRACE frame carries. */
export const MAX_TRACEPARENT_BYTES = 128;

/**
 * encodeTrace builds the TRACE frame of request `id`: `traceparent` as ASCII. Undefined for
 * one that is not printable ASCII or longer than {@link MAX_TRACEPARENT_BYTES}: it is not sent.
 */
export function encodeTrace(id: number, traceparent: string): Buffer | undefined {
  if (traceparent.length > MAX_TRACEPARENT_BYTES || !/^[\x21-\x7e]*$/.test(traceparent)) {
    return undefined;
  }
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + traceparent.length);
  frame.writeUInt32BE(HEADER_BYTES + traceparent.length, 0);
  frame[4] = FrameType.Trace;
  frame.writeUInt32BE(id, 5);
  frame.write(traceparent, LENGTH_BYTES + HEADER_BYTES, 'latin1');
  return frame;
}

/** GENERATION_BYTES is a GENERATION frame's payload: the generation, f64. */
export const GENERATION_BYTES = 8;

/** encodeGeneration builds the GENERATION frame of request (or answer) `id`. */
export function encodeGeneration(id: number, generation: number): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + GENERATION_BYTES);
  frame.writeUInt32BE(HEADER_BYTES + GENERATION_BYTES, 0);
  frame[4] = FrameType.Generation;
  frame.writeUInt32BE(id, 5);
  frame.writeDoubleBE(generation, LENGTH_BYTES + HEADER_BYTES);
  return frame;
}

/** encodePing builds the PING frame of request `id`. */
export function encodePing(id: number): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES);
  frame.writeUInt32BE(HEADER_BYTES, 0);
  frame[4] = FrameType.Ping;
  frame.writeUInt32BE(id, 5);
  return frame;
}

/** MAX_STATS_REQUEST_BYTES bounds a STATS frame's JSON payload. */
export const MAX_STATS_REQUEST_BYTES = 8 * 1024;

/** encodeFrame builds a frame of `type` and `id` whose payload is `payload`. */
export function encodeFrame(type: number, id: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + payload.byteLength);
  frame.writeUInt32BE(HEADER_BYTES + payload.byteLength, 0);
  frame[4] = type;
  frame.writeUInt32BE(id, 5);
  frame.set(payload, LENGTH_BYTES + HEADER_BYTES);
  return frame;
}

/** encodeOkBody builds an OK answer whose body is `body` (STATS). */
export function encodeOkBody(id: number, body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + 1 + body.byteLength);
  frame.writeUInt32BE(HEADER_BYTES + 1 + body.byteLength, 0);
  frame[4] = FrameType.Response;
  frame.writeUInt32BE(id, 5);
  frame[9] = OK;
  frame.set(body, 10);
  return frame;
}

/** encodeOk builds an OK answer with no body (SET, REMOVE, PING). */
export function encodeOk(id: number): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + 1);
  frame.writeUInt32BE(HEADER_BYTES + 1, 0);
  frame[4] = FrameType.Response;
  frame.writeUInt32BE(id, 5);
  frame[9] = OK;
  return frame;
}

/**
 * encodeGetOkHeader builds an OK GET answer up to (not including) the value's
 * `valueBytes` bytes, with `extra` bytes of room after it for the caller to
 * copy the value into (0 to send the value as a chunk of its own).
 */
export function encodeGetOkHeader(
  id: number,
  expireAt: number,
  minuteQps: number,
  valueBytes: number,
  extra: number,
): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + GET_OK_FIXED_BYTES + extra);
  frame.writeUInt32BE(HEADER_BYTES + GET_OK_FIXED_BYTES + valueBytes, 0);
  frame[4] = FrameType.Response;
  frame.writeUInt32BE(id, 5);
  frame[9] = OK;
  frame.writeDoubleBE(expireAt, 10);
  frame.writeDoubleBE(minuteQps, 18);
  return frame;
}

/** encodeError builds a failed answer: the status of `code` and `message`, cut to its limit. */
export function encodeError(id: number, code: ErrorCode, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const n = Math.min(text.length, MAX_MESSAGE_BYTES);
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_BYTES + 1 + n);
  frame.writeUInt32BE(HEADER_BYTES + 1 + n, 0);
  frame[4] = FrameType.Response;
  frame.writeUInt32BE(id, 5);
  frame[9] = statusOf(code);
  text.copy(frame, 10, 0, n);
  return frame;
}

/**
 * FrameHandler receives each whole frame: `buf[start, end)` is the frame after
 * its length prefix (type, id, payload). The reader never reuses them, but they
 * are a view of the chunk it was given, which its caller may reuse (a client's
 * connection reads into one buffer): a handler of such a reader copies what it keeps.
 */
export type FrameHandler = (buf: Buffer, start: number, end: number) => void;

/**
 * FrameReader splits a byte stream into frames. A frame whose declared length
 * is under {@link HEADER_BYTES} or over `maxFrame` is an error at once, before
 * any of its bytes are buffered; a frame that arrives in pieces is gathered as
 * a list of copied pieces and joined once, when complete. Frames wholly inside one
 * chunk are handed over as views of it, with no copy. It keeps nothing of a chunk
 * past {@link FrameReader.push}, so a chunk may be a read buffer used again.
 */
export class FrameReader {
  #maxFrame: number;
  readonly #onFrame: FrameHandler;
  // The chunks of the frame being gathered (its length prefix included), and their total size.
  #parts: Buffer[] = [];
  #partBytes = 0;
  // The gathered frame's full size (prefix included), once its prefix is known; 0 before.
  #need = 0;
  #failed = false;

  constructor(maxFrame: number, onFrame: FrameHandler) {
    this.#maxFrame = maxFrame;
    this.#onFrame = onFrame;
  }

  /** buffered is the number of bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#partBytes;
  }

  /**
   * expecting is the full size (length prefix included) of the incomplete frame
   * being gathered, once its length prefix has arrived; 0 otherwise.
   */
  get expecting(): number {
    return this.#need;
  }

  /**
   * maxFrame is the largest frame accepted from now on. Raising it during a
   * frame handler applies to the frames after that one in the same chunk
   * (a server reads only a HELLO's worth until the HELLO is accepted).
   */
  get maxFrame(): number {
    return this.#maxFrame;
  }

  set maxFrame(n: number) {
    this.#maxFrame = n;
  }

  /** stop makes the reader drop the rest of its input: the connection is going away. */
  stop(): void {
    this.#failed = true;
    this.#parts = [];
    this.#partBytes = 0;
    this.#need = 0;
  }

  /**
   * push feeds `chunk` in, handing each whole frame to the handler. Returns an
   * error message when the stream is malformed (a bad declared length); the
   * reader then refuses all further input, and the connection must be closed.
   */
  push(chunk: Buffer): string | undefined {
    if (this.#failed) return 'the stream already failed';
    let buf = chunk;
    let at = 0;
    if (this.#partBytes > 0) {
      if (this.#need === 0) {
        // Fewer than 4 bytes of a length prefix were held: join them with the new chunk.
        buf = Buffer.concat([...this.#parts, chunk]);
        this.#parts = [];
        this.#partBytes = 0;
      } else {
        const missing = this.#need - this.#partBytes;
        if (chunk.length < missing) {
          this.#parts.push(Buffer.from(chunk));
          this.#partBytes += chunk.length;
          return undefined;
        }
        this.#parts.push(chunk.subarray(0, missing));
        const frame = Buffer.concat(this.#parts, this.#need);
        this.#parts = [];
        this.#partBytes = 0;
        this.#need = 0;
        this.#onFrame(frame, LENGTH_BYTES, frame.length);
        at = missing;
        if (this.#failed) return undefined;
      }
    }
    while (buf.length - at >= LENGTH_BYTES && !this.#failed) {
      const length = buf.readUInt32BE(at);
      if (length < HEADER_BYTES || length > this.#maxFrame) {
        this.#failed = true;
        this.#parts = [];
        this.#partBytes = 0;
        this.#need = 0;
        return `bad frame length ${length} (allowed ${HEADER_BYTES} to ${this.#maxFrame})`;
      }
      const end = at + LENGTH_BYTES + length;
      if (end > buf.length) {
        this.#need = LENGTH_BYTES + length;
        break;
      }
      this.#onFrame(buf, at + LENGTH_BYTES, end);
      at = end;
    }
    if (at < buf.length && !this.#failed) {
      // A copy: the chunk may be a read buffer that the next read overwrites.
      const rest = Buffer.from(buf.subarray(at));
      this.#parts.push(rest);
      this.#partBytes = rest.length;
    }
    return undefined;
  }
}
