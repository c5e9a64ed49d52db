// testing.ts: test helpers for the gRPC transport: the real Exchange handler over a fake group,
// grpc-js servers built by a test on port 0, and a raw Exchange call.
import {
  Client,
  type ClientDuplexStream,
  credentials,
  Metadata,
  type Server,
  ServerCredentials,
  type ServerDuplexStream,
} from '@grpc/grpc-js';
import { noopLogger } from '../../core/logger.js';
import type { PeerServedGroup } from '../../core/peers.js';
import type { StreamRequests, StreamResponses } from '../../proto/gen/groupcache_pb.js';
import { systemClock } from '../../util/clock.js';
import { fakeLookup } from '../http/testing.js';
import { ExchangeServer } from './exchange-server.js';
import { groupCacheMethods, type Received } from './service.js';

/** ServedExchange is the server side of one Exchange call, as a handler receives it. */
export type ServedExchange = ServerDuplexStream<Received<StreamRequests>, StreamResponses>;

/** exchangeHandler is the real Exchange handler of a server of `group` alone, with the defaults. */
export function exchangeHandler(group: PeerServedGroup): (call: ServedExchange) => void {
  return new ExchangeServer({
    groups: fakeLookup(group),
    ceiling: { maxKeyBytes: 4096, maxValueBytes: 1 << 20 },
    signal: new AbortController().signal,
    logger: noopLogger,
    maxStreamRequests: 1024,
    idleTimeoutMs: 300_000,
    clock: systemClock,
  }).handler;
}

/** listen binds `server` on 127.0.0.1:`port` (0 for a free one) and resolves with the port bound. */
export function listen(server: Server, port = 0): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
}

/**
 * rawExchange opens an Exchange call to the server at `port` with a client of its own
 * (closed by `close`), for a test that writes and reads its messages itself.
 */
export function rawExchange(port: number): {
  call: ClientDuplexStream<StreamRequests, StreamResponses>;
  close(): Promise<void>;
} {
  const raw = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const method = groupCacheMethods.exchange;
  const call = raw.makeBidiStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    new Metadata(),
  );
  call.on('error', () => {});
  return { call, close: async () => raw.close() };
}
