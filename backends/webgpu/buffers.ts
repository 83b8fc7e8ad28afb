/**
 * The GPU buffer pool. Graph inputs and outputs get buffers of their own
 * (the caller writes and reads them). Every other value lives in a shared
 * buffer for its liveness interval (the plan's liveIntervals: from the
 * first kernel that writes it to the last that reads it); a buffer is
 * reused by a later value once free, growing to the largest value it holds.
 * A kernel's output never shares a buffer with the inputs it reads, since
 * those are released only after it.
 */
import { liveIntervals } from "../plan/mod.ts";
import type { ValueInfo } from "./schedule.ts";
import { type KernelSpec, valuesRead } from "./spec.ts";

/** One GPU buffer of activations. */
export interface BufferInfo {
  elements: number;
  readonly role: Exclude<ValueInfo["role"], "weight">;
}

/** A value that lives in a shared buffer. */
interface Shared {
  readonly id: number;
  readonly elements: number;
  readonly role: "act" | "scratch";
}

/** Buffers, and which buffer holds each value. */
export interface Assignment {
  readonly buffers: readonly BufferInfo[];
  readonly bufferOf: readonly number[];
}

/** Assigns values to buffers for kernels run in the given order. */
export function assignBuffers(
  values: readonly ValueInfo[],
  kernels: readonly KernelSpec[],
): Assignment {
  const intervals = liveIntervals(
    kernels.map((kernel) => ({ reads: valuesRead(kernel), writes: kernel.out.id })),
    [],
    [],
  );
  const buffers: BufferInfo[] = [];
  const bufferOf = new Array<number>(values.length).fill(-1);
  for (const value of values) {
    if (value.role !== "input" && value.role !== "output") continue;
    bufferOf[value.id] = buffers.length;
    buffers.push({ elements: value.elements, role: value.role });
  }
  // Activations (f32 or f16) and f32 scratch never share a buffer: their element sizes differ.
  const free: Record<string, number[]> = { act: [], scratch: [] };
  const startAt = new Map<number, Shared[]>();
  const endAt = new Map<number, Shared[]>();
  const at = (map: Map<number, Shared[]>, index: number) =>
    map.get(index) ?? map.set(index, []).get(index)!;
  for (const { id, elements, role } of values) {
    const interval = intervals.get(id);
    if ((role !== "act" && role !== "scratch") || !interval) continue;
    at(startAt, interval.first).push({ id, elements, role });
    at(endAt, interval.last).push({ id, elements, role });
  }
  for (let index = 0; index < kernels.length; index++) {
    for (const value of startAt.get(index) ?? []) {
      bufferOf[value.id] = takeFree(free[value.role], buffers, value);
    }
    for (const value of endAt.get(index) ?? []) free[value.role].push(bufferOf[value.id]);
  }
  return { buffers, bufferOf };
}

/** The smallest free buffer that holds `elements`, else the largest one grown, else a new one. */
function takeFree(free: number[], buffers: BufferInfo[], value: Shared): number {
  const elements = value.elements;
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    const size = buffers[free[i]].elements;
    const current = best < 0 ? undefined : buffers[free[best]].elements;
    if (current === undefined) best = i;
    else if (size >= elements ? current < elements || size < current : size > current) best = i;
  }
  if (best < 0) {
    buffers.push({ elements, role: value.role });
    return buffers.length - 1;
  }
  const [buffer] = free.splice(best, 1);
  buffers[buffer].elements = Math.max(buffers[buffer].elements, elements);
  return buffer;
}
