// versioned-source.ts: a loader for the clear tests whose answers name the source's version,
// so a test can tell a value loaded before a clear from one loaded after it.

/**
 * VersionedSource is a source of truth in a test: `load(key)` answers `key@version`,
 * the version when the load began, and counts the loads of each key. Loads of keys
 * starting with `hold` wait until {@link VersionedSource.release} (held from the start).
 */
export class VersionedSource {
  /** version is what loads that begin now answer with; a test bumps it. */
  version = 1;
  /** loads counts the loader calls per key. */
  readonly loads = new Map<string, number>();
  #release: () => void = () => {};
  #held = this.#hold();

  #hold(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#release = resolve;
    });
  }

  /** release lets the held loads finish, and the later ones too until {@link holdLoads}. */
  release(): void {
    this.#release();
  }

  /** holdLoads makes the `hold` loads that begin from now on wait for the next release. */
  holdLoads(): void {
    this.#held = this.#hold();
  }

  /** load is the loader: `key@version`, after a release for `hold` keys. */
  readonly load = async (key: string): Promise<string> => {
    this.loads.set(key, (this.loads.get(key) ?? 0) + 1);
    const v = this.version;
    if (key.startsWith('hold')) await this.#held;
    return `${key}@${v}`;
  };
}
