// transport.ts: the transport seam: how a node reaches its peers and serves them.
// HTTP (golang/groupcache's protocol), tcp, gRPC and the in-memory transport implement it.
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import type { GroupLookup, PeerClient } from '../core/peers.js';
import type { RingKind } from '../ring/owner-ring.js';

/** ServeOptions tell a transport where and how to serve a node's groups. */
export interface ServeOptions {
  host: string;
  port: number;
  /** Fires when the node gives up waiting for in-flight requests at shutdown. */
  signal: AbortSignal;
  logger: Logger;
  /**
   * ring is the node's ring kind. A transport that can tell a peer's (tcp's
   * HELLO) refuses peers with another; the others ignore it.
   */
  ring?: RingKind | undefined;
}

/** ClientOptions tell a transport about the node a client is for. */
export interface ClientOptions {
  /** ring is the node's ring kind, announced to peers by a transport that can (tcp). */
  ring?: RingKind | undefined;
}

/**
 * PeerService is what a transport's handler, mounted in an application's own
 * server, needs of a node: its groups, the signal that ends the requests still in
 * flight when the node shuts down, and to be told it is mounted. A CacheNode is one.
 */
export interface PeerService extends GroupLookup {
  /** shutdownSignal fires when the node gives up on requests in flight. Default: never. */
  readonly shutdownSignal?: AbortSignal | undefined;
  /**
   * servedToPeers is what the node serves peers through, when it is more than its
   * groups: a CacheNode's also answers peers' leave notices, and the "leaving" answer
   * once it leaves. A mounted handler serves it in the node's place. Default: the
   * service itself.
   */
  readonly servedToPeers?: GroupLookup | undefined;
  /**
   * onMounted is told by a transport's `handler(node)` that the handler it makes will
   * serve peers for this service in an application's own server: a CacheNode then counts
   * itself as serving peers, and tells them when it leaves, as one that listens does.
   * Default: nothing.
   */
  onMounted?(): void;
}

/** PeerServer is a running server of peer requests. */
export interface PeerServer {
  /** The bound address. */
  readonly address: AddressInfo;
  /**
   * close stops accepting requests and resolves when in-flight ones have
   * finished, or after `graceMs`, when it drops them. Idempotent.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * PeerTransport is one wire protocol between peers: clients to reach them, a
 * server to answer them. Every node of a cluster must use the same one.
 */
export interface PeerTransport {
  /** name is the protocol's name, e.g. `http`. */
  readonly name: string;
  /**
   * client returns the (cached) client for the peer whose base URL is `url`.
   * Its `close()` releases it: the connections to the peer are closed and the
   * cache forgets it, so the next `client(url)` makes a fresh one. The node's
   * ring calls it once the peer has left and its requests have ended; a
   * transport whose clients hold nothing may leave `close` out.
   * `options` are the same for every call of one node.
   */
  client(url: string, options?: ClientOptions): PeerClient;
  /** serve answers peer requests for `groups` on `host:port`. */
  serve(groups: GroupLookup, options: ServeOptions): Promise<PeerServer>;
  /** close closes the clients' connections. Idempotent. */
  close(): Promise<void>;
}
