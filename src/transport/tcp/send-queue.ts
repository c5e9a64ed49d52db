// send-queue.ts: the tcp client's bounded queue of frames to one peer: written only as fast as
// the socket drains, and a frame withdrawn before it was written is never written.
import type { Socket } from 'node:net';
import { JoinBuffer } from './join-buffer.js';
import { joinLimit, maxBatchFrames } from './outbox.js';

/** Queued is one frame in a {@link SendQueue}; its `frame` is let go once written or withdrawn. */
export interface Queued {
  frame: Buffer | undefined;
}

/** SendQueueLimits bound what one queue holds unwritten. */
export interface SendQueueLimits {
  /** Frames waiting to be written. */
  readonly maxRequests: number;
  /** Bytes of frames waiting to be written; one frame is let in when none waits, whatever its size. */
  readonly maxBytes: number;
}

/**
 * SendQueue holds the frames a client sends on one connection until the
 * socket can take them: nothing is written before {@link SendQueue.open} (the
 * connection is made), and nothing more while the socket's write buffer is
 * over its high-water mark (`write()` returned false) until 'drain'. So what
 * waits is in this queue, counted and bounded, where a caller that gives up
 * can take its frame back ({@link SendQueue.withdraw}) before it goes out.
 *
 * Frames offered within one turn of the event loop are written together at
 * its end, joined into one buffer up to 64 KiB (a larger frame goes alone, not
 * copied); 16 frames waiting are written at once, as the server's outbox does.
 */
export class SendQueue {
  readonly #socket: Socket;
  readonly #limits: SendQueueLimits;
  readonly #join: JoinBuffer;
  /** Entries in order; those before `#head` are written or withdrawn. */
  #entries: Queued[] = [];
  #head = 0;
  /** Frames and bytes waiting (withdrawn ones not counted). */
  #waiting = 0;
  #bytes = 0;
  #open = false;
  #scheduled = false;
  #closed = false;
  readonly #flush = () => this.flush();

  constructor(socket: Socket, limits: SendQueueLimits) {
    this.#socket = socket;
    this.#join = new JoinBuffer(socket);
    this.#limits = limits;
    socket.on('drain', this.#flush);
  }

  /** waiting is the number of frames waiting to be written. */
  get waiting(): number {
    return this.#waiting;
  }

  /** bytes is the number of bytes of frames waiting to be written. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * offer queues `frame` and returns its entry, or returns undefined when the
   * queue is full (by frames or bytes) and `bounded`, or closed. Frames of the
   * connection itself (its HELLO, a probe) are offered unbounded.
   */
  offer(frame: Buffer, bounded = true): Queued | undefined {
    if (this.#closed) return undefined;
    if (bounded && this.#waiting > 0) {
      const limits = this.#limits;
      if (this.#waiting >= limits.maxRequests || this.#bytes + frame.length > limits.maxBytes) {
        return undefined;
      }
    }
    const entry: Queued = { frame };
    this.#entries.push(entry);
    this.#waiting++;
    this.#bytes += frame.length;
    if (this.#open && this.#waiting >= maxBatchFrames && !this.#socket.writableNeedDrain) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    return entry;
  }

  /** withdraw takes `entry` back: true when it was still waiting (it will never be written). */
  withdraw(entry: Queued): boolean {
    const frame = entry.frame;
    if (frame === undefined) return false;
    entry.frame = undefined;
    this.#waiting--;
    this.#bytes -= frame.length;
    // Withdrawn entries wait for the writer to pass them; while it cannot (a peer that does
    // not read), drop them here once they outnumber the live ones, so the list stays bounded.
    if (this.#entries.length - this.#head > 2 * this.#waiting + 1024) {
      this.#entries = this.#entries.slice(this.#head).filter((e) => e.frame !== undefined);
      this.#head = 0;
    }
    return true;
  }

  /** open lets writing begin: the connection is made. */
  open(): void {
    this.#open = true;
    this.flush();
  }

  /** close drops every waiting frame; later offers are refused. */
  close(): void {
    this.#closed = true;
    this.#entries = [];
    this.#head = 0;
    this.#waiting = 0;
    this.#bytes = 0;
    this.#socket.off('drain', this.#flush);
  }

  /** flush writes waiting frames until none is left or the socket's buffer is full. */
  flush(): void {
    this.#scheduled = false;
    const socket = this.#socket;
    if (!this.#open || this.#closed || socket.destroyed) return;
    const entries = this.#entries;
    while (this.#head < entries.length && !socket.writableNeedDrain) {
      const chunks: Buffer[] = [];
      let bytes = 0;
      while (this.#head < entries.length && chunks.length < maxBatchFrames) {
        const entry = entries[this.#head] as Queued;
        const frame = entry.frame;
        if (frame === undefined) {
          this.#head++;
          continue;
        }
        if (chunks.length > 0 && bytes + frame.length > joinLimit) break;
        entry.frame = undefined;
        this.#head++;
        chunks.push(frame);
        bytes += frame.length;
      }
      if (chunks.length === 0) break;
      this.#waiting -= chunks.length;
      this.#bytes -= bytes;
      // A write past the high-water mark returns false and sets writableNeedDrain: the loop
      // stops, and 'drain' brings it back.
      socket.write(chunks.length === 1 ? (chunks[0] as Buffer) : this.#join.join(chunks, bytes));
    }
    if (this.#head === entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
  }
}
