// member-set.ts: how a membership source compares the member set it found with the one
// it applied last: as sorted lists, with what joined and what left.

/** MemberChange is what changed from one member set to the next. */
export interface MemberChange {
  /** members is the new set: sorted, without duplicates. */
  members: string[];
  /** added are the members not in the previous set. */
  added: string[];
  /** removed are the members of the previous set no longer in it. */
  removed: string[];
}

/**
 * memberChange compares `found` (any order, duplicates allowed) with the set
 * applied last (sorted, as a MemberChange's `members`; undefined before the
 * first): undefined when they are the same set, else what changed.
 */
export function memberChange(
  previous: readonly string[] | undefined,
  found: Iterable<string>,
): MemberChange | undefined {
  const members = [...new Set(found)].sort();
  if (
    previous !== undefined &&
    previous.length === members.length &&
    previous.every((u, i) => u === members[i])
  ) {
    return undefined;
  }
  const before = new Set(previous);
  const after = new Set(members);
  return {
    members,
    added: members.filter((u) => !before.has(u)),
    removed: (previous ?? []).filter((u) => !after.has(u)),
  };
}
