// read-holds.ts: a stream's reading stopped for as long as any of several reasons holds it
// (a peer's answers backed up, a budget spent, a cap reached), and resumed when none does.

/** Pausable is the part of a readable stream {@link ReadHolds} drives. */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

/**
 * ReadHolds pauses `stream` on the first reason held and resumes it once the last is
 * lifted, unless `ended()` says the stream is done by then. Reasons are bits, each held
 * at most once.
 */
export class ReadHolds {
  readonly #stream: Pausable;
  readonly #ended: () => boolean;
  #holds = 0;

  constructor(stream: Pausable, ended: () => boolean) {
    this.#stream = stream;
    this.#ended = ended;
  }

  /** hold stops reading for `reason` (a bit). */
  hold(reason: number): void {
    if (this.#holds === 0) this.#stream.pause();
    this.#holds |= reason;
  }

  /** unhold lifts `reason`; reading resumes when no reason is left. */
  unhold(reason: number): void {
    if ((this.#holds & reason) === 0) return;
    this.#holds &= ~reason;
    if (this.#holds === 0 && !this.#ended()) this.#stream.resume();
  }
}
