/**
 * Runs a deployed graph through a target the way a user does: the backend
 * writes its module directory (docs/module-contract.md), which is imported
 * and run. Only the public contract is used, so the backends may change
 * inside without these tests noticing.
 */
import { BACKENDS } from "../../backends/mod.ts";
import type { Graph } from "../../ir/mod.ts";
import { dirname, join } from "../_path.ts";

/** The targets that honour the module contract. */
export type Target = "js" | "wasm" | "webgpu";

/**
 * Emits `graph` for `target`, loads the module with `options` (webgpu: the device, from
 * tests/webgpu/) and runs it on `x`; returns the first output.
 */
export async function runTarget(
  graph: Graph,
  target: Target,
  x: Float32Array,
  options: { device?: GPUDevice } = {},
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
    const model = await load(options);
    try {
      return await model.run(x);
    } finally {
      model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
