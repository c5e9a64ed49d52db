// registry.ts: GroupRegistry, the owner of a set of groups and of the peer picker
// they route through (a Node has one; a default one serves the seed's style).
import { AlreadyExistsError, InvalidArgumentError } from '../errors.js';
import type { Clock } from '../util/clock.js';
import { Group, type GroupOptions } from './group.js';
import type { Logger } from './logger.js';
import { type GroupLookup, noPeers, type PeerPicker } from './peers.js';
import type { Telemetry } from './telemetry.js';

/** GroupRegistryOptions configure a {@link GroupRegistry}. */
export interface GroupRegistryOptions {
  /** Logger handed to groups that don't bring their own. */
  logger?: Logger | undefined;
  /** Clock handed to groups that don't bring their own. Default: each group's default. */
  clock?: Clock | undefined;
  /** telemetry traces the groups' work (see `peercache/otel`); a group's own option wins. Default: none. */
  telemetry?: Telemetry | undefined;
}

/**
 * GroupRegistry holds groups by name and the {@link PeerPicker} they share.
 * With no picker set, every key is this process's own: a single-instance cache.
 */
export class GroupRegistry implements GroupLookup {
  readonly #groups = new Map<string, Group>();
  #picker: PeerPicker = noPeers;
  readonly #logger: Logger | undefined;
  readonly #clock: Clock | undefined;
  readonly #telemetry: Telemetry | undefined;

  constructor(options: GroupRegistryOptions = {}) {
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#telemetry = options.telemetry;
  }

  /** newGroup creates and registers a group. A name already taken is an AlreadyExistsError. */
  newGroup(name: string, options: GroupOptions): Group {
    if (typeof name !== 'string' || name === '') {
      throw new InvalidArgumentError('group name must be a non-empty string');
    }
    if (this.#groups.has(name)) throw new AlreadyExistsError(`group ${name} already exists`);
    const group = new Group(
      name,
      {
        ...options,
        logger: options?.logger ?? this.#logger,
        clock: options?.clock ?? this.#clock,
        telemetry: options?.telemetry ?? this.#telemetry,
      },
      () => this.#picker,
    );
    this.#groups.set(name, group);
    return group;
  }

  /** getGroup returns the group called `name`, or undefined. */
  getGroup(name: string): Group | undefined {
    return this.#groups.get(name);
  }

  /** groups lists the registered groups in creation order. */
  groups(): Group[] {
    return [...this.#groups.values()];
  }

  /** removeGroup unregisters `name` (its cached values go with it); tells whether it existed. */
  removeGroup(name: string): boolean {
    return this.#groups.delete(name);
  }

  /** setPeerPicker sets how groups find a key's owner; `noPeers` makes this a single instance. */
  setPeerPicker(picker: PeerPicker): void {
    this.#picker = picker;
  }

  /** peerPicker is the picker groups route through. */
  get peerPicker(): PeerPicker {
    return this.#picker;
  }
}

let defaultRegistry: GroupRegistry | undefined;

/**
 * defaultGroups returns the process's default registry, created on first use. It
 * exists for the seed's module-level `newGroup`/`getGroup` style; applications
 * with several nodes or tests should own a registry (or a Node) instead.
 */
export function defaultGroups(): GroupRegistry {
  defaultRegistry ??= new GroupRegistry();
  return defaultRegistry;
}

/** newGroup creates a group in the default registry (see {@link defaultGroups}). */
export function newGroup(name: string, options: GroupOptions): Group {
  return defaultGroups().newGroup(name, options);
}

/** getGroup returns a group of the default registry (see {@link defaultGroups}). */
export function getGroup(name: string): Group | undefined {
  return defaultGroups().getGroup(name);
}
