// join-buffer.ts: one buffer a connection joins its small frames into for a write, reused
// once the socket has handed every earlier write to the kernel.
import type { Socket } from 'node:net';

/** The smallest buffer a JoinBuffer keeps. */
const MIN_JOIN_BYTES = 16 * 1024;

/**
 * JoinBuffer joins the frames of one write into a buffer of its own, instead of a new
 * `Buffer.concat` per write (an `ArrayBuffer` each, past Node's 4 KiB pool limit).
 * The buffer is written into again only when the socket's `writableLength` is 0: every
 * earlier write, the one from this buffer included, has then been handed to the kernel,
 * and nothing refers to its bytes. While one is still pending, a fresh buffer takes over,
 * and the pending one is left to its write.
 */
export class JoinBuffer {
  readonly #socket: Socket;
  #buffer: Buffer | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** join copies `chunks` (`bytes` in all) into one buffer, and returns it for one write. */
  join(chunks: readonly Uint8Array[], bytes: number): Buffer {
    let buffer = this.#buffer;
    if (buffer === undefined || buffer.length < bytes || this.#socket.writableLength !== 0) {
      let size = MIN_JOIN_BYTES;
      while (size < bytes) size *= 2;
      buffer = Buffer.allocUnsafeSlow(size);
      this.#buffer = buffer;
    }
    let at = 0;
    for (const chunk of chunks) {
      buffer.set(chunk, at);
      at += chunk.length;
    }
    return buffer.subarray(0, bytes);
  }
}
