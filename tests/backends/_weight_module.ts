// Shared by the narrow-weight module tests (tests/backends/weight_file_test.ts and, for the GPU,
// tests/webgpu/weight_file_test.ts): a sample graph, and a check that a module emitted with narrow
// weights computes what the graph holding the stored weights computes.
import assert from "node:assert/strict";
import type { EmitOptions, EmitResult } from "../../backends/backend.ts";
import {
  type Graph,
  GraphBuilder,
  interpret,
  planWeightStorage,
  uniform,
  withStoredWeights,
} from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";

/** A grouped conv, a grouped FC and an FC over a 3-D input: kernels with different row counts. */
export function sampleGraph(): Graph {
  const b = new GraphBuilder("narrow");
  const x = b.input("x", [1, 4, 6, 5]);
  const conv = b.conv2d(
    x,
    b.weight("conv.k", [6, 2, 3, 3], uniform(108, 1)),
    b.weight("conv.b", [6], uniform(6, 2)),
    { groups: 2, padding: 1 },
  );
  const rows = b.reshape(b.relu(conv), [6, 30]);
  const grouped = b.linear(rows, b.weight("fc1.w", [9, 10], uniform(90, 3)), undefined, {
    groups: 3,
  });
  const fc2 = b.linear(
    b.reshape(grouped, [1, 6, 9]),
    b.weight("fc2.w", [5, 9], uniform(45, 4, -4, 4)),
    b.weight("fc2.b", [5], uniform(5, 5)),
  );
  b.output("y", fc2);
  return b.build();
}

async function writeOut(result: EmitResult): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "refold_narrow_" });
  for (const file of result.files) {
    const contents = file.contents;
    await Deno.writeFile(
      join(dir, file.path),
      typeof contents === "string" ? new TextEncoder().encode(contents) : contents,
    );
  }
  return dir;
}

/** Emits, loads model.js, runs once; checks against the graph holding the stored weights. */
export async function checkModule(
  backend: { emit(graph: Graph, options?: EmitOptions): Promise<EmitResult> },
  options: EmitOptions,
  load: Record<string, unknown> = {},
): Promise<EmitResult> {
  const graph = sampleGraph();
  const result = await backend.emit(graph, options);
  const dir = await writeOut(result);
  try {
    const model = await (await import(`file://${dir}/model.js`)).load(load);
    const x = uniform(120, 9);
    const stored = withStoredWeights(graph, planWeightStorage(graph, options.weightDType!));
    assertClose(await model.run(x), interpret(stored, { x }).y, 1e-6, JSON.stringify(options));
    // The narrow weights differ from the f32 ones by far more than the tolerance.
    const { relative } = compareTo(await model.run(x), interpret(graph, { x }).y);
    assert.ok(relative > 1e-5, `${relative}: do the stored weights reach the module at all?`);
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return result;
}

function compareTo(a: Float32Array, b: ArrayLike<number>) {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { relative: diff / scale };
}
