/**
 * Every kernel kind of the WebGPU backend, run on the device (Mesa llvmpipe
 * here) against the reference interpreter: GEMMs of every tile shape with odd
 * sizes, groups and share-sets, convolutions (implicit GEMM and direct),
 * pooling, elementwise maps with broadcasting, BatchNorm, concat, and
 * materialized views.
 */
import { erf, GraphBuilder, makeNode, type Node } from "../../ir/mod.ts";
import assert from "node:assert/strict";
import { ERF_MAX_ERROR, erfF32, GELU_MAX_ERROR, geluF32 } from "../../backends/plan/mod.ts";
import { planWebGpu } from "../../backends/webgpu/mod.ts";
import { checkGraph, HAS_GPU, runOnDevice } from "./_helpers.ts";
import { batchnorm, weight } from "./_graphs.ts";

function gpuTest(name: string, fn: () => Promise<void>) {
  Deno.test({ name, ignore: !HAS_GPU, fn, sanitizeResources: false, sanitizeOps: false });
}

gpuTest("linear: every tile shape, odd sizes, groups, no bias, leading axes", async () => {
  for (
    const [m, k, n, groups] of [[1, 7, 5, 1], [5, 12, 20, 2], [13, 33, 70, 1], [37, 53, 29, 1], [
      70,
      40,
      96,
      4,
    ]]
  ) {
    const b = new GraphBuilder(`linear_${m}x${k}x${n}g${groups}`);
    const x = b.input("x", [m, k]);
    b.output("y", b.linear(x, weight(b, "w", [n, k / groups]), weight(b, "b", [n]), { groups }));
    await checkGraph(b.build());
  }
  const b = new GraphBuilder("linear_3d_nobias");
  const x = b.input("x", [2, 3, 17]);
  b.output("y", b.linear(x, weight(b, "w", [9, 17])));
  await checkGraph(b.build());
});

gpuTest("linear: split-K for few workgroups over many weights, few rows and tiled", async () => {
  // 4 MiB of weights each, the least that is split.
  for (const [m, groups] of [[5, 2], [40, 1]]) {
    const b = new GraphBuilder(`split_k_${m}`);
    const x = b.input("x", [m, 1024 * groups]);
    const w = weight(b, "w", [1024, 1024], 0.05);
    b.output("y", b.relu(b.linear(x, w, weight(b, "b", [1024]), { groups })));
    const graph = b.build();
    const labels = planWebGpu(graph).plan.kernels.map((kernel) => kernel.label);
    assert.ok(labels.some((label) => label.includes("k-splits")), labels.join("; "));
    await checkGraph(graph, { tolerance: 1e-6 });
  }
});

gpuTest("linear: share-set FC over the partition view, one dispatch for all sets", async () => {
  // RepMLPNet: rows hold S consecutive channels of one partition.
  const [n, c, h, w, ph, pw, sets] = [2, 8, 6, 4, 3, 2, 4];
  const b = new GraphBuilder("shareset");
  const x = b.input("x", [n, c, h, w]);
  const parts = b.reshape(
    b.transpose(b.reshape(x, [n, c, h / ph, ph, w / pw, pw]), [0, 2, 4, 1, 3, 5]),
    [-1, sets * ph * pw],
  );
  const area = ph * pw;
  const y = b.linear(parts, weight(b, "w", [sets * area, area]), weight(b, "b", [sets * area]), {
    groups: sets,
  });
  b.output(
    "y",
    b.reshape(b.transpose(b.reshape(y, [n, h / ph, w / pw, c, ph, pw]), [0, 3, 1, 4, 2, 5]), [
      n,
      c,
      h,
      w,
    ]),
  );
  await checkGraph(b.build());
});

gpuTest("linear: computed weights (a graph input as W) and a computed bias", async () => {
  // linear's weight is [N, K/groups] = [10, 4], as a view of an input.
  const b2 = new GraphBuilder("computed_weights");
  const x2 = b2.input("x", [6, 8]);
  const w2 = b2.input("w", [5, 2, 4]);
  const bias2 = b2.relu(b2.input("bias", [10]));
  b2.output(
    "y",
    b2.linear(x2, b2.reshape(b2.transpose(w2, [1, 0, 2]), [10, 4]), bias2, { groups: 2 }),
  );
  await checkGraph(b2.build());
});

gpuTest(
  "conv2d: 1x1, kxk with padding, stride, dilation, groups, depthwise, epilogues",
  async () => {
    const cases: [string, number[], number[], Parameters<GraphBuilder["conv2d"]>[3]][] = [
      ["pointwise", [2, 6, 5, 7], [12, 6, 1, 1], {}],
      ["3x3_pad", [1, 5, 9, 8], [16, 5, 3, 3], { padding: 1 }],
      ["7x7_stride2", [1, 3, 15, 15], [8, 3, 7, 7], { stride: 2, padding: 3 }],
      ["dilated_asym", [1, 4, 10, 9], [9, 4, 3, 2], { dilation: [2, 1], pads: [2, 0, 1, 1] }],
      ["grouped", [2, 8, 6, 6], [16, 2, 3, 3], { groups: 4, padding: 1 }],
      ["depthwise", [1, 6, 7, 7], [6, 1, 3, 3], { groups: 6, padding: 1, stride: 2 }],
      ["pointwise_strided", [1, 8, 9, 9], [24, 8, 1, 1], { stride: 2 }],
    ];
    for (const [name, xs, ws, options] of cases) {
      const b = new GraphBuilder(`conv_${name}`);
      const x = b.input("x", xs);
      const y = b.conv2d(x, weight(b, "w", ws), weight(b, "b", [ws[0]]), options);
      const residual = b.input("r", y.type.shape);
      b.output("y", b.relu(b.add(y, residual)));
      await checkGraph(b.build(), { tolerance: 1e-6 });
    }
  },
);

gpuTest("pooling: average with and without padded cells, max with padding, global", async () => {
  const b = new GraphBuilder("pools");
  const x = b.input("x", [2, 3, 9, 7]);
  b.output("avg", b.avgpool(x, 3, { stride: 2, padding: 1 }));
  b.output(
    "avg_excl",
    b.avgpool(x, [3, 2], { stride: [2, 1], padding: 1, countIncludePad: false }),
  );
  b.output("max", b.maxpool(x, 3, { stride: 2, padding: 1 }));
  b.output("global", b.sigmoid(b.globalAvgpool(x)));
  await checkGraph(b.build());
});

gpuTest("elementwise: broadcasting, operand order, unary functions, chains", async () => {
  const b = new GraphBuilder("elementwise");
  const x = b.input("x", [2, 3, 4, 5]);
  const row = b.input("row", [5]);
  const col = b.input("col", [3, 1, 1]);
  b.output("sub", b.sub(row, x));
  b.output("div", b.div(x, b.add(b.sigmoid(col), weight(b, "one", [1]))));
  b.output("gelu", b.gelu(b.mul(x, col)));
  b.output("erf", makeNode("erf", [x], {}));
  await checkGraph(b.build(), { tolerance: 2e-6 });
});

gpuTest("batchnorm: computed parameters evaluated, the deployed affine form fused", async () => {
  const b = new GraphBuilder("batchnorm");
  const x = b.input("x", [2, 4, 3, 3]);
  b.output("affine", b.relu(batchnorm(b, x, "bn")));
  const gamma = b.input("gamma", [4]);
  const y = b.batchnorm(b.transpose(x, [0, 2, 3, 1]), {
    gamma,
    beta: weight(b, "beta", [4]),
    mean: weight(b, "mean", [4]),
    variance: b.add(b.mul(gamma, gamma), weight(b, "var", [4])),
  }, { axis: 3, epsilon: 1e-3 });
  b.output("computed", y);
  await checkGraph(b.build(), { tolerance: 2e-6 });
});

Deno.test("a BatchNorm with constant statistics is refused as not deployed, naming it", () => {
  const b = new GraphBuilder("constant_bn");
  const x = b.input("x", [1, 4, 2, 2]);
  const param = (name: string) => weight(b, name, [4]);
  b.output(
    "y",
    b.batchnorm(x, {
      gamma: param("g"),
      beta: param("b"),
      mean: param("m"),
      variance: param("var"),
    }),
  );
  assert.throws(
    () => planWebGpu(b.build()),
    /^RefoldError: webgpu: graph "constant_bn" is not deployed: %5 = batchnorm\(f32\[1,4,2,2\].*its statistics are constants; fold-batchnorm or lower-batchnorm removes it$/,
  );
});

gpuTest(
  "movement: concat, materialized transposes, outputs that are inputs or weights",
  async () => {
    const b = new GraphBuilder("movement");
    const x = b.input("x", [2, 3, 4]);
    const y = b.input("y", [2, 5, 4]);
    const t = b.transpose(x, [2, 0, 1]);
    b.output("concat", b.concat([x, b.relu(y), x], 1));
    b.output("transposed", t);
    b.output("same", x);
    b.output("flat", b.reshape(b.relu(t), [4, 6]));
    b.output("weight", weight(b, "w", [3, 2]) as Node);
    // A reshape that cuts across a permuted axis needs a second access layer.
    b.output("cut", b.reshape(b.transpose(b.reshape(x, [2, 12]), [1, 0]), [4, 6]));
    await checkGraph(b.build(), { tolerance: 0 });
  },
);

gpuTest(
  "erf and GELU: the plan's shared float32 approximation, within its stated bounds",
  async () => {
    const points = 24001;
    const grid = Float32Array.from({ length: points }, (_, i) => -12 + (24 * i) / (points - 1));
    const b = new GraphBuilder("erf_gelu");
    const x = b.input("x", [points]);
    b.output("erf", makeNode("erf", [x], {}));
    b.output("gelu", b.gelu(x));
    const outputs = await runOnDevice(b.build(), { x: grid });
    let worstErf = 0, worstGelu = 0, offShared = 0;
    grid.forEach((value, i) => {
      worstErf = Math.max(worstErf, Math.abs(outputs.erf[i] - erf(value)));
      const gelu = 0.5 * value * (1 + erf(value / Math.SQRT2));
      const scale = Math.max(1, Math.abs(value));
      worstGelu = Math.max(worstGelu, Math.abs(outputs.gelu[i] - gelu) / scale);
      offShared = Math.max(
        offShared,
        Math.abs(outputs.erf[i] - erfF32(value)),
        Math.abs(outputs.gelu[i] - geluF32(value)) / scale,
      );
    });
    assert.ok(worstErf <= ERF_MAX_ERROR, `erf: ${worstErf.toExponential(2)}`);
    assert.ok(worstGelu <= GELU_MAX_ERROR, `gelu: ${worstGelu.toExponential(2)}`);
    // The same formula as the wasm kernels: within 2 ulp of 1 (a GPU may contract multiply-adds;
    // llvmpipe matches bit for bit). Another approximation (Abramowitz-Stegun) is 4.7e-7 off.
    assert.ok(offShared <= 2.4e-7, `off the shared definition by ${offShared.toExponential(2)}`);
  },
);
