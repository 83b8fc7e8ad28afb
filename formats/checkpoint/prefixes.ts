/**
 * Key prefixes that wrappers add to every key of a state_dict:
 * DistributedDataParallel's "module." and torch.compile's "_orig_mod.".
 * They are removed only when every key carries one (a prefix on some keys
 * is part of the model's own names), repeatedly, since a compiled model can
 * be wrapped in DDP and the reverse.
 */

/** The prefixes removed, with the wrapper that adds each. */
export const WRAPPER_PREFIXES: Readonly<Record<string, string>> = {
  "module.": "DDP",
  "_orig_mod.": "torch.compile",
};

/** The keys without the wrappers' prefixes, and a note naming what was removed ("" if nothing). */
export function stripWrapperPrefixes<T>(
  entries: ReadonlyMap<string, T>,
): { entries: Map<string, T>; note: string } {
  let current = new Map(entries);
  const removed: string[] = [];
  for (;;) {
    const keys = [...current.keys()];
    const prefix = Object.keys(WRAPPER_PREFIXES).find((candidate) =>
      keys.length > 0 && keys.every((key) => key.startsWith(candidate) && key !== candidate)
    );
    if (!prefix) break;
    current = new Map([...current].map(([key, value]) => [key.slice(prefix.length), value]));
    removed.push(`"${prefix}" (${WRAPPER_PREFIXES[prefix]})`);
  }
  const note = removed.length === 0 ? "" : `key prefix ${removed.join(" then ")} removed`;
  return { entries: current, note };
}
