/**
 * The activation arena: one block of memory reused by liveness. A value
 * lives from the kernel that first writes it (graph inputs: from the start)
 * to the last kernel that reads it (graph outputs: to the end); a kernel's
 * scratch lives during that kernel only. Offsets are assigned greedily,
 * largest first, at the lowest gap free for the whole lifetime (the
 * "greedy by size" planner TFLite uses); the peak is what the CLI reports.
 */
import { liveIntervals, type Program, stepOf, type Value } from "../plan/mod.ts";

/** Arena offsets of values and kernel scratch, and the arena's size. */
export interface ArenaPlan {
  readonly values: Map<Value, number>;
  readonly scratch: Map<number, number>;
  readonly peak: number;
}

/** Bytes reserved after every buffer: vector loads of a partial panel may read past its end. */
export const SLACK = 64;

interface Item {
  readonly key: Value | number;
  readonly bytes: number;
  readonly first: number;
  readonly last: number;
  offset: number;
}

/** Plans the arena for `program` plus `scratch` bytes per kernel index. */
export function planArena(program: Program, scratch: ReadonlyMap<number, number>): ArenaPlan {
  const intervals = liveIntervals(
    program.kernels.map(stepOf),
    program.inputs.map((port) => port.value),
    program.outputs.map((port) => port.value),
  );
  const items: Item[] = [];
  for (const [value, { first, last }] of intervals) {
    if (value.kind === "weight") continue;
    const bytes = Math.ceil((value.size * 4 + SLACK) / 64) * 64;
    items.push({ key: value, bytes, first, last, offset: 0 });
  }
  for (const [index, size] of scratch) {
    if (size > 0) {
      items.push({
        key: index,
        bytes: Math.ceil(size / 64) * 64 + 64,
        first: index,
        last: index,
        offset: 0,
      });
    }
  }
  items.sort((a, b) => b.bytes - a.bytes || a.first - b.first);
  const placed: Item[] = [];
  let peak = 0;
  for (const item of items) {
    const overlapping = placed
      .filter((other) => other.first <= item.last && item.first <= other.last)
      .sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const other of overlapping) {
      if (other.offset - offset >= item.bytes) break;
      offset = Math.max(offset, other.offset + other.bytes);
    }
    item.offset = offset;
    placed.push(item);
    peak = Math.max(peak, offset + item.bytes);
  }
  const values = new Map<Value, number>(), scratchAt = new Map<number, number>();
  for (const item of placed) {
    if (typeof item.key === "number") scratchAt.set(item.key, item.offset);
    else values.set(item.key, item.offset);
  }
  return { values, scratch: scratchAt, peak };
}
