/// <reference types="npm:@webgpu/types@0.1.74" />
/**
 * Runtime glue of a WebGPU model.js: the caller's inputs (arrays, or GPU
 * buffers when chaining models) and the weight bytes, uploaded (reading
 * them is shared with the other targets in backends/runtime/files.ts).
 */
import { normalizeInputs, type RunInput, type TensorInfo } from "../../runtime/io.ts";
import { decodeHalves } from "./f16.ts";
import type { Plan } from "./plan.ts";

/** What run() and runOnGpu() accept: arrays, or for chaining, GPU buffers of f32. */
export type GpuRunInput = RunInput | Readonly<Record<string, Float32Array | GPUBuffer>>;

/** Orders inputs; GPU buffers (for chaining) pass through after a size check. */
export function splitInputs(
  infos: readonly TensorInfo[],
  given: GpuRunInput,
): (Float32Array | GPUBuffer)[] {
  if (given instanceof Float32Array || !isGpuRecord(given)) {
    return normalizeInputs(infos, given as RunInput);
  }
  const record = given as Record<string, Float32Array | GPUBuffer>;
  for (const name of Object.keys(record)) {
    if (!infos.some((info) => info.name === name)) {
      throw new TypeError(`refold: unknown input "${name}"`);
    }
  }
  return infos.map((info) => {
    const value = record[info.name];
    const size = info.shape.reduce((a, d) => a * d, 1);
    if (value instanceof Float32Array) return normalizeInputs([info], value)[0];
    if (!value || typeof value !== "object" || !("size" in value) || value.size < size * 4) {
      throw new TypeError(
        `refold: input "${info.name}" must be a Float32Array or a GPUBuffer of at least ${
          size * 4
        } bytes`,
      );
    }
    return value;
  });
}

function isGpuRecord(given: unknown): boolean {
  return !!given && typeof given === "object" &&
    Object.values(given).some((value) =>
      value && !(value instanceof Float32Array) && "usage" in value
    );
}

/** Creates the weight pages, converting f16 bytes to f32 where the device stores f32. */
export function uploadPages(
  device: GPUDevice,
  plan: Plan,
  bytes: Uint8Array,
  elementBytes: number,
  owner: GPUBuffer[],
): GPUBuffer[] {
  const fileBytes = plan.f16 ? 2 : 4;
  const total = plan.pages.reduce((a, b) => a + b, 0) * fileBytes;
  if (bytes.byteLength !== total) {
    throw new Error(
      `refold: weights of "${plan.name}" have ${bytes.byteLength} bytes, expected ${total}`,
    );
  }
  let start = 0;
  return plan.pages.map((elements, i) => {
    // Copy out of the file so that the typed views below are aligned.
    const slice = new Uint8Array(bytes.subarray(start * fileBytes, (start + elements) * fileBytes));
    start += elements;
    const data = fileBytes === elementBytes
      ? slice
      : new Uint8Array(decodeHalves(new Uint16Array(slice.buffer)).buffer);
    const buffer = device.createBuffer({
      size: Math.max(4, data.byteLength),
      usage: GPUBufferUsage.STORAGE,
      mappedAtCreation: true,
      label: `refold weights ${i}`,
    });
    new Uint8Array(buffer.getMappedRange()).set(data);
    buffer.unmap();
    owner.push(buffer);
    return buffer;
  });
}
