// limits.ts: the gRPC server's per-call limits, as a grpc-js server interceptor: the peer
// secret checked on a call's metadata before its message is read, the message's bytes reserved
// from the server-wide budget before reading begins, and a read timeout on the message.
import {
  type Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status as Status,
} from '@grpc/grpc-js';
import type { SecretCheck } from '../../security/secret.js';
import { AUTHORIZATION } from '../../security/secret.js';
import type { ByteBudget } from '../../util/byte-budget.js';
import { GROUP_CACHE_SERVICE } from './service.js';

/** CallLimits are what {@link limitCalls} enforces. */
export interface CallLimits {
  /** The peer secret's check on GroupCache calls; undefined: no secret. */
  authorized: SecretCheck | undefined;
  /** Told of each call refused for its peer secret, with the caller's address. Default: none. */
  onRefused?: ((remote: string) => void) | undefined;
  /** The server-wide budget of request bytes being received or held. */
  inflight: ByteBudget;
  /** The most bytes a Set or GetMany message may have (the server's receive limit). */
  maxSetBytes: number;
  /** The most bytes any other request (Get, Remove, a health check) needs: a key and a group name. */
  maxSmallBytes: number;
  /** A request message must arrive in full within this many ms of the call asking for it. */
  readTimeoutMs: number;
}

const groupCachePrefix = `/${GROUP_CACHE_SERVICE}/`;
const setPath = `${groupCachePrefix}Set`;
const getManyPath = `${groupCachePrefix}GetMany`;
const exchangePath = `${groupCachePrefix}Exchange`;

/**
 * limitCalls returns the interceptor that guards every call before its handler
 * sees it:
 *
 * 1. A GroupCache call without the right `authorization` metadata is answered
 *    UNAUTHENTICATED from its metadata alone. The handler never asks for the
 *    message, so grpc-js leaves the HTTP/2 stream paused: at most one flow
 *    control window of it is ever received, and nothing is decoded.
 * 2. When the call first asks for its message, the bytes it may need are
 *    reserved from the server-wide budget: the receive limit for a Set (gRPC
 *    sends no length before the message), a key and a group name for the rest.
 *    When they do not fit, the call is answered UNAVAILABLE and its message is
 *    never read. Once a Set's message is in, its reservation shrinks to what
 *    the message holds; every reservation is given back when the call ends.
 * 3. The message must arrive within `readTimeoutMs` of being asked for, or the
 *    call is answered DEADLINE_EXCEEDED (a client sending it too slowly).
 *
 * A GetMany is reserved for as a Set is, its reservation shrinking to its keys.
 * The Exchange stream is checked for its secret only: it is long-lived and may
 * rightly be quiet, and it holds one message at a time (within the receive
 * limit) and a bounded number of requests in flight (see ExchangeServer).
 */
export function limitCalls(limits: CallLimits): ServerInterceptor {
  return (method, call) => new LimitedCall(call, method.path, limits);
}

/**
 * LimitedCall is one call under {@link limitCalls}. Its state changes on grpc-js
 * events only, all on the one thread; `#held` is what it has reserved, given
 * back exactly once by `#finish`.
 */
class LimitedCall extends ServerInterceptingCall {
  readonly #next: ServerInterceptingCallInterface;
  readonly #path: string;
  readonly #limits: CallLimits;
  #held = 0;
  #reading = false;
  #finished = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(next: ServerInterceptingCallInterface, path: string, limits: CallLimits) {
    super(next, {
      start: (proceed) =>
        proceed({
          onReceiveMetadata: (metadata, forward) => this.#onMetadata(metadata, forward),
          onReceiveMessage: (message, forward) => {
            this.#onMessage(message);
            forward(message);
          },
          onCancel: () => this.#finish(),
        }),
      sendStatus: (status, forward) => {
        this.#finish();
        forward(status);
      },
    });
    this.#next = next;
    this.#path = path;
    this.#limits = limits;
  }

  #onMetadata(metadata: Metadata, forward: (metadata: Metadata) => void): void {
    const { authorized } = this.#limits;
    if (
      authorized !== undefined &&
      this.#path.startsWith(groupCachePrefix) &&
      !authorized(metadata.get(AUTHORIZATION))
    ) {
      // Not forwarded: the handler never starts, so the message is never asked for.
      this.#limits.onRefused?.(this.#next.getPeer());
      this.#refuse(Status.UNAUTHENTICATED, 'unauthenticated: missing or wrong peer secret');
      return;
    }
    forward(metadata);
  }

  override startRead(): void {
    if (this.#finished) return;
    if (this.#path === exchangePath) {
      super.startRead();
      return;
    }
    // A unary handler asks twice: for the message, then for the end of the stream.
    if (!this.#reading) {
      this.#reading = true;
      const large = this.#path === setPath || this.#path === getManyPath;
      const bytes = large ? this.#limits.maxSetBytes : this.#limits.maxSmallBytes;
      if (!this.#limits.inflight.tryReserve(bytes)) {
        this.#refuse(
          Status.UNAVAILABLE,
          `peer server busy: request bytes in flight are at the limit of ${this.#limits.inflight.limit}`,
        );
        return;
      }
      this.#held = bytes;
      this.#timer = setTimeout(
        () =>
          this.#refuse(
            Status.DEADLINE_EXCEEDED,
            `request message not received within ${this.#limits.readTimeoutMs} ms`,
          ),
        this.#limits.readTimeoutMs,
      );
      this.#timer.unref();
    }
    super.startRead();
  }

  #onMessage(message: unknown): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // A Set keeps its value until it is stored, a GetMany its keys until they are
    // answered: the reservation shrinks to what the message holds.
    const held = heldBytes(this.#path, message);
    if (held !== undefined && this.#held > held) {
      this.#limits.inflight.release(this.#held - held);
      this.#held = held;
    }
  }

  #refuse(code: Status, details: string): void {
    this.#finish();
    this.#next.sendStatus({ code, details });
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    this.#limits.inflight.release(this.#held);
    this.#held = 0;
  }
}

/** heldBytes is what a Set or GetMany message keeps while it is served; undefined for others. */
function heldBytes(path: string, message: unknown): number | undefined {
  if (path === setPath) {
    const value = (message as { value?: unknown } | null)?.value;
    return value instanceof Uint8Array ? value.byteLength : undefined;
  }
  if (path === getManyPath) {
    const keys = (message as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) return undefined;
    let bytes = 0;
    // UTF-16 units times 3 bound the UTF-8 bytes, without encoding anything.
    for (const key of keys) bytes += typeof key === 'string' ? 3 * key.length + 16 : 0;
    return bytes;
  }
  return undefined;
}
