// watchdog.ts: when a tcp server connection must be cut for taking too long: the HELLO, a frame
// begun and not finished, or nothing to do at all.

/** ConnectionLimits are the time limits of one server connection, in ms. */
export interface ConnectionLimits {
  /** From accept (after TLS) to an accepted HELLO. */
  readonly handshakeTimeoutMs: number;
  /** From the first byte of a frame to its last. */
  readonly readTimeoutMs: number;
  /** With no request in flight and no frame begun, since the last activity. */
  readonly idleTimeoutMs: number;
}

/** ConnectionState is what the watchdog reads of a connection; times are ms since the epoch. */
export interface ConnectionState {
  /** When the connection was accepted. */
  readonly acceptedAt: number;
  /** Whether its HELLO was accepted. */
  readonly helloed: boolean;
  /** When the frame now being gathered began; undefined when no frame is incomplete. */
  readonly frameSince: number | undefined;
  /** Whether requests are in flight (their own deadlines bound them). */
  readonly busy: boolean;
  /** The last activity: the last bytes read, or the last request answered. */
  readonly activeAt: number;
}

/** Overdue says why a connection is cut. */
export type Overdue = 'handshake' | 'read' | 'idle';

/** WatchdogDeadline is the next time a connection must be checked, and what for. */
export interface WatchdogDeadline {
  /** ms since the epoch; Infinity when nothing can make the connection overdue. */
  readonly at: number;
  readonly reason: Overdue | undefined;
}

/**
 * watchdogDeadline is when `state` becomes overdue under `limits` if nothing
 * changes: a connection not yet through its HELLO has only the handshake
 * timeout (it covers slow frames and silence alike); after it, a frame begun
 * must finish within the read timeout, and a connection with no frame begun
 * and nothing in flight is cut after the idle timeout.
 */
export function watchdogDeadline(
  state: ConnectionState,
  limits: ConnectionLimits,
): WatchdogDeadline {
  if (!state.helloed) {
    return { at: state.acceptedAt + limits.handshakeTimeoutMs, reason: 'handshake' };
  }
  if (state.frameSince !== undefined) {
    return { at: state.frameSince + limits.readTimeoutMs, reason: 'read' };
  }
  if (state.busy) return { at: Number.POSITIVE_INFINITY, reason: undefined };
  return { at: state.activeAt + limits.idleTimeoutMs, reason: 'idle' };
}
