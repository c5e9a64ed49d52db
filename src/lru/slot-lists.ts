// slot-lists.ts: SlotLists, a few recency lists of numbered slots in two Int32Arrays,
// for caches that keep their entries in arrays rather than objects.

/**
 * SlotLists keeps `lists` circular doubly linked lists over slots numbered from
 * `lists` up to a capacity; each slot is in at most one list at a time. Slots 0 to
 * `lists - 1` are the lists' sentinels: list `l` runs from {@link SlotLists.first}
 * (the most recently pushed) to {@link SlotLists.last} (the oldest), and either is
 * `l` itself when the list is empty. A slot costs 8 bytes, its two links.
 */
export class SlotLists {
  readonly #lists: number;
  #next: Int32Array;
  #prev: Int32Array;

  /** The lists take slots from `lists` to below `capacity`; {@link SlotLists.grow} raises it. */
  constructor(lists: number, capacity: number) {
    this.#lists = lists;
    this.#next = new Int32Array(Math.max(capacity, lists));
    this.#prev = new Int32Array(Math.max(capacity, lists));
    for (let l = 0; l < lists; l++) {
      this.#next[l] = l;
      this.#prev[l] = l;
    }
  }

  /** first is the most recent slot of list `l`; `l` when the list is empty. */
  first(l: number): number {
    return this.#next[l] as number;
  }

  /** last is the oldest slot of list `l`; `l` when the list is empty. */
  last(l: number): number {
    return this.#prev[l] as number;
  }

  /** after is the slot after `slot` towards the oldest; the list's own number past the end. */
  after(slot: number): number {
    return this.#next[slot] as number;
  }

  /** pushFront puts `slot`, in no list, at the front of list `l`. */
  pushFront(l: number, slot: number): void {
    const next = this.#next;
    const head = next[l] as number;
    next[slot] = head;
    this.#prev[slot] = l;
    this.#prev[head] = slot;
    next[l] = slot;
  }

  /** moveToFront moves `slot`, in list `l`, to its front. */
  moveToFront(l: number, slot: number): void {
    const next = this.#next;
    if (next[l] === slot) return;
    const prev = this.#prev;
    const n = next[slot] as number;
    const p = prev[slot] as number;
    next[p] = n;
    prev[n] = p;
    const head = next[l] as number;
    next[slot] = head;
    prev[slot] = l;
    prev[head] = slot;
    next[l] = slot;
  }

  /** unlink takes `slot` out of its list. */
  unlink(slot: number): void {
    const next = this.#next;
    const prev = this.#prev;
    const n = next[slot] as number;
    const p = prev[slot] as number;
    next[p] = n;
    prev[n] = p;
  }

  /** grow lets the lists take slots below `capacity` (larger than before), keeping their contents. */
  grow(capacity: number): void {
    const next = new Int32Array(capacity);
    next.set(this.#next);
    this.#next = next;
    const prev = new Int32Array(capacity);
    prev.set(this.#prev);
    this.#prev = prev;
  }

  /** lists is how many lists there are: slots below it are their sentinels. */
  get lists(): number {
    return this.#lists;
  }
}
