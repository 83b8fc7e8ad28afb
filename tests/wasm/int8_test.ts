// The wasm int8 GEMMs against an exact integer reference of the same quantization
// (_int8_reference.ts): random grouped linears, 1x1 convs and im2col convs (padded, strided,
// dilated) with odd sizes (k not a multiple of 4 or 16, m and n odd, batch > 1), blocking with several chunks either way round, a gathered
// (permuted) A and a fused prologue, rows at the extremes of the code ranges, with both the
// relaxed-simd and the plain-SIMD module. The i32 sums are exact and the dequantization rounds
// in a fixed order, so every output must match bit for bit (bias and ReLU included).
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Graph, GraphBuilder, sizeOf, uniform } from "../../ir/mod.ts";
import { compileModel } from "../../backends/wasm/compile.ts";
import { createModel } from "../../backends/wasm/runtime/model_runtime.ts";
import { canThread } from "../../backends/wasm/runtime/thread_pool.ts";
import { ENGINES, runCompiled } from "./_run.ts";
import { int8Conv, int8Linear } from "./_int8_reference.ts";

const RUNS = { numRuns: 12, seed: 20261202 };
const ALL = { minMacs: 0, first: true };

// Contractions under 16 stay f32 by the rule; the tests draw longer ones.

function assertBitwise(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i]) && !(actual[i] === 0 && expected[i] === 0)) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, the exact int8 reference ${expected[i]}`);
    }
  }
}

/** Compiles with every GEMM in int8, checks the kernels really are int8, runs both modules. */
async function checkInt8(
  graph: Graph,
  feeds: Record<string, Float32Array>,
  expected: Float32Array,
  kinds: string,
): Promise<void> {
  const compiled = compileModel(graph, { quantize: ALL });
  assert.ok(compiled.notes.some((note) => note === `kernels: ${kinds}`), compiled.notes.join("\n"));
  for (const engine of ENGINES) {
    const { y } = await runCompiled(compiled, feeds, engine);
    assertBitwise(y, expected, `${graph.name} (${engine})`);
  }
}

const biasRelu = (values: Float32Array, bias: Float32Array, channel: (i: number) => number) =>
  values.map((v, i) => Math.max(0, Math.fround(v + bias[channel(i)])));

Deno.test("int8 linear: grouped, odd sizes, bias and ReLU, bit for bit", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        lead: fc.integer({ min: 1, max: 3 }),
        rows: fc.integer({ min: 1, max: 9 }),
        groups: fc.integer({ min: 1, max: 4 }),
        k: fc.integer({ min: 16, max: 61 }),
        n: fc.integer({ min: 1, max: 21 }),
        bias: fc.boolean(),
        seed: fc.nat(1000),
      }),
      async (c) => {
        const m = c.lead * c.rows;
        const b = new GraphBuilder("linear8");
        const x = b.input("x", [c.lead, c.rows, c.groups * c.k]);
        const w = uniform(c.groups * c.n * c.k, c.seed, -1, 1);
        const bias = uniform(c.groups * c.n, c.seed + 1, -1, 1);
        const y = b.linear(
          x,
          b.weight("w", [c.groups * c.n, c.k], w),
          c.bias ? b.weight("b", [c.groups * c.n], bias) : undefined,
          { groups: c.groups },
        );
        b.output("y", c.bias ? b.relu(y) : y);
        const xs = uniform(m * c.groups * c.k, c.seed + 2, -3, 2);
        let expected = int8Linear(xs, w, { m, k: c.k, n: c.n, groups: c.groups });
        if (c.bias) expected = biasRelu(expected, bias, (i) => i % (c.groups * c.n));
        await checkInt8(b.build(), { x: xs }, expected, "1 int8 linear");
      },
    ),
    RUNS,
  );
});

Deno.test("int8 1x1 conv: grouped, batched, odd channels and pixels, bit for bit", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 3 }),
        groups: fc.integer({ min: 1, max: 3 }),
        cg: fc.integer({ min: 16, max: 41 }),
        og: fc.integer({ min: 1, max: 19 }),
        h: fc.integer({ min: 1, max: 7 }),
        w: fc.integer({ min: 1, max: 11 }),
        bias: fc.boolean(),
        seed: fc.nat(1000),
      }),
      async (c) => {
        const channels = c.groups * c.cg, out = c.groups * c.og, pixels = c.h * c.w;
        const b = new GraphBuilder("conv8");
        const x = b.input("x", [c.batch, channels, c.h, c.w]);
        const w = uniform(out * c.cg, c.seed, -1, 1);
        const bias = uniform(out, c.seed + 1, -1, 1);
        const y = b.conv2d(
          x,
          b.weight("w", [out, c.cg, 1, 1], w),
          c.bias ? b.weight("b", [out], bias) : undefined,
          { groups: c.groups },
        );
        b.output("y", c.bias ? b.relu(y) : y);
        const xs = uniform(c.batch * channels * pixels, c.seed + 2, -2, 3);
        let expected = int8Conv(xs, w, {
          batch: c.batch,
          channels,
          height: c.h,
          width: c.w,
          out,
          groups: c.groups,
          kernel: [1, 1],
        });
        if (c.bias) expected = biasRelu(expected, bias, (i) => Math.floor(i / pixels) % out);
        await checkInt8(b.build(), { x: xs }, expected, "1 int8 conv");
      },
    ),
    RUNS,
  );
});

Deno.test("int8 conv through im2col: padded, strided, dilated, grouped, bit for bit", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        groups: fc.integer({ min: 1, max: 3 }),
        cg: fc.integer({ min: 4, max: 9 }),
        og: fc.integer({ min: 1, max: 13 }),
        h: fc.integer({ min: 3, max: 10 }),
        w: fc.integer({ min: 3, max: 12 }),
        kh: fc.integer({ min: 2, max: 3 }),
        kw: fc.integer({ min: 2, max: 3 }),
        stride: fc.integer({ min: 1, max: 2 }),
        dilation: fc.integer({ min: 1, max: 2 }),
        pads: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
        seed: fc.nat(1000),
      }),
      async (c) => {
        const channels = c.groups * c.cg, out = c.groups * c.og;
        const span = (size: number, k: number, lo: number, hi: number) =>
          size + lo + hi - c.dilation * (k - 1);
        fc.pre(
          span(c.h, c.kh, c.pads[0], c.pads[2]) > 0 && span(c.w, c.kw, c.pads[1], c.pads[3]) > 0,
        );
        const b = new GraphBuilder("im2col8");
        const x = b.input("x", [c.batch, channels, c.h, c.w]);
        const w = uniform(out * c.cg * c.kh * c.kw, c.seed, -1, 1);
        b.output(
          "y",
          b.conv2d(x, b.weight("w", [out, c.cg, c.kh, c.kw], w), undefined, {
            groups: c.groups,
            stride: c.stride,
            dilation: c.dilation,
            pads: c.pads,
          }),
        );
        const xs = uniform(c.batch * channels * c.h * c.w, c.seed + 2, -2, 3);
        const expected = int8Conv(xs, w, {
          batch: c.batch,
          channels,
          height: c.h,
          width: c.w,
          out,
          groups: c.groups,
          kernel: [c.kh, c.kw],
          stride: c.stride,
          dilation: c.dilation,
          pads: c.pads,
        });
        await checkInt8(b.build(), { x: xs }, expected, "1 int8 conv");
      },
    ),
    RUNS,
  );
});

Deno.test("int8 linear: several L2 chunks, activations inner and weights inner", async () => {
  // 260 x 2100 codes (546 KB) span two chunks with the weights streamed; 3 x 2100 rows against
  // 700 outputs put the (smaller) activations inner.
  for (const [m, k, n] of [[260, 2101, 9], [3, 2100, 700], [40, 999, 41]]) {
    const b = new GraphBuilder(`chunks_${m}_${k}_${n}`);
    const x = b.input("x", [m, k]);
    const w = uniform(n * k, m + n, -1, 1);
    b.output("y", b.linear(x, b.weight("w", [n, k], w)));
    const xs = uniform(m * k, k, -1, 1);
    await checkInt8(
      b.build(),
      { x: xs },
      int8Linear(xs, w, { m, k, n, groups: 1 }),
      "1 int8 linear",
    );
  }
});

Deno.test("int8 linear: permuted rows gathered and a fused prologue", async () => {
  const b = new GraphBuilder("gather8");
  const x = b.input("x", [2, 5, 6, 9]);
  const z = b.input("z", [12, 45]);
  const rows = b.reshape(b.transpose(b.reshape(x, [2, 5, 2, 3, 3, 3]), [0, 2, 4, 1, 3, 5]), [
    12,
    45,
  ]);
  const w = uniform(15 * 45, 4, -1, 1);
  b.output("y", b.linear(b.add(rows, z), b.weight("w", [15, 45], w)));
  const xs = uniform(540, 1, -1, 1), zs = uniform(540, 2, -1, 1);
  // The rows the kernel gathers: the partition permute of x, plus z, in f32.
  const a = new Float32Array(540);
  for (let r = 0; r < 12; r++) {
    const [n, i, j] = [Math.floor(r / 6), Math.floor(r / 3) % 2, r % 3];
    for (let f = 0; f < 45; f++) {
      const [c, p, q] = [Math.floor(f / 9), Math.floor(f / 3) % 3, f % 3];
      const value = xs[((n * 5 + c) * 6 + i * 3 + p) * 9 + j * 3 + q];
      a[r * 45 + f] = Math.fround(value + zs[r * 45 + f]);
    }
  }
  await checkInt8(
    b.build(),
    { x: xs, z: zs },
    int8Linear(a, w, { m: 12, k: 45, n: 15, groups: 1 }),
    "1 int8 linear",
  );
});

Deno.test("int8 GEMMs at the code ranges' ends: no i16 saturation, zero and one-signed rows", async () => {
  // Rows of one sign take codes 0 or 127 throughout; weights of one sign take ±127: every
  // pair of products in the relaxed dot reaches 2 * 127 * 127, just under i16's limit.
  const k = 37, n = 11;
  const rows = [
    new Float32Array(k).fill(2.5),
    new Float32Array(k).fill(-1.25),
    new Float32Array(k),
    Float32Array.from({ length: k }, (_, i) => (i % 2 ? 3 : -3)),
    Float32Array.from({ length: k }, (_, i) => i === 5 ? 1e-30 : 0),
  ];
  const xs = new Float32Array(rows.length * k);
  rows.forEach((row, i) => xs.set(row, i * k));
  for (const sign of [1, -1]) {
    const w = Float32Array.from({ length: n * k }, (_, i) => sign * (1 + (i % 7) / 100));
    const b = new GraphBuilder("extremes");
    b.output("y", b.linear(b.input("x", [rows.length, k]), b.weight("w", [n, k], w)));
    await checkInt8(
      b.build(),
      { x: xs },
      int8Linear(xs, w, { m: rows.length, k, n, groups: 1 }),
      "1 int8 linear",
    );
  }
});

Deno.test({
  name: "int8 GEMMs in the threaded module run on thread 0, beside split f32 GEMMs",
  ignore: !canThread(),
  async fn() {
    const b = new GraphBuilder("threads8");
    const x = b.input("x", [16, 300]);
    const w1 = uniform(400 * 300, 1, -1, 1), w2 = uniform(200 * 400, 2, -1, 1);
    const hidden = b.linear(x, b.weight("w1", [400, 300], w1));
    b.output("y", b.linear(hidden, b.weight("w2", [200, 400], w2)));
    const graph = b.build();
    const compiled = compileModel(graph, { quantize: { minMacs: 0 }, threadMinFlops: 1e5 });
    assert.ok(compiled.modules.threaded, "a threaded module");
    const xs = uniform(sizeOf([16, 300]), 3, -1, 1);
    const single = await runCompiled(compiled, { x: xs }, "relaxed-simd");
    const model = await createModel(compiled.plan, compiled.modules, null, import.meta.url, {
      weights: compiled.weights,
      threads: 2,
    });
    const threaded = await model.run({ x: xs }) as Record<string, Float32Array>;
    model.dispose();
    assert.equal(model.threads, 2);
    assertBitwise(threaded.y, single.y, "threads: 2");
  },
});
