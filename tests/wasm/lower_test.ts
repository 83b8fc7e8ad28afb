// What the lowering makes of deployed RepMLP graphs: no transpose or copy kernels, the
// partition permutes folded into fc3's loads and stores, epilogues fused, memory reused.
import assert from "node:assert/strict";
import { lowerGraph } from "../../backends/wasm/lower.ts";
import { planArena } from "../../backends/wasm/arena.ts";
import type { Kernel } from "../../backends/wasm/schedule.ts";
import { isContiguous, partsOf } from "../../backends/wasm/views.ts";
import { lightBlockGraph, v1BlockGraph, v2UnitGraph } from "./_deployed.ts";

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

function describe(kernel: Kernel): string {
  if (kernel.kind === "pool") return `${kernel.mode}pool`;
  const ops = kernel.epilogue.ops.map((op) => (op.kind === "batchnorm" ? "bn" : op.fn));
  const name = kernel.kind === "elementwise" && kernel.label.startsWith("copy")
    ? "copy"
    : kernel.kind;
  return ops.length ? `${name}+${ops.join("+")}` : name;
}

Deno.test("lower: a deployed v1 block is avgpool, fc1, fc2, the gp add and fc3; nothing moves", () => {
  const schedule = lowerGraph(v1BlockGraph(V1));
  assert.deepEqual(schedule.kernels.map(describe), [
    "avgpool",
    "linear+add+relu",
    "linear+add",
    "elementwise+add",
    "linear+add",
  ]);
  const [, , , add, fc3] = schedule.kernels;
  // The gp add writes the partitioned layout, so fc3 reads its rows in place ...
  assert.ok(add.kind === "elementwise" && !isContiguous(add.epilogue.out.view));
  assert.ok(
    fc3.kind === "linear" &&
      partsOf(fc3.x.view, [fc3.m, fc3.groups * fc3.k])!.every((p) => p.kind === "affine"),
  );
  // ... and fc3 stores straight into the un-partitioned NCHW output.
  const store = partsOf(fc3.epilogue.out.view, [fc3.m, fc3.groups * fc3.n])!;
  assert.ok(store.some((part) => part.kind === "table"));
  assert.equal(fc3.epilogue.out.value, schedule.outputs[0].value);
});

Deno.test("lower: Light block fuses bias, ReLU and the residual into the convs and fc3", () => {
  const schedule = lowerGraph(lightBlockGraph({ ...V1, batch: 1, outChannels: 8, wide: 32 }));
  assert.deepEqual(schedule.kernels.map(describe), [
    "conv+add+relu",
    "avgpool",
    "linear+add+relu",
    "linear+add",
    "elementwise+add",
    "linear+add+relu",
    "conv+add+add+relu",
  ]);
});

Deno.test("lower: RepMLPNet unit scales fc3 by the global perceptron inside its epilogue", () => {
  const schedule = lowerGraph(
    v2UnitGraph({ batch: 1, channels: 16, height: 8, width: 8, h: 4, w: 4, sharesets: 4 }),
  );
  assert.deepEqual(schedule.kernels.map(describe), [
    "globalpool",
    "conv+add+relu",
    "conv+add+sigmoid",
    "linear+add+mul+add",
    "conv+add+gelu",
    "conv+add+add",
  ]);
});

Deno.test("lower: the arena reuses memory of values that are dead", () => {
  const schedule = lowerGraph(lightBlockGraph({ ...V1, batch: 1, outChannels: 8, wide: 32 }));
  const plan = planArena(schedule, new Map());
  const total = [...plan.values.keys()].reduce((a, value) => a + value.size * 4, 0);
  assert.ok(plan.peak < total, `peak ${plan.peak} should be below the sum ${total}`);
  const offsets = [...plan.values.values()];
  assert.ok(new Set(offsets).size < offsets.length, "some values share an offset");
});
