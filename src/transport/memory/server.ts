// server.ts: the memory transport's server: answers the requests that reach its address on a
// MemoryNetwork from its node's groups, with the checks, deadlines and shutdown of a real server.

import type { AddressInfo } from 'node:net';
import { peerLeaving } from '../../core/leave.js';
import type { Logger } from '../../core/logger.js';
import { encodeNodeStats, type NodeStatsRequest } from '../../core/node-stats.js';
import {
  type CallOptions,
  type GroupLookup,
  type PeerGetManyResult,
  type PeerServedGroup,
  type PeerValue,
  parseGeneration,
} from '../../core/peers.js';
import {
  CacheError,
  httpStatus,
  InvalidArgumentError,
  NotFoundError,
  TooLargeError,
  toCacheError,
  UnavailableError,
} from '../../errors.js';
import { servedLimits } from '../../limits.js';
import { lateWrite } from '../late-write.js';
import { checkBatch, oldestGeneration, serveGetMany } from '../serve-get-many.js';
import type { PeerServer } from '../transport.js';
import {
  familyOf,
  type MemoryAnswer,
  type MemoryEndpoint,
  type MemoryNetwork,
  type MemoryRequest,
} from './network.js';

/** MemoryServerConfig is what {@link serveMemory} needs besides the groups. */
export interface MemoryServerConfig {
  network: MemoryNetwork;
  host: string;
  /** The port to listen on; 0 picks an unused one. */
  port: number;
  /** Aborts every in-flight get (the node gave up waiting at shutdown). */
  signal: AbortSignal;
  logger: Logger;
  /** Largest key served, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value a set may carry or a get may answer. */
  maxValueBytes: number;
}

/**
 * serveMemory listens on `host:port` of the config's network and answers
 * requests for the groups `groups` resolves, locally, never forwarding them.
 * It checks each request as the socket servers do (an empty key or a key that
 * is not Unicode is InvalidArgumentError, a key or value over the limit
 * TooLargeError, an unknown group UnavailableError `no such group`) and never
 * throws for bad input. Throws AlreadyExistsError when the address is taken.
 */
export function serveMemory(groups: GroupLookup, config: MemoryServerConfig): MemoryPeerServer {
  return new MemoryPeerServer(groups, config);
}

/**
 * MemoryPeerServer is a running memory server. `close(graceMs)` stops taking
 * requests at once (new ones find nothing at the address: UNAVAILABLE), lets
 * the gets in flight finish, and past `graceMs` drops them: their callers get
 * UnavailableError and the loads are aborted.
 */
export class MemoryPeerServer implements PeerServer, MemoryEndpoint {
  readonly address: AddressInfo;
  readonly #groups: GroupLookup;
  readonly #config: MemoryServerConfig;
  /** The gets in flight, by the controller of the signal their load was given. */
  readonly #inflight = new Set<AbortController>();
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  /** One listener on the shutdown signal for all the gets, rather than one per get. */
  readonly #onShutdown = () => this.#abortAll(this.#config.signal.reason);

  constructor(groups: GroupLookup, config: MemoryServerConfig) {
    this.#groups = groups;
    this.#config = config;
    const bound = config.network.listen(config.host, config.port, this);
    this.address = { address: bound.host, family: familyOf(bound.host), port: bound.port };
    config.signal.addEventListener('abort', this.#onShutdown, { once: true });
  }

  /** inflight is how many gets are being answered. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /**
   * exchange answers one request that reached this server's address: checked,
   * then served by its group (see {@link MemoryEndpoint}).
   */
  exchange(
    request: MemoryRequest,
    call: CallOptions & { signal: AbortSignal },
  ): Promise<MemoryAnswer> {
    if (this.#closing !== undefined) {
      return Promise.reject(new UnavailableError('peer server is closing'));
    }
    if (request.op === 'clear') return this.#clear(request.group, request.generation);
    if (request.op === 'getMany') return this.#getMany(request.group, request.keys, call);
    const { key } = request;
    const bad = this.#badKey(key, request.group);
    if (bad !== undefined) return Promise.reject(bad);
    const group = this.#groups.getGroup(request.group);
    if (group === undefined) {
      return Promise.reject(new UnavailableError(`no such group: ${request.group}`));
    }
    const limits = servedLimits(group, this.#config);
    if (Buffer.byteLength(key) > limits.maxKeyBytes) {
      return Promise.reject(
        new TooLargeError(`key is over the limit of ${limits.maxKeyBytes} bytes`),
      );
    }
    try {
      switch (request.op) {
        case 'get':
          return this.#get(group, key, call);
        case 'set':
          if (request.value.byteLength > limits.maxValueBytes) {
            throw new TooLargeError(`value is over the limit of ${limits.maxValueBytes} bytes`);
          }
          inTime('set', call.deadline);
          group.setFromPeer(key, request.value, request.expireAt, {
            deadline: call.deadline,
            generation: call.generation,
          });
          answerGeneration(group, call);
          return Promise.resolve(undefined);
        case 'remove':
          inTime('remove', call.deadline);
          group.removeFromPeer(key, { deadline: call.deadline, generation: call.generation });
          answerGeneration(group, call);
          return Promise.resolve(undefined);
      }
    } catch (err) {
      this.#logFault(request.op, err);
      return Promise.reject(err);
    }
  }

  /**
   * clear applies a group's clear notice: a group this server does not serve has
   * nothing to clear (answered done); a malformed generation is InvalidArgumentError.
   */
  #clear(name: string, generation: number): Promise<undefined> {
    try {
      if (parseGeneration(generation) === undefined) {
        throw new InvalidArgumentError(`bad request: malformed generation ${String(generation)}`);
      }
      this.#groups.getGroup(name)?.clearFromPeer?.(generation);
      return Promise.resolve(undefined);
    } catch (err) {
      this.#logFault('clear', err);
      return Promise.reject(err);
    }
  }

  /**
   * stats answers a stats call with the groups' lookup's report, as JSON bytes:
   * a NotFoundError when the lookup has none, an UnavailableError while closing.
   */
  stats(request: NodeStatsRequest): Uint8Array {
    if (this.#closing !== undefined) throw new UnavailableError('peer server is closing');
    const source = this.#groups;
    if (source.nodeStats === undefined) throw new NotFoundError('this server gives no stats');
    return encodeNodeStats(source.nodeStats(request));
  }

  /** close leaves the address, then waits for the gets in flight up to `graceMs`. Idempotent. */
  close(graceMs: number): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const { network, host } = this.#config;
      network.unlisten(host, this.address.port, this);
      if (this.#inflight.size === 0) {
        resolve();
        return;
      }
      const grace = setTimeout(() => {
        this.#abortAll(new UnavailableError('peer server closed before answering'));
        resolve();
      }, graceMs);
      this.#drained = () => {
        clearTimeout(grace);
        resolve();
      };
    }).then(() => this.#config.signal.removeEventListener('abort', this.#onShutdown));
    return this.#closing;
  }

  /** abortAll aborts every get in flight with `reason`. */
  #abortAll(reason: unknown): void {
    for (const controller of [...this.#inflight]) controller.abort(reason);
  }

  /**
   * get loads `key` (see {@link #track}); the answer leaves with bytes of its own, as if
   * encoded into a frame now: the group's view may be of memory it reuses.
   */
  #get(
    group: PeerServedGroup,
    key: string,
    call: CallOptions & { signal: AbortSignal },
  ): Promise<PeerValue> {
    return this.#track(
      call,
      (signal) =>
        group.getForPeer(key, {
          signal,
          deadline: call.deadline,
          traceparent: call.traceparent,
          generation: call.generation,
        }),
      (found) => {
        const limit = this.#config.maxValueBytes;
        if (found.value.byteLength > limit) {
          throw new TooLargeError(
            `value of ${found.value.byteLength} bytes is over the limit of ${limit}`,
          );
        }
        const answer: PeerValue = {
          value: found.value.slice(),
          expireAt: found.expireAt,
          minuteQps: found.minuteQps,
        };
        // As on a wire, a generation travels only once it is not 0.
        if (found.generation) answer.generation = found.generation;
        return answer;
      },
      'get',
    );
  }

  /**
   * track serves a get or a batch get with `serve`, given a signal of its own, which
   * aborts when the client gives up, when the server's shutdown signal fires, or when
   * the server drops the request past its grace; `answer` turns what it found into the
   * answer. Whichever comes first settles the answer: an abort answers with its reason
   * at once, without waiting for the load to notice it, and the load's own answer, if
   * it comes later, is dropped.
   */
  #track<T>(
    call: CallOptions & { signal: AbortSignal },
    serve: (signal: AbortSignal) => T | Promise<T>,
    answer: (found: T) => T,
    op: string,
  ): Promise<T> {
    const controller = new AbortController();
    const shutdown = this.#config.signal;
    const onClient = () => controller.abort(call.signal.reason);
    if (call.signal.aborted) onClient();
    else if (shutdown.aborted) controller.abort(shutdown.reason);
    call.signal.addEventListener('abort', onClient, { once: true });
    this.#inflight.add(controller);

    return new Promise<T>((resolve, reject) => {
      const done = () => {
        call.signal.removeEventListener('abort', onClient);
        controller.signal.removeEventListener('abort', onAbort);
        this.#inflight.delete(controller);
        if (this.#inflight.size === 0) this.#drained?.();
      };
      const onAbort = () => {
        done();
        reject(controller.signal.reason);
      };
      if (controller.signal.aborted) {
        onAbort();
        return;
      }
      controller.signal.addEventListener('abort', onAbort, { once: true });
      const settle = (found: T) => {
        if (controller.signal.aborted) return;
        done();
        try {
          resolve(answer(found));
        } catch (err) {
          reject(err);
        }
      };
      const fail = (err: unknown) => {
        if (controller.signal.aborted) return;
        done();
        this.#logFault(op, err);
        reject(err);
      };
      let found: T | Promise<T>;
      try {
        found = serve(controller.signal);
      } catch (err) {
        fail(err);
        return;
      }
      if (isThenable(found)) Promise.resolve(found).then(settle, fail);
      else settle(found);
    });
  }

  /** badKey is what is wrong with `key` (or the group's name) whatever its group, if anything. */
  #badKey(key: string, group: string): CacheError | undefined {
    const { maxKeyBytes } = this.#config;
    if (key === '') return new InvalidArgumentError('bad request: empty key');
    if (!key.isWellFormed() || !group.isWellFormed()) {
      return new InvalidArgumentError('bad request: key or group is not valid Unicode');
    }
    if (Buffer.byteLength(key) > maxKeyBytes) {
      return new TooLargeError(`key is over the limit of ${maxKeyBytes} bytes`);
    }
    return undefined;
  }

  /**
   * getMany answers a batch get: a batch over the limits (see {@link checkBatch}) or of an
   * unknown group fails whole; each key is otherwise answered on its own (see
   * {@link serveGetMany}), a bad key with its error, under the same in-flight tracking,
   * cancellation and shutdown as a get. Every value carries the batch's one generation
   * (see oldestGeneration).
   */
  #getMany(
    groupName: string,
    keys: readonly string[],
    call: CallOptions & { signal: AbortSignal },
  ): Promise<PeerGetManyResult> {
    const refused = checkBatch(keys);
    if (refused !== undefined) return Promise.reject(refused);
    if (!groupName.isWellFormed()) {
      return Promise.reject(new InvalidArgumentError('bad request: group is not valid Unicode'));
    }
    const group = this.#groups.getGroup(groupName);
    if (group === undefined) {
      return Promise.reject(new UnavailableError(`no such group: ${groupName}`));
    }
    const limits = servedLimits(group, this.#config);
    const answer: PeerGetManyResult = new Map();
    const served: string[] = [];
    for (const key of keys) {
      const bad =
        this.#badKey(key, groupName) ??
        (Buffer.byteLength(key) > limits.maxKeyBytes
          ? new TooLargeError(`key is over the limit of ${limits.maxKeyBytes} bytes`)
          : undefined);
      if (bad !== undefined) answer.set(key, bad);
      else served.push(key);
    }
    return this.#track(
      call,
      (signal) =>
        serveGetMany(
          group,
          served,
          {
            signal,
            deadline: call.deadline,
            traceparent: call.traceparent,
            generation: call.generation,
          },
          { maxValueBytes: limits.maxValueBytes },
        ),
      (found) => {
        // One generation for all the values, as the socket transports' answers carry it: the
        // oldest (see oldestGeneration), sent only once it is not 0.
        const generation = oldestGeneration(found.values());
        for (const [key, outcome] of found) {
          if (outcome instanceof CacheError) {
            this.#logFault('getMany', outcome);
            answer.set(key, outcome);
          } else if ((outcome.generation ?? 0) === generation) {
            // Already the batch's (a real group answers a batch under one generation).
            answer.set(key, outcome);
          } else {
            const value: PeerValue = {
              value: outcome.value,
              expireAt: outcome.expireAt,
              minuteQps: outcome.minuteQps,
            };
            if (generation) value.generation = generation;
            answer.set(key, value);
          }
        }
        return answer;
      },
      'getMany',
    );
  }

  /** logFault logs a group call that failed through no fault of the request (a 5xx answer). */
  #logFault(op: string, err: unknown): void {
    // A node that is leaving answers so by design: nothing to warn about.
    if (httpStatus[toCacheError(err).code] < 500 || peerLeaving(err)) return;
    try {
      this.#config.logger.warn(
        { err: err instanceof Error ? err.message : String(err), op },
        'peer request failed',
      );
    } catch {
      // A failing logger must not take the server down with it.
    }
  }
}

/** answerGeneration sends the group's generation back with a write's answer, once it is not 0. */
function answerGeneration(group: PeerServedGroup, call: CallOptions): void {
  const generation = group.generation;
  if (generation) call.onGeneration?.(generation);
}

/** inTime throws when a write's deadline has passed: it is then not applied (see lateWrite). */
function inTime(op: 'set' | 'remove', deadline: number | undefined): void {
  const late = lateWrite(op, deadline);
  if (late !== undefined) throw late;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}
