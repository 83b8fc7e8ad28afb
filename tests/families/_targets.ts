/**
 * Runs a deployed graph through a target the way a user does: the backend
 * writes its module directory (docs/module-contract.md), which is imported
 * and run. Only the public contract is used, so the backends may change
 * inside without these tests noticing.
 */
import { BACKENDS } from "../../backends/mod.ts";
import type { Graph } from "../../ir/mod.ts";
import { dirname, join } from "../_path.ts";

/** True when this runtime has WebGPU (Mesa's llvmpipe here). */
export const HAS_GPU = typeof navigator !== "undefined" && "gpu" in navigator;

let device: Promise<GPUDevice> | undefined;

/** One device for every WebGPU model of a test file. */
function gpuDevice(): Promise<GPUDevice> {
  device ??= (async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error("no WebGPU adapter");
    return await adapter.requestDevice({
      requiredLimits: { maxStorageBuffersPerShaderStage: 8 },
    });
  })();
  return device;
}

/** The targets that honour the module contract. */
export type Target = "js" | "wasm" | "webgpu";

/** Emits `graph` for `target`, loads the module and runs it on `x`; returns the first output. */
export async function runTarget(
  graph: Graph,
  target: Target,
  x: Float32Array,
): Promise<Float32Array> {
  const { files } = await BACKENDS[target].emit(graph);
  const dir = await Deno.makeTempDir({ prefix: `refold-${target}-` });
  try {
    for (const { path, contents } of files) {
      await Deno.mkdir(dirname(join(dir, path)), { recursive: true });
      const bytes = typeof contents === "string" ? new TextEncoder().encode(contents) : contents;
      await Deno.writeFile(join(dir, path), bytes);
    }
    const { load } = await import(new URL(`file://${join(dir, "model.js")}`).href);
    const model = await load(target === "webgpu" ? { device: await gpuDevice() } : {});
    try {
      return await model.run(x);
    } finally {
      model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
