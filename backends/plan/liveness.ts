/**
 * Liveness intervals, the one input both targets' allocators share (wasm:
 * arena offsets; WebGPU: a pool of buffers). A value lives from the first
 * step that writes it (graph inputs: from before the first step) to the
 * last step that reads or writes it (graph outputs: past the last step).
 */
import { loadsOf } from "./expr.ts";
import type { Kernel, Value } from "./kernel.ts";

/** First and last step a value is live in; -1 is before the first step. */
export interface Interval {
  readonly first: number;
  readonly last: number;
}

/** One step of a schedule: what it reads and what it writes. */
export interface Step<V> {
  readonly reads: Iterable<V>;
  readonly writes: V;
}

/** The interval of every value the steps, inputs or outputs mention. */
export function liveIntervals<V>(
  steps: readonly Step<V>[],
  inputs: Iterable<V>,
  outputs: Iterable<V>,
): Map<V, Interval> {
  const first = new Map<V, number>(), last = new Map<V, number>();
  for (const value of inputs) first.set(value, -1);
  steps.forEach((step, index) => {
    if (!first.has(step.writes)) first.set(step.writes, index);
    last.set(step.writes, index);
    for (const value of step.reads) last.set(value, index);
  });
  for (const value of outputs) last.set(value, steps.length);
  const intervals = new Map<V, Interval>();
  for (const [value, start] of first) {
    intervals.set(value, { first: start, last: Math.max(start, last.get(value) ?? start) });
  }
  return intervals;
}

/** Every value a kernel reads, in first-use order, without repeats. */
export function readsOf(kernel: Kernel): Value[] {
  const values = new Set<Value>();
  if (kernel.kind === "gemm") {
    for (const leaf of loadsOf(kernel.a)) values.add(leaf.operand.value);
    values.add(kernel.w.kind === "constant" ? kernel.w.value : kernel.w.operand.value);
  }
  if (kernel.kind === "pool") values.add(kernel.x.value);
  for (const leaf of loadsOf(kernel.epilogue)) values.add(leaf.operand.value);
  return [...values];
}

/** A kernel as a liveness step. */
export function stepOf(kernel: Kernel): Step<Value> {
  return { reads: readsOf(kernel), writes: kernel.out.value };
}
