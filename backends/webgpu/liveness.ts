/**
 * Buffer assignment by liveness. Graph inputs and outputs get buffers of
 * their own (the caller writes and reads them). Every other value lives in a
 * shared buffer from the first kernel that writes it to the last kernel that
 * reads it; a buffer is reused by a later value once free, growing to the
 * largest value it holds. A kernel's output never shares a buffer with the
 * inputs it reads, since those are released only after it.
 */
import type { ValueInfo } from "./lower.ts";
import type { KernelSpec } from "./spec.ts";
import { refsOf } from "./spec.ts";

/** One GPU buffer of activations. */
export interface BufferInfo {
  elements: number;
  readonly role: ValueInfo["role"];
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
  const first = new Array<number>(values.length).fill(-1);
  const last = new Array<number>(values.length).fill(-1);
  kernels.forEach((kernel, index) => {
    const id = kernel.out.id;
    if (first[id] < 0) first[id] = index;
    last[id] = index;
    for (const ref of refsOf(kernel)) if (ref.kind === "value") last[ref.id] = index;
  });
  const buffers: BufferInfo[] = [];
  const bufferOf = new Array<number>(values.length).fill(-1);
  for (const value of values) {
    if (value.role !== "input" && value.role !== "output") continue;
    bufferOf[value.id] = buffers.length;
    buffers.push({ elements: value.elements, role: value.role });
  }
  // Activations (f32 or f16) and f32 scratch never share a buffer: their element sizes differ.
  const free: Record<string, number[]> = { act: [], scratch: [] };
  const startAt = new Map<number, ValueInfo[]>();
  const endAt = new Map<number, ValueInfo[]>();
  for (const value of values) {
    if ((value.role !== "act" && value.role !== "scratch") || first[value.id] < 0) continue;
    (startAt.get(first[value.id]) ?? startAt.set(first[value.id], []).get(first[value.id])!)
      .push(value);
    (endAt.get(last[value.id]) ?? endAt.set(last[value.id], []).get(last[value.id])!).push(value);
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
function takeFree(free: number[], buffers: BufferInfo[], value: ValueInfo): number {
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
