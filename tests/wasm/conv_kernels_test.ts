// The specialised conv kernels of the wasm backend (depthwise), against the reference
// interpreter over random geometry, with both the relaxed-simd and the plain-SIMD module;
// each case also checks that the specialised kernel (not the generic GEMM) was rendered.
import assert from "node:assert/strict";
import fc from "fast-check";
import { GraphBuilder, type Node, uniform } from "../../ir/mod.ts";
import { checkGraph } from "./_run.ts";

const RUNS = { numRuns: 14, seed: 20261203 };
let seed = 1;
const w = (b: GraphBuilder, shape: number[], name = `w${seed}`) =>
  b.weight(name, shape, uniform(shape.reduce((a, d) => a * d, 1), seed++, -1, 1));

Deno.test("depthwise conv: odd sizes, strides 1 and 2, padding, kernels up to 7x7", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        channels: fc.integer({ min: 1, max: 7 }),
        h: fc.integer({ min: 1, max: 19 }),
        w: fc.integer({ min: 1, max: 27 }),
        kh: fc.integer({ min: 1, max: 7 }),
        kw: fc.integer({ min: 1, max: 7 }),
        sh: fc.integer({ min: 1, max: 3 }),
        sw: fc.integer({ min: 1, max: 2 }),
        pads: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)),
        bias: fc.boolean(),
        residual: fc.boolean(),
      }).filter((c) => c.h + c.pads[0] + c.pads[2] >= c.kh && c.w + c.pads[1] + c.pads[3] >= c.kw),
      async (c) => {
        const b = new GraphBuilder("depthwise");
        const x = b.input("x", [c.batch, c.channels, c.h, c.w]);
        const kernel = w(b, [c.channels, 1, c.kh, c.kw]);
        const bias = c.bias ? w(b, [c.channels]) : undefined;
        let y: Node = b.conv2d(x, kernel, bias, {
          stride: [c.sh, c.sw],
          pads: c.pads,
          groups: c.channels,
        });
        if (c.residual) y = b.add(y, b.input("r", y.type.shape));
        b.output("y", b.relu(y));
        // At most 49 products per output: float32 reaches about 2e-7 relative here.
        const compiled = await checkGraph(b.build(), { tolerance: 1e-6 });
        assert.ok(compiled.wat.relaxed.includes("_dwconv"), "the depthwise kernel was not used");
      },
    ),
    RUNS,
  );
});

Deno.test("depthwise conv: strided (transposed) input and output views, wide rows", async () => {
  const b = new GraphBuilder("depthwise_views");
  const x = b.input("x", [1, 5, 37, 11]);
  const t = b.transpose(x, [0, 1, 3, 2]);
  b.output("s1", b.conv2d(t, w(b, [5, 1, 3, 3]), w(b, [5]), { padding: 1, groups: 5 }));
  b.output("s2", b.conv2d(x, w(b, [5, 1, 3, 3]), undefined, { stride: 2, padding: 1, groups: 5 }));
  b.output("k5", b.conv2d(x, w(b, [5, 1, 5, 5]), undefined, { padding: 2, groups: 5 }));
  const wide = b.conv2d(x, w(b, [5, 1, 3, 3]), w(b, [5]), { padding: 1, groups: 5 });
  b.output("stored_transposed", b.transpose(b.relu(wide), [0, 1, 3, 2]));
  const compiled = await checkGraph(b.build(), { tolerance: 1e-6 });
  assert.equal(compiled.wat.relaxed.match(/\(func \$k\d+_dwconv\b/g)?.length, 4);
});

Deno.test("strided dense conv: phase-split padded rows, any stride up to 3x2, dilation, groups", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        groups: fc.integer({ min: 1, max: 3 }),
        cg: fc.integer({ min: 1, max: 5 }),
        og: fc.integer({ min: 1, max: 9 }),
        h: fc.integer({ min: 2, max: 17 }),
        w: fc.integer({ min: 2, max: 23 }),
        kh: fc.integer({ min: 1, max: 5 }),
        kw: fc.integer({ min: 2, max: 5 }),
        sh: fc.integer({ min: 1, max: 3 }),
        sw: fc.integer({ min: 1, max: 2 }),
        dilation: fc.integer({ min: 1, max: 2 }),
        pads: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)),
        transposed: fc.boolean(),
      }).filter((c) =>
        c.h + c.pads[0] + c.pads[2] > (c.kh - 1) * c.dilation &&
        c.w + c.pads[1] + c.pads[3] > (c.kw - 1) * c.dilation
      ),
      async (c) => {
        const b = new GraphBuilder("strided");
        const channels = c.groups * c.cg;
        const x = c.transposed
          ? b.transpose(b.input("x", [c.batch, channels, c.w, c.h]), [0, 1, 3, 2])
          : b.input("x", [c.batch, channels, c.h, c.w]);
        const y = b.conv2d(x, w(b, [c.groups * c.og, c.cg, c.kh, c.kw]), w(b, [c.groups * c.og]), {
          stride: [c.sh, c.sw],
          pads: c.pads,
          dilation: c.dilation,
          groups: c.groups,
        });
        b.output("y", b.relu(y));
        // At most 125 products per output: float32 reaches about 3e-7 relative here.
        const compiled = await checkGraph(b.build(), { tolerance: 2e-6 });
        if (c.cg > 1 || c.og > 1) {
          assert.ok(!compiled.wat.relaxed.includes("_im2col"), "im2col was used");
        }
      },
    ),
    RUNS,
  );
});

Deno.test("same-width conv: flat pixel runs over column-masked copies, any taps and padding", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        groups: fc.integer({ min: 1, max: 3 }),
        cg: fc.integer({ min: 1, max: 5 }),
        og: fc.integer({ min: 2, max: 9 }),
        h: fc.integer({ min: 1, max: 13 }),
        w: fc.integer({ min: 2, max: 30 }).filter((w) => w % 8 !== 0),
        kh: fc.integer({ min: 1, max: 5 }),
        kw: fc.integer({ min: 1, max: 5 }),
        dilation: fc.integer({ min: 1, max: 2 }),
        left: fc.integer({ min: 0, max: 8 }),
        top: fc.nat(3),
        bottom: fc.nat(3),
        transposed: fc.boolean(),
      }).filter((c) => {
        const span = (c.kw - 1) * c.dilation;
        return c.kh * c.kw > 1 && c.left <= span && span < c.w &&
          c.h + c.top + c.bottom > (c.kh - 1) * c.dilation;
      }),
      async (c) => {
        const b = new GraphBuilder("wrapped");
        const channels = c.groups * c.cg;
        const x = c.transposed
          ? b.transpose(b.input("x", [c.batch, channels, c.w, c.h]), [0, 1, 3, 2])
          : b.input("x", [c.batch, channels, c.h, c.w]);
        const right = (c.kw - 1) * c.dilation - c.left;
        const y = b.conv2d(x, w(b, [c.groups * c.og, c.cg, c.kh, c.kw]), w(b, [c.groups * c.og]), {
          pads: [c.top, c.left, c.bottom, right],
          dilation: c.dilation,
          groups: c.groups,
        });
        b.output("y", b.relu(b.add(y, b.input("r", y.type.shape))));
        // At most 125 products per output: float32 reaches about 3e-7 relative here.
        const compiled = await checkGraph(b.build(), { tolerance: 2e-6 });
        assert.ok(compiled.wat.relaxed.includes("_wrap"), "the wrapped pixel path was not used");
      },
    ),
    RUNS,
  );
});
