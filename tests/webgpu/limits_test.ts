/**
 * Device limits: a graph over small (overridden) limits is split into weight
 * chunks, pages and dispatches that each fit, and still computes the same;
 * what cannot be split is refused at compile time with a clear error; a
 * device that falls short is refused at load.
 */
import assert from "node:assert/strict";
import { GraphBuilder, type Node, RefoldError } from "../../ir/mod.ts";
import { planWebGpu } from "../../backends/webgpu/mod.ts";
import {
  checkLimits,
  choosePrecision,
  neededLimits,
} from "../../backends/webgpu/runtime/device.ts";
import { checkGraph, HAS_GPU } from "./_helpers.ts";
import { weight } from "./_graphs.ts";

const SMALL = {
  maxStorageBufferBindingSize: 64 * 1024,
  maxBufferSize: 128 * 1024,
  maxComputeWorkgroupsPerDimension: 2,
  maxStorageBuffersPerShaderStage: 5,
};

function overLimits() {
  const b = new GraphBuilder("over_limits");
  // 256 KiB of weights: four column chunks of 64 KiB (few rows: the register GEMM).
  const x = b.input("x", [8, 256]);
  const a = b.linear(x, weight(b, "a.w", [256, 256], 0.1), weight(b, "a.b", [256]));
  b.output("a", a);
  // 4 groups of 128x64: two chunks of two groups (16 rows: the tiled GEMM).
  const z = b.input("z", [16, 256]);
  const c = b.linear(b.relu(z), weight(b, "c.w", [512, 64], 0.1), weight(b, "c.b", [512]), {
    groups: 4,
  });
  // Five operands: more than the binding budget lets one kernel read.
  let sum: Node = b.sigmoid(c);
  for (let i = 0; i < 4; i++) sum = b.add(sum, b.input(`r${i}`, [16, 512]));
  b.output("y", sum);
  return b.build();
}

Deno.test("over-limit layers are split into chunks, pages and dispatches within the limits", () => {
  const { plan } = planWebGpu(overLimits(), { limits: SMALL });
  const labels = plan.kernels.map((kernel) => kernel.label);
  assert.equal(
    labels.filter((label) => label.includes("[part ") && label.includes("256,256")).length,
    4,
  );
  assert.equal(
    labels.filter((label) => label.includes("groups=4") && label.includes("[part ")).length,
    2,
  );
  assert.ok(plan.pages.length >= 3, `pages: ${plan.pages}`);
  for (const elements of plan.pages) assert.ok(elements * 4 <= SMALL.maxBufferSize);
  for (const entry of plan.entries) {
    assert.ok(entry.elements * 4 <= SMALL.maxStorageBufferBindingSize);
  }
  for (const kernel of plan.kernels) {
    assert.ok(kernel.bindings.length <= SMALL.maxStorageBuffersPerShaderStage, kernel.label);
    for (const dispatch of kernel.dispatches) assert.ok(Math.max(...dispatch.size) <= 2);
  }
  assert.ok(plan.kernels.some((kernel) => kernel.dispatches.length > 1), "no dispatch was split");
  assert.equal(plan.limits.maxComputeWorkgroupsPerDimension, 2);
});

Deno.test({
  name: "the split graph computes what the interpreter computes",
  ignore: !HAS_GPU,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await checkGraph(overLimits(), { limits: SMALL, tolerance: 2e-6 });
  },
});

Deno.test("a tensor over the binding limit is refused at compile time, naming it", () => {
  const b = new GraphBuilder("too_big");
  const x = b.input("x", [40, 100]);
  b.output("y", b.concat([x, x, x, x, x], 1));
  assert.throws(
    () => planWebGpu(b.build(), { limits: SMALL }),
    (error: Error) =>
      error instanceof RefoldError && /concat\(f32\[40,100\]/.test(error.message) &&
      /cannot be split/.test(error.message),
  );
});

Deno.test("a device below the plan's needs is refused at load, naming the limit", () => {
  const b = new GraphBuilder("big_activation");
  b.output("y", b.relu(b.input("x", [64, 1024])));
  const { plan } = planWebGpu(b.build());
  const precision = choosePrecision(plan, false);
  const needed = neededLimits(plan, precision);
  assert.equal(needed.maxStorageBufferBindingSize, 64 * 1024 * 4);
  assert.throws(
    () => checkLimits(plan, needed, { maxStorageBufferBindingSize: 65536 }, "device"),
    /needs maxStorageBufferBindingSize >= 262144, but the device offers 65536/,
  );
  checkLimits(plan, needed, { maxStorageBufferBindingSize: 1 << 27 }, "device");
});
