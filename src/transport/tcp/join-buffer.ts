// join-buffer.ts: one buffer a connection joins its small frames into for a write, reused
// once the socket has handed every earlier write to the kernel.
import type { Socket } from 'node:net';

/** JOIN_BUFFER_BYTES is the size of the buffer a connection reuses; larger joins are concatenated. */
export const JOIN_BUFFER_BYTES = 32 * 1024;

/**
 * JoinBuffer joins the frames of one write into a buffer the connection keeps, instead
 * of a new `Buffer.concat` per write (an `ArrayBuffer` each, past Node's 4 KiB pool
 * limit). The buffer is written into again only when the socket's `writableLength` is
 * 0: every earlier write, the one from this buffer included, has then been handed to
 * the kernel, and nothing refers to its bytes. While a write is pending (a peer slow to
 * read, TLS, whose writes complete later), or for a join larger than
 * {@link JOIN_BUFFER_BYTES}, the frames are concatenated into a buffer of their own as
 * before. A connection that has joined a write keeps its buffer until it is dropped.
 */
export class JoinBuffer {
  readonly #socket: Socket;
  #buffer: Buffer | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** join copies `chunks` (`bytes` in all) into one buffer, and returns it for one write. */
  join(chunks: readonly Uint8Array[], bytes: number): Buffer {
    if (bytes > JOIN_BUFFER_BYTES || this.#socket.writableLength !== 0) {
      return Buffer.concat(chunks, bytes);
    }
    this.#buffer ??= Buffer.allocUnsafeSlow(JOIN_BUFFER_BYTES);
    const buffer = this.#buffer;
    let at = 0;
    for (const chunk of chunks) {
      buffer.set(chunk, at);
      at += chunk.length;
    }
    return buffer.subarray(0, bytes);
  }
}
