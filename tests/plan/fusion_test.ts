/**
 * What the plan makes of deployed RepMLP graphs, for both targets' capabilities:
 * no transpose, copy or add kernels in a block (the partition permutes fold
 * into fc3's loads and stores, the global-perceptron add into fc3's
 * prologue), epilogues fused; the targets differ only where their
 * capabilities say so (WebGPU also fuses prologues into convolutions). The
 * example networks plan to the same kernels on both, and every wasm plan
 * addresses one view layer and strided windows only.
 */
import assert from "node:assert/strict";
import { runPipeline } from "../../compiler/mod.ts";
import { EXAMPLES } from "../../examples/mod.ts";
import { type Graph, GraphBuilder, uniform } from "../../ir/mod.ts";
import {
  type Expr,
  type Kernel,
  loadsOf,
  planProgram,
  type TargetCaps,
} from "../../backends/plan/mod.ts";
import { WASM_CAPS } from "../../backends/wasm/compile.ts";
import { webgpuCaps } from "../../backends/webgpu/plan.ts";
import { DEFAULT_LIMITS } from "../../backends/webgpu/limits.ts";
import { lightBlockGraph, v1BlockGraph, v2UnitGraph } from "../wasm/_deployed.ts";

const GPU_CAPS = webgpuCaps(DEFAULT_LIMITS);

const V1 = {
  batch: 2,
  channels: 8,
  outChannels: 12,
  height: 14,
  width: 21,
  h: 7,
  w: 7,
  groups: 4,
  reduction: 2,
};

/** The ops of an expression in evaluation order. */
function opsOf(expr: Expr): string[] {
  if (expr.kind === "unary") return [...opsOf(expr.x), expr.op];
  if (expr.kind === "binary") return [...opsOf(expr.a), ...opsOf(expr.b), expr.op];
  return [];
}

/** `linear[add]+add+relu`: the core, its prologue's ops in brackets, then the epilogue's. */
function describe(kernel: Kernel): string {
  const ops = opsOf(kernel.epilogue);
  let name: string = kernel.kind === "pool" ? `${kernel.mode}pool` : kernel.kind;
  if (kernel.kind === "gemm") {
    name = kernel.shape.op;
    if (kernel.a.kind !== "load") name += `[${opsOf(kernel.a).join("+")}]`;
  }
  if (kernel.kind === "map" && kernel.label.startsWith("copy")) name = "copy";
  return [name, ...ops].join("+");
}

const kernelsOf = (graph: Graph, caps: TargetCaps) =>
  planProgram(graph, caps).kernels.map(describe);

Deno.test("plan: a deployed v1 block is avgpool, fc1, fc2, and fc3 with the gp add as prologue", () => {
  for (const caps of [WASM_CAPS, GPU_CAPS]) {
    const program = planProgram(v1BlockGraph(V1), caps);
    assert.deepEqual(program.kernels.map(describe), [
      "avgpool",
      "linear+add+relu",
      "linear+add",
      "linear[add]+add",
    ], caps.name);
    // fc3 stores straight into the un-partitioned NCHW output.
    const fc3 = program.kernels[3];
    assert.equal(fc3.out.value, program.outputs[0].value);
    assert.equal(fc3.out.view.layers.length, 1);
  }
});

Deno.test("plan: Light block fuses bias, ReLU and the residual into the convs and fc3", () => {
  const graph = lightBlockGraph({ ...V1, batch: 1, outChannels: 8, wide: 32 });
  const expected = [
    "conv+add+relu",
    "avgpool",
    "linear+add+relu",
    "linear+add",
    "linear[add]+add+relu",
    "conv+add+add+relu",
  ];
  assert.deepEqual(kernelsOf(graph, WASM_CAPS), expected);
  assert.deepEqual(kernelsOf(graph, GPU_CAPS), expected);
});

Deno.test("plan: RepMLPNet unit scales fc3 by the global perceptron inside its epilogue", () => {
  const graph = v2UnitGraph({
    batch: 1,
    channels: 16,
    height: 8,
    width: 8,
    h: 4,
    w: 4,
    sharesets: 4,
  });
  const expected = [
    "globalpool",
    "conv+add+relu",
    "conv+add+sigmoid",
    "linear+add+mul+add",
    "conv+add+gelu",
    "conv+add+add",
  ];
  assert.deepEqual(kernelsOf(graph, WASM_CAPS), expected);
  assert.deepEqual(kernelsOf(graph, GPU_CAPS), expected);
});

Deno.test("plan: elementwise producers of a conv are its prologue where the target allows it", () => {
  const b = new GraphBuilder("prologue");
  const x = b.input("x", [1, 4, 5, 5]);
  const scale = b.weight("scale", [4, 1, 1], uniform(4, 1, 0.5, 1.5));
  const shift = b.weight("shift", [4, 1, 1], uniform(4, 2));
  const normed = b.add(b.mul(b.relu(x), scale), shift);
  const w = b.weight("w", [6, 4, 3, 3], uniform(216, 3));
  b.output("y", b.conv2d(normed, w, undefined, { padding: 1 }));
  const graph = b.build();
  assert.deepEqual(kernelsOf(graph, GPU_CAPS), ["conv[relu+mul+add]"]);
  assert.deepEqual(kernelsOf(graph, WASM_CAPS), ["map+relu+mul+add", "conv"]);
});

Deno.test("plan: a view the target cannot address is read through a copy of its bottom layer", () => {
  const b = new GraphBuilder("cut");
  const x = b.input("x", [3, 4]);
  // [4, 3] transposed is runs (4 x 1)(3 x 4); [6, 2] cuts the run of 3: two layers.
  const cut = b.reshape(b.transpose(x, [1, 0]), [6, 2]);
  b.output("y", b.relu(cut));
  const graph = b.build();
  assert.deepEqual(kernelsOf(graph, GPU_CAPS), ["map+relu"]);
  const wasm = planProgram(graph, WASM_CAPS);
  assert.deepEqual(wasm.kernels.map(describe), ["copy", "map+relu"]);
  for (const kernel of wasm.kernels) {
    for (const leaf of loadsOf(kernel.epilogue)) assert.equal(leaf.operand.view.layers.length, 1);
  }
});

Deno.test("plan: the example networks plan to the same kernels for both targets", () => {
  for (const [name, example] of Object.entries(EXAMPLES)) {
    if (!example.small) continue;
    const graph = runPipeline(example.build({ batch: 1 })).graph;
    const wasm = planProgram(graph, WASM_CAPS);
    assert.deepEqual(wasm.kernels.map(describe), kernelsOf(graph, GPU_CAPS), name);
    for (const kernel of wasm.kernels) {
      const exprs = [kernel.epilogue, ...(kernel.kind === "gemm" ? [kernel.a] : [])];
      for (const leaf of exprs.flatMap(loadsOf)) {
        assert.equal(leaf.operand.view.layers.length, 1, `${name}: ${kernel.label}`);
      }
    }
  }
});
