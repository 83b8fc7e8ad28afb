// Every kernel kind of the wasm backend, instantiated and run against the reference
// interpreter on random shapes (odd sizes, groups, share-sets, padded, strided, dilated
// and grouped convs), with both the relaxed-simd and the plain-SIMD module.
import fc from "fast-check";
import { GraphBuilder, makeNode, type Node, uniform } from "../../ir/mod.ts";
import { checkGraph } from "./_run.ts";

const RUNS = { numRuns: 10, seed: 20240611 };
let seed = 1;
const w = (b: GraphBuilder, shape: number[], name = `w${seed}`) =>
  b.weight(name, shape, uniform(shape.reduce((a, d) => a * d, 1), seed++, -1, 1));

Deno.test("linear: grouped, odd sizes, bias and activations", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        rows: fc.integer({ min: 1, max: 13 }),
        lead: fc.integer({ min: 1, max: 3 }),
        groups: fc.integer({ min: 1, max: 4 }),
        k: fc.integer({ min: 1, max: 11 }),
        n: fc.integer({ min: 1, max: 19 }),
        bias: fc.boolean(),
        act: fc.constantFrom("none", "relu", "gelu", "sigmoid"),
      }),
      async (c) => {
        const b = new GraphBuilder("linear");
        const x = b.input("x", [c.lead, c.rows, c.groups * c.k]);
        const bias = c.bias ? w(b, [c.groups * c.n]) : undefined;
        let y: Node = b.linear(x, w(b, [c.groups * c.n, c.k]), bias, { groups: c.groups });
        if (c.act === "relu") y = b.relu(y);
        if (c.act === "gelu") y = b.gelu(y);
        if (c.act === "sigmoid") y = b.sigmoid(y);
        b.output("y", y);
        await checkGraph(b.build());
      },
    ),
    RUNS,
  );
});

Deno.test("linear: rows in several L2 chunks, packed per chunk; weights streamed", async () => {
  // 260 rows of k=520 pack into 44 tiles, more than one 512 KiB chunk holds.
  const b = new GraphBuilder("chunks");
  const x = b.input("x", [260, 520]);
  b.output("y", b.linear(x, w(b, [700, 520]), w(b, [700])));
  // Sums of 520 products: float32 lands at 1.0e-6 here.
  await checkGraph(b.build(), { tolerance: 3e-6 });
});

Deno.test("linear: partitioned input gathered through tables, computed weight", async () => {
  const b = new GraphBuilder("gather");
  const x = b.input("x", [2, 5, 6, 9]);
  const rows = b.reshape(b.transpose(b.reshape(x, [2, 5, 2, 3, 3, 3]), [0, 2, 4, 1, 3, 5]), [
    12,
    45,
  ]);
  const weight = b.input("wt", [15, 9]);
  const y = b.linear(rows, b.transpose(weight, [1, 0]), undefined, { groups: 3 });
  b.output(
    "y",
    b.reshape(b.transpose(b.reshape(y, [2, 2, 3, 3, 1, 3]), [0, 3, 1, 4, 2, 5]), [2, 3, 2, 9]),
  );
  await checkGraph(b.build());
});

Deno.test("conv2d: padded, strided, dilated, grouped, odd sizes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        groups: fc.integer({ min: 1, max: 3 }),
        cg: fc.integer({ min: 1, max: 5 }),
        og: fc.integer({ min: 1, max: 9 }),
        h: fc.integer({ min: 3, max: 11 }),
        w: fc.integer({ min: 3, max: 13 }),
        kh: fc.integer({ min: 1, max: 3 }),
        kw: fc.integer({ min: 1, max: 3 }),
        stride: fc.integer({ min: 1, max: 2 }),
        dilation: fc.integer({ min: 1, max: 2 }),
        pads: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
        bias: fc.boolean(),
      }),
      async (c) => {
        const b = new GraphBuilder("conv");
        const x = b.input("x", [c.batch, c.groups * c.cg, c.h, c.w]);
        const kernel = w(b, [c.groups * c.og, c.cg, c.kh, c.kw]);
        const bias = c.bias ? w(b, [c.groups * c.og]) : undefined;
        b.output(
          "y",
          b.relu(b.conv2d(x, kernel, bias, {
            stride: c.stride,
            pads: c.pads,
            dilation: c.dilation,
            groups: c.groups,
          })),
        );
        // Up to 4.3e-7 measured over the seeded cases.
        await checkGraph(b.build(), { tolerance: 2e-6 });
      },
    ),
    RUNS,
  );
});

Deno.test("conv2d: the three pixel paths and a computed kernel", async () => {
  const b = new GraphBuilder("conv_paths");
  const x = b.input("x", [2, 6, 10, 9]);
  b.output("flat", b.conv2d(x, w(b, [11, 6, 1, 1]), w(b, [11])));
  b.output("rows", b.conv2d(x, w(b, [8, 3, 3, 3]), undefined, { padding: 1, groups: 2 }));
  b.output("im2col", b.conv2d(x, w(b, [5, 6, 7, 7]), undefined, { stride: 2, padding: 3 }));
  b.output("strided1x1", b.conv2d(x, w(b, [13, 6, 1, 1]), undefined, { stride: 2 }));
  const k = b.input("k", [4, 6, 3, 3]);
  b.output("computed", b.conv2d(x, k, undefined, { padding: [0, 1] }));
  b.output("transposed_in", b.conv2d(b.transpose(x, [0, 1, 3, 2]), w(b, [3, 6, 3, 1])));
  await checkGraph(b.build(), { tolerance: 2e-6 });
});

Deno.test("pools: windowed average and max, global average", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        h: fc.integer({ min: 3, max: 12 }),
        w: fc.integer({ min: 3, max: 12 }),
        k: fc.integer({ min: 2, max: 3 }),
        stride: fc.integer({ min: 1, max: 3 }),
        pad: fc.integer({ min: 0, max: 1 }),
        countIncludePad: fc.boolean(),
      }),
      async (c) => {
        const b = new GraphBuilder("pool");
        const x = b.input("x", [2, 3, c.h, c.w]);
        const options = { stride: c.stride, padding: c.pad, countIncludePad: c.countIncludePad };
        b.output("avg", b.avgpool(x, c.k, options));
        b.output("max", b.maxpool(x, c.k, options));
        b.output("global", b.globalAvgpool(x));
        b.output("global_strided", b.globalAvgpool(b.transpose(x, [0, 1, 3, 2])));
        b.output("max_strided", b.maxpool(b.transpose(x, [0, 1, 3, 2]), c.k, options));
        await checkGraph(b.build());
      },
    ),
    { ...RUNS, numRuns: 15 },
  );
});

Deno.test("pools: windows reaching into the padding at the far border", async () => {
  const b = new GraphBuilder("pool_border");
  const x = b.input("x", [1, 2, 7, 5]);
  b.output("avg", b.avgpool(x, 3, { stride: 2, padding: 1 }));
  b.output("avg_valid", b.avgpool(x, 3, { stride: 2, padding: 1, countIncludePad: false }));
  b.output("max", b.maxpool(x, 3, { stride: 2, padding: 1 }));
  await checkGraph(b.build());
});

Deno.test("elementwise: broadcasting binaries, unaries at extreme values", async () => {
  const b = new GraphBuilder("elementwise");
  const x = b.input("x", [2, 3, 5, 7]);
  const y = b.input("y", [3, 1, 7]);
  const big = b.mul(x, b.weight("scale", [1], Float32Array.of(40)));
  b.output("sub", b.sub(y, x));
  b.output("div", b.div(x, b.add(b.relu(y), b.weight("one", [1], Float32Array.of(1)))));
  b.output("sigmoid", b.sigmoid(big));
  b.output("gelu", b.gelu(b.mul(x, b.weight("four", [1], Float32Array.of(4)))));
  b.output("erf", makeNode("erf", [big], {}));
  b.output("relu", b.relu(b.transpose(x, [3, 1, 0, 2])));
  await checkGraph(b.build());
});

Deno.test("batchnorm: computed parameters at any axis; the deployed affine form fused", async () => {
  const b = new GraphBuilder("batchnorm");
  const x = b.input("x", [2, 5, 3, 4]);
  // What lower-batchnorm leaves of a BatchNorm with constant statistics.
  const affine = (low: number) => b.weight(`p${seed}`, [5, 1, 1], uniform(5, seed++, low, low + 1));
  b.output("affine", b.relu(b.add(b.mul(x, affine(0.5)), affine(-1))));
  const v = b.input("v", [3]);
  const positive = b.add(b.relu(v), b.weight("eps", [1], Float32Array.of(0.5)));
  b.output(
    "computed",
    b.batchnorm(x, { gamma: v, beta: v, mean: v, variance: positive }, { axis: 2 }),
  );
  await checkGraph(b.build());
});

Deno.test("movement: concat, views a stride cannot express, outputs that are inputs", async () => {
  const b = new GraphBuilder("movement");
  const x = b.input("x", [2, 6]);
  const y = b.input("y", [2, 3]);
  b.output("concat", b.concat([x, b.relu(y), x], 1));
  // [2,6] -> [6,2] -> transpose: the split needs a copy first.
  const odd = b.reshape(b.transpose(b.reshape(x, [3, 4]), [1, 0]), [6, 2]);
  b.output("odd", b.transpose(odd, [1, 0]));
  b.output("same", x);
  b.output("weight", b.weight("c", [2, 2], Float32Array.of(1, 2, 3, 4)));
  await checkGraph(b.build());
});
