/**
 * Whole deployed blocks on the device against the reference interpreter, the
 * fusion they should get (no standalone permute or elementwise kernels in a
 * RepMLP block), and the golden WGSL of one v1 block.
 */
import assert from "node:assert/strict";
import { planWebGpu } from "../../backends/webgpu/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { bottleneck, v1Graph, v2Unit } from "./_graphs.ts";
import { checkGraph, HAS_GPU } from "./_helpers.ts";

const snap = snapshotFile(import.meta.url);

function gpuTest(name: string, fn: () => Promise<void>) {
  Deno.test({ name, ignore: !HAS_GPU, fn, sanitizeResources: false, sanitizeOps: false });
}

const V1 = { n: 2, c: 8, o: 8, h: 8, w: 8, ph: 4, pw: 4, groups: 2 };

const kernelOps = (graph: Parameters<typeof planWebGpu>[0]) =>
  planWebGpu(graph).plan.kernels.map((kernel) => kernel.label.split("(")[0]);

Deno.test("v1 block: pool, fc1, fc2 and fc3 only; the add and both permutes are folded", () => {
  assert.deepEqual(kernelOps(v1Graph(V1)), ["avgpool", "linear", "linear", "linear"]);
});

Deno.test("v2 unit: the gate, residual and pre-norm of the FFN fuse into GEMMs", () => {
  // prebn1 (multiply, add) is read twice, so it is a kernel; prebn2 is the first conv's prologue.
  assert.deepEqual(kernelOps(v2Unit({ n: 1, c: 8, h: 8, w: 8, ph: 4, pw: 4, sets: 4 })), [
    "mul",
    "global_avgpool",
    "conv2d",
    "conv2d",
    "linear",
    "conv2d",
    "conv2d",
  ]);
});

gpuTest("v1 block (C=O=8, 8x8, 4x4 partitions, g=2) matches the interpreter", async () => {
  await checkGraph(v1Graph(V1), { tolerance: 1e-6 });
});

gpuTest("v1 block with C != O and one partition (no global perceptron)", async () => {
  await checkGraph(v1Graph({ n: 1, c: 4, o: 6, h: 5, w: 5, ph: 5, pw: 5, groups: 2 }), {
    tolerance: 1e-6,
  });
});

gpuTest("RepMLPNet unit (share-sets, gate, GELU FFN) matches the interpreter", async () => {
  await checkGraph(v2Unit({ n: 2, c: 8, h: 8, w: 8, ph: 4, pw: 4, sets: 4 }), { tolerance: 1e-6 });
});

gpuTest("ResNet bottleneck (stem, max pool, residual) matches the interpreter", async () => {
  await checkGraph(bottleneck({ n: 1, c: 8, hw: 32 }), { tolerance: 1e-6 });
});

Deno.test("golden WGSL of a v1 block", async () => {
  // Batch 8: fc3 has 32 rows (the tiled GEMM), the global perceptron 8 (the few-row GEMM).
  const { plan } = planWebGpu(v1Graph({ ...V1, n: 8 }));
  const text = plan.shaders.map((code, i) => `// ---- shader ${i}\n${code}`).join("\n");
  await snap.match("v1 block C=O=8 H=W=8 h=w=4 g=2", text);
});

snap.checkOrphans();
