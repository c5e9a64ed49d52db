// stats-call.ts: the tcp transport's stats call, made on a connection of its own (HELLO,
// STATS, one answer, close), so a peer that does not know the frame closes only that one.

import {
  decodeNodeStats,
  MAX_NODE_STATS_BYTES,
  type NodeStats,
  type NodeStatsRequest,
} from '../../core/node-stats.js';
import type { CallOptions } from '../../core/peers.js';
import {
  abortError,
  DeadlineExceededError,
  errorFromCode,
  InvalidArgumentError,
  UnavailableError,
} from '../../errors.js';
import { MAX_TIMER_MS } from '../../util/clock.js';
import { type DialConfig, dialPeer, type PeerAddress } from './dial.js';
import {
  codeOf,
  encodeFrame,
  FrameReader,
  FrameType,
  HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_STATS_REQUEST_BYTES,
  OK,
} from './frame.js';

/** StatsConfig is how a stats call dials, and how long it may take. */
export interface StatsConfig extends DialConfig {
  /** requestTimeoutMs bounds the call on top of the caller's deadline, on `clock`. */
  requestTimeoutMs: number;
}

const STATS_ID = 1;
/**
 * The HELLO's version: 1, which the server never answers once it accepts it, so that the
 * STATS frame's is the one answer (a refusal, on id 0, fails the call).
 */
const STATS_HELLO_VERSION = 1;

/**
 * callStats dials `address` as the peer client does (see {@link dialPeer}), sends HELLO
 * and one STATS frame, and resolves with the answer. A peer that closes the connection
 * without answering (one that does not know the frame), cannot be reached or does not
 * accept the connection within the connect timeout fails it UNAVAILABLE; no answer by
 * the deadline (the caller's, within `config.requestTimeoutMs`) fails it
 * DeadlineExceededError; an error answer is its CacheError, marked remote.
 */
export function callStats(
  address: PeerAddress,
  config: StatsConfig,
  request: NodeStatsRequest,
  options?: CallOptions,
): Promise<NodeStats> {
  const url = address.url;
  const signal = options?.signal;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const payload = Buffer.from(JSON.stringify({ group: request.group, key: request.key }), 'utf8');
  if (payload.length > MAX_STATS_REQUEST_BYTES) {
    return Promise.reject(new InvalidArgumentError('stats request is over its size limit'));
  }
  const clock = config.clock;
  const now = clock.now();
  const deadline = Math.min(options?.deadline ?? Infinity, now + config.requestTimeoutMs);
  if (deadline <= now) {
    return Promise.reject(new DeadlineExceededError(`peer ${url}: the deadline has passed`));
  }
  return new Promise<NodeStats>((resolve, reject) => {
    const dial = dialPeer(address, config, STATS_HELLO_VERSION, {
      timedOut: () =>
        finish(
          new UnavailableError(
            `peer ${url}: Stats: connection failed (not connected within ${config.connectTimeoutMs} ms)`,
          ),
        ),
      read: (chunk) => {
        const problem = reader.push(chunk);
        if (problem !== undefined) finish(new UnavailableError(`peer ${url}: ${problem}`));
      },
    });
    const socket = dial.socket;
    let settled = false;
    let timer: unknown;
    const finish = (err: unknown, stats?: NodeStats) => {
      if (settled) return;
      settled = true;
      dial.stop();
      if (timer !== undefined) clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err === undefined) resolve(stats as NodeStats);
      else reject(err);
    };
    const onAbort = () => finish(abortError(signal as AbortSignal));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (deadline - now <= MAX_TIMER_MS) {
      timer = clock.setTimeout(
        () => finish(new DeadlineExceededError(`peer ${url}: Stats: no answer in time`)),
        deadline - now,
      );
    }
    const maxFrame = HEADER_BYTES + 1 + Math.max(MAX_NODE_STATS_BYTES, MAX_MESSAGE_BYTES);
    const reader = new FrameReader(maxFrame, (buf, start, end) => {
      const type = buf[start];
      const id = buf.readUInt32BE(start + 1);
      const status = buf[start + HEADER_BYTES];
      const body = buf.subarray(start + HEADER_BYTES + 1, end);
      if (
        type !== FrameType.Response ||
        (id !== STATS_ID && id !== 0) ||
        end - start < HEADER_BYTES + 1
      ) {
        finish(new UnavailableError(`peer ${url}: Stats: malformed answer`));
        return;
      }
      if (status !== OK) {
        const code = codeOf(status ?? 0) ?? 'INTERNAL';
        const message = body.toString('utf8');
        finish(errorFromCode(code, `peer ${url}: Stats: ${message}`, { remote: true }));
        return;
      }
      try {
        finish(undefined, decodeNodeStats(body));
      } catch (err) {
        finish(new UnavailableError(`peer ${url}: malformed stats answer`, { cause: err }));
      }
    });
    socket.on('error', (err) =>
      finish(new UnavailableError(`peer ${url}: Stats: ${err.message}`, { cause: err })),
    );
    socket.on('close', () =>
      finish(new UnavailableError(`peer ${url}: Stats: connection closed without an answer`)),
    );
    socket.write(dial.hello);
    socket.write(encodeFrame(FrameType.Stats, STATS_ID, payload));
  });
}
