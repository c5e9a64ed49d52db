// ring-picker.ts: RingPicker, the PeerPicker that maps keys to owners with the
// consistent-hash ring and keeps one client per peer.
import { InvalidArgumentError } from '../errors.js';
import { Ring, type RingOptions } from '../ring/ring.js';
import type { PeerClient, PeerPicker } from './peers.js';

/** RingPickerOptions configure a {@link RingPicker}. */
export interface RingPickerOptions extends RingOptions {
  /** This node's identity on the ring (its peer base URL); it must match how peers list it. */
  self: string;
  /** Builds the client for a peer URL; called once per peer while it is a member. */
  clientFor: (url: string) => PeerClient;
  /**
   * member says whether self owns keys. A client-only node (a gateway) is not on
   * the ring: every key belongs to some peer. Default true.
   */
  member?: boolean | undefined;
}

/**
 * RingPicker owns the ring and the peer clients. `setPeers` replaces the whole
 * membership in one step; self is always a member (unless `member: false`), so
 * this node recognises its own keys even when the list given leaves it out.
 */
export class RingPicker implements PeerPicker {
  readonly self: string;
  readonly #options: RingOptions;
  readonly #clientFor: (url: string) => PeerClient;
  readonly #member: boolean;
  #ring: Ring;

  /** member is false for a client-only node, which owns no keys. */
  get member(): boolean {
    return this.#member;
  }
  #clients = new Map<string, PeerClient>();
  #others: PeerClient[] = [];

  constructor(options: RingPickerOptions) {
    if (typeof options.self !== 'string' || options.self === '') {
      throw new InvalidArgumentError('self must be a non-empty string');
    }
    this.self = options.self;
    this.#options = { replicas: options.replicas, hash: options.hash };
    this.#clientFor = options.clientFor;
    this.#member = options.member ?? true;
    this.#ring = new Ring(this.#options);
    if (this.#member) this.#ring.add(this.self);
  }

  /**
   * setPeers makes `peers` (plus self) the membership. Clients of peers that
   * stay are kept; it returns the URLs that joined and left.
   */
  setPeers(peers: Iterable<string>): { added: string[]; removed: string[] } {
    const next = new Set<string>(this.#member ? [this.self] : []);
    for (const p of peers) {
      if (typeof p !== 'string' || p === '') {
        throw new InvalidArgumentError('peer URLs must be non-empty strings');
      }
      if (p !== this.self || this.#member) next.add(p);
    }
    const ring = new Ring(this.#options);
    ring.set(next);
    const clients = new Map<string, PeerClient>();
    const added: string[] = [];
    for (const url of next) {
      if (url === this.self) continue;
      const existing = this.#clients.get(url);
      if (existing === undefined) added.push(url);
      clients.set(url, existing ?? this.#clientFor(url));
    }
    const removed = [...this.#clients.keys()].filter((u) => !clients.has(u));
    this.#ring = ring;
    this.#clients = clients;
    this.#others = [...clients.values()];
    return { added, removed };
  }

  /** pickPeer returns the owner's client, or undefined when this node owns `key`. */
  pickPeer(key: string): PeerClient | undefined {
    const owner = this.#ring.get(key);
    if (owner === undefined || owner === this.self) return undefined;
    return this.#clients.get(owner);
  }

  /** ownerOf returns the URL of the node that owns `key` (possibly self; self when the ring is empty). */
  ownerOf(key: string): string {
    return this.#ring.get(key) ?? this.self;
  }

  /** otherPeers lists the clients of every member but self. */
  otherPeers(): readonly PeerClient[] {
    return this.#others;
  }

  /** members lists every member's URL (self included on a member node), sorted. */
  members(): string[] {
    return this.#ring.members();
  }
}
