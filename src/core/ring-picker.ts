// ring-picker.ts: RingPicker, the PeerPicker that maps keys to owners with the
// consistent-hash ring, keeps one client per peer and closes those of peers that left.
import { InvalidArgumentError } from '../errors.js';
import {
  createRing,
  type OwnerRing,
  type RingFactoryOptions,
  type RingKind,
} from '../ring/owner-ring.js';
import { peerHealthy } from './peer-health.js';
import type { PeerClient, PeerPicker } from './peers.js';
import { TrackedClient } from './tracked-client.js';

/** RingPickerOptions configure a {@link RingPicker}. */
export interface RingPickerOptions extends Omit<RingFactoryOptions, 'kind'> {
  /** ring is the ring kind (see {@link RingKind}); every member must use the same. Default `golang`. */
  ring?: RingKind | undefined;
  /** This node's identity on the ring (its peer base URL); it must match how peers list it. */
  self: string;
  /**
   * Builds the client for a peer URL; called once per peer while it is a
   * member. When the peer leaves, the client's `close()` (if it has one) is
   * called once the requests in flight to it have ended; a peer that comes
   * back after that gets a fresh client from a new call.
   */
  clientFor: (url: string) => PeerClient;
  /**
   * member says whether self owns keys. A client-only node (a gateway) is not on
   * the ring: every key belongs to some peer. Default true.
   */
  member?: boolean | undefined;
  /**
   * healthy tells whether a peer's client is used: false while it is avoided
   * because its peer stopped answering.
   * Default {@link peerHealthy}: the state of the HealthCheckedPeer the client
   * wraps, or healthy for a client without one.
   */
  healthy?: ((peer: PeerClient) => boolean) | undefined;
}

/**
 * RingPicker owns the ring and the peer clients. `setPeers` replaces the whole
 * membership in one step; self is always a member (unless `member: false`), so
 * this node recognises its own keys even when the list given leaves it out.
 * A peer that leaves stops being picked at once; its client is closed when the
 * last request in flight to it ends, so however often membership changes, only
 * the members' clients and those still finishing a request stay open.
 */
export class RingPicker implements PeerPicker {
  readonly self: string;
  readonly #options: RingFactoryOptions;
  readonly #clientFor: (url: string) => PeerClient;
  readonly #member: boolean;
  readonly #healthy: (peer: PeerClient) => boolean;
  #ring: OwnerRing;

  /** ring names the ring kind every member must share. */
  get ring(): RingKind {
    return this.#ring.kind;
  }

  /** member is false for a client-only node, which owns no keys. */
  get member(): boolean {
    return this.#member;
  }
  #clients = new Map<string, TrackedClient>();
  #others: TrackedClient[] = [];
  /** Clients of peers that left, until their last request ends and they are closed. */
  readonly #leaving = new Map<string, TrackedClient>();
  readonly #onClosed = (client: TrackedClient): void => {
    if (this.#leaving.get(client.url) === client) this.#leaving.delete(client.url);
  };

  constructor(options: RingPickerOptions) {
    if (typeof options.self !== 'string' || options.self === '') {
      throw new InvalidArgumentError('self must be a non-empty string');
    }
    this.self = options.self;
    this.#options = { kind: options.ring, replicas: options.replicas, hash: options.hash };
    this.#clientFor = options.clientFor;
    this.#member = options.member ?? true;
    this.#healthy = options.healthy ?? peerHealthy;
    this.#ring = createRing(this.#options);
    if (this.#member) this.#ring.set([this.self]);
  }

  /**
   * setPeers makes `peers` (plus self) the membership. Clients of peers that
   * stay are kept; those of peers that left are closed once their requests in
   * flight end (at once when there are none). A peer that comes back before its
   * old client closed keeps that client; after, it gets a fresh one. Returns
   * the URLs that joined and left.
   */
  setPeers(peers: Iterable<string>): { added: string[]; removed: string[] } {
    const next = new Set<string>(this.#member ? [this.self] : []);
    for (const p of peers) {
      if (typeof p !== 'string' || p === '') {
        throw new InvalidArgumentError('peer URLs must be non-empty strings');
      }
      if (p !== this.self || this.#member) next.add(p);
    }
    const ring = createRing(this.#options);
    ring.set(next);
    const clients = new Map<string, TrackedClient>();
    const added: string[] = [];
    const made: TrackedClient[] = [];
    try {
      for (const url of next) {
        if (url === this.self) continue;
        const existing = this.#clients.get(url);
        if (existing !== undefined) {
          clients.set(url, existing);
          continue;
        }
        added.push(url);
        const leaving = this.#leaving.get(url);
        if (leaving !== undefined && !leaving.closed) {
          // Revived below, once nothing can fail any more.
          clients.set(url, leaving);
        } else {
          const client = new TrackedClient(this.#clientFor(url), this.#onClosed);
          made.push(client);
          clients.set(url, client);
        }
      }
    } catch (err) {
      // The membership stays as it was: the clients made for it are not needed.
      for (const client of made) client.retire();
      throw err;
    }
    for (const url of added) {
      const leaving = this.#leaving.get(url);
      if (leaving !== undefined && clients.get(url) === leaving) {
        leaving.revive();
        this.#leaving.delete(url);
      }
    }
    const old = this.#clients;
    const removed = [...old.keys()].filter((u) => !clients.has(u));
    this.#ring = ring;
    this.#clients = clients;
    this.#others = [...clients.values()];
    // Only now, with the new ring in place, can no new request pick a leaving client.
    for (const url of removed) {
      const client = old.get(url) as TrackedClient;
      this.#leaving.set(url, client);
      client.retire();
    }
    return { added, removed };
  }

  /** leaving counts the clients of departed peers that still wait for requests in flight. */
  get leaving(): number {
    return this.#leaving.size;
  }

  /** pickPeer returns the owner's client, or undefined when this node owns `key`. */
  pickPeer(key: string): PeerClient | undefined {
    const owner = this.#ring.get(key);
    if (owner === undefined || owner === this.self) return undefined;
    return this.#clients.get(owner);
  }

  /**
   * pickFallback names the fallback owner of `key` (see {@link PeerPicker.pickFallback}):
   * the first healthy member, self included (`'self'`), in the order the ring
   * hands the key on when its owner leaves (see {@link OwnerRing.next}): for
   * the Go rings the next member clockwise, for `balanced` the member that
   * would own the key were the owner removed. A client-only node is not on the ring, so it never
   * names itself.
   */
  pickFallback(key: string): PeerClient | 'self' | undefined {
    const clients = this.#clients;
    const next = this.#ring.next(key, (url) => {
      if (url === this.self) return true;
      const client = clients.get(url);
      return client !== undefined && this.#healthy(client);
    });
    if (next === undefined) return undefined;
    return next === this.self ? 'self' : clients.get(next);
  }

  /** fallbackOf returns the URL of the fallback owner of `key` (see {@link pickFallback}), or undefined. */
  fallbackOf(key: string): string | undefined {
    const picked = this.pickFallback(key);
    return picked === 'self' ? this.self : picked?.url;
  }

  /** ownerOf returns the URL of the node that owns `key` (possibly self; self when the ring is empty). */
  ownerOf(key: string): string {
    return this.#ring.get(key) ?? this.self;
  }

  /** otherPeers lists the clients of every member but self. */
  otherPeers(): readonly PeerClient[] {
    return this.#others;
  }

  /** shares gives each member's fraction of the key hash space (see {@link OwnerRing.shares}). */
  shares(): Map<string, number> {
    return this.#ring.shares();
  }

  /** members lists every member's URL (self included on a member node), sorted. */
  members(): string[] {
    return this.#ring.members();
  }
}
