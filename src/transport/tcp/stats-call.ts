// stats-call.ts: the tcp transport's stats call, made on a connection of its own (HELLO,
// STATS, one answer, close), so a peer that does not know the frame closes only that one.
import { connect as connectTcp, isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';
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
import type { ResolvedTls } from '../../security/tls.js';
import {
  codeOf,
  encodeFrame,
  encodeHello,
  FrameReader,
  FrameType,
  HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_STATS_REQUEST_BYTES,
  OK,
} from './frame.js';

/** StatsTarget is the peer a stats call dials, and how. */
export interface StatsTarget {
  url: string;
  host: string;
  port: number;
  secure: boolean;
  tls: ResolvedTls | undefined;
  peerSecret: string | undefined;
  /** requestTimeoutMs bounds the call on top of the caller's deadline. */
  requestTimeoutMs: number;
}

const STATS_ID = 1;

/**
 * callStats dials `target`, sends HELLO and one STATS frame, and resolves with
 * the answer. A peer that closes the connection without answering (one that
 * does not know the frame) or cannot be reached fails it UNAVAILABLE; an error
 * answer is its CacheError, marked remote.
 */
export function callStats(
  target: StatsTarget,
  request: NodeStatsRequest,
  options?: CallOptions,
): Promise<NodeStats> {
  const signal = options?.signal;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const payload = Buffer.from(JSON.stringify({ group: request.group, key: request.key }), 'utf8');
  if (payload.length > MAX_STATS_REQUEST_BYTES) {
    return Promise.reject(new InvalidArgumentError('stats request is over its size limit'));
  }
  const now = Date.now();
  const deadline = Math.min(options?.deadline ?? Infinity, now + target.requestTimeoutMs);
  if (deadline <= now) {
    return Promise.reject(new DeadlineExceededError(`peer ${target.url}: the deadline has passed`));
  }
  return new Promise<NodeStats>((resolve, reject) => {
    const socket = target.secure
      ? connectTls({
          host: target.host,
          port: target.port,
          ca: target.tls?.ca,
          cert: target.tls?.cert,
          key: target.tls?.key,
          ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        })
      : connectTcp({ host: target.host, port: target.port });
    let settled = false;
    const finish = (err: unknown, stats?: NodeStats) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err === undefined) resolve(stats as NodeStats);
      else reject(err);
    };
    const onAbort = () => finish(abortError(signal as AbortSignal));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => finish(new DeadlineExceededError(`peer ${target.url}: Stats: no answer in time`)),
      Math.min(deadline - now, 2 ** 31 - 1),
    );
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
        finish(new UnavailableError(`peer ${target.url}: Stats: malformed answer`));
        return;
      }
      if (status !== OK) {
        const code = codeOf(status ?? 0) ?? 'INTERNAL';
        const message = body.toString('utf8');
        finish(errorFromCode(code, `peer ${target.url}: Stats: ${message}`, { remote: true }));
        return;
      }
      try {
        finish(undefined, decodeNodeStats(body));
      } catch (err) {
        finish(new UnavailableError(`peer ${target.url}: malformed stats answer`, { cause: err }));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      const problem = reader.push(chunk);
      if (problem !== undefined) finish(new UnavailableError(`peer ${target.url}: ${problem}`));
    });
    socket.on('error', (err) =>
      finish(new UnavailableError(`peer ${target.url}: Stats: ${err.message}`, { cause: err })),
    );
    socket.on('close', () =>
      finish(
        new UnavailableError(`peer ${target.url}: Stats: connection closed without an answer`),
      ),
    );
    socket.write(encodeHello(target.peerSecret));
    socket.write(encodeFrame(FrameType.Stats, STATS_ID, payload));
  });
}
