/**
 * Strided runs ("dims"): the unit in which a view describes where a
 * tensor's elements lie in a flat buffer (see view.ts), and the two
 * operations on lists of them: merging runs that continue each other and
 * cutting a list into groups of given element counts.
 */

/** `size` steps of `stride` elements. */
export interface Dim {
  readonly size: number;
  readonly stride: number;
}

/**
 * Drops size-1 dims and merges runs that continue each other, so that a
 * contiguous stretch becomes one run (one affine index instead of a table
 * or a division per dim).
 */
export function normalizeDims(dims: readonly Dim[]): Dim[] {
  const out: Dim[] = [];
  for (const dim of dims) {
    if (dim.size === 1) continue;
    const last = out[out.length - 1];
    if (last && last.stride === dim.stride * dim.size) {
      out[out.length - 1] = { size: last.size * dim.size, stride: dim.stride };
    } else out.push(dim);
  }
  return out;
}

/**
 * Groups runs (outer to inner) into consecutive groups of `counts[i]`
 * elements each, dividing a run where a group boundary falls inside it;
 * undefined when a boundary cuts a run unevenly or runs are left over.
 * Size-1 runs must be dropped first (they would be left over).
 */
export function groupDims(runs: readonly Dim[], counts: readonly number[]): Dim[][] | undefined {
  const rest = [...runs];
  const groups: Dim[][] = [];
  for (let g = counts.length - 1; g >= 0; g--) {
    let need = counts[g];
    const group: Dim[] = [];
    while (need > 1) {
      const dim = rest.pop();
      if (!dim) return undefined;
      if (dim.size <= need) {
        if (need % dim.size !== 0) return undefined;
        group.unshift(dim);
        need /= dim.size;
      } else {
        if (dim.size % need !== 0) return undefined;
        group.unshift({ size: need, stride: dim.stride });
        rest.push({ size: dim.size / need, stride: dim.stride * need });
        need = 1;
      }
    }
    groups.unshift(group);
  }
  return rest.length === 0 ? groups : undefined;
}
