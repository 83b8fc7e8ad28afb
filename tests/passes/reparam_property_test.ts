// Properties of the structural re-parameterization identities over random geometry: odd, even,
// non-square and anisotropic kernels, strides, dilations, uncentred padding, groups, C != O
// where the identity allows it. Every rewrite must keep the outputs (float64 interpreter,
// relative 1e-6: float32 weights rounded once), and must fire exactly when its preconditions
// hold; a refusal must be the documented one. Shrinking points at the smallest failing graph.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  composeConvs,
  foldBatchnorm,
  mergeParallelConvs,
  type Pass,
  runPasses,
  runPipeline,
} from "../../compiler/mod.ts";
import {
  type Graph,
  GraphBuilder,
  type Node,
  printGraph,
  summarize,
  uniform,
} from "../../ir/mod.ts";
import { assertEquivalent } from "./_harness.ts";

const TOLERANCE = 1e-6;

/** Runs `pass` and returns the graph, its conv count and the explanations. */
function apply(graph: Graph, pass: Pass) {
  const explanations: string[] = [];
  const { graph: after } = runPasses(graph, [pass], {
    explain: true,
    onExplain: (_pass, message) => explanations.push(message),
  });
  assertEquivalent(graph, after, TOLERANCE);
  return { after, convs: summarize(after).ops.conv2d ?? 0, explanations };
}

/** Weights of a builder seeded by a counter, so that every graph is reproducible. */
class Weights {
  #next = 1;
  constructor(readonly b: GraphBuilder, readonly seed: number) {}
  tensor(shape: number[], low = -1, high = 1): Node {
    const size = shape.reduce((a, d) => a * d, 1);
    return this.b.weight(
      `w${this.#next}`,
      shape,
      uniform(size, this.seed * 977 + this.#next++, low, high),
    );
  }
  bn(x: Node): Node {
    const c = x.type.shape[1];
    return this.b.batchnorm(x, {
      gamma: this.tensor([c], 0.5, 1.5),
      beta: this.tensor([c]),
      mean: this.tensor([c]),
      variance: this.tensor([c], 0.5, 2),
    });
  }
}

/** One axis of a window: kernel, dilation and the padding before the first output. */
interface AxisSpec {
  kernel: number;
  dilation: number;
  before: number;
}

/** Padding before reaches at most the window's span, where an output still reads the input. */
const axisSpec = fc.record({
  kernel: fc.integer({ min: 1, max: 4 }),
  dilation: fc.integer({ min: 1, max: 2 }),
  before: fc.integer({ min: 0, max: 3 }),
}).map((axis) => ({ ...axis, before: Math.min(axis.before, axis.dilation * (axis.kernel - 1)) }));

/** The padding after that gives `out` outputs, or undefined when none does. */
function after(size: number, axis: AxisSpec, stride: number, out: number): number | undefined {
  const span = axis.dilation * (axis.kernel - 1) + 1;
  for (let pad = 0; pad <= span + stride; pad++) {
    if (Math.floor((size + axis.before + pad - span) / stride) + 1 === out) return pad;
  }
  return undefined;
}

/** A conv of `x` with the given window per axis, giving [out] outputs, or undefined. */
function convOf(
  w: Weights,
  x: Node,
  spec: { axes: [AxisSpec, AxisSpec]; stride: [number, number]; groups: number; out: number },
  outSize: [number, number],
  bias: boolean,
): Node | undefined {
  const [, c, h, wd] = x.type.shape;
  const pads = spec.axes.map((axis, i) => after([h, wd][i], axis, spec.stride[i], outSize[i]));
  if (pads.some((pad) => pad === undefined)) return undefined;
  const [kh, kw] = spec.axes.map((axis) => axis.kernel);
  return w.b.conv2d(
    x,
    w.tensor([spec.out, c / spec.groups, kh, kw]),
    bias ? w.tensor([spec.out]) : undefined,
    {
      pads: [spec.axes[0].before, spec.axes[1].before, pads[0]!, pads[1]!],
      stride: spec.stride,
      dilation: [spec.axes[0].dilation, spec.axes[1].dilation],
      groups: spec.groups,
    },
  );
}

const groupsOf = (channels: number) => [1, 2, 3, 4, 6].filter((g) => channels % g === 0);

Deno.test("parallel convs of any geometry merge into one conv, or cost says why not", () => {
  let ran = 0, merged = 0;
  fc.assert(
    fc.property(
      fc.record({
        perGroupIn: fc.integer({ min: 1, max: 2 }),
        perGroupOut: fc.integer({ min: 1, max: 3 }),
        groups: fc.constantFrom(1, 2, 3),
        h: fc.integer({ min: 3, max: 7 }),
        w: fc.integer({ min: 3, max: 7 }),
        stride: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
        branches: fc.array(fc.tuple(axisSpec, axisSpec, fc.boolean(), fc.boolean()), {
          minLength: 2,
          maxLength: 3,
        }),
        seed: fc.nat(1000),
      }),
      (cfg) => {
        const c = cfg.groups * cfg.perGroupIn, o = cfg.groups * cfg.perGroupOut;
        const b = new GraphBuilder("parallel"), w = new Weights(b, cfg.seed);
        const x = b.input("x", [1, c, cfg.h, cfg.w]);
        const out: [number, number] = [
          Math.floor((cfg.h - 1) / cfg.stride[0]) + 1,
          Math.floor((cfg.w - 1) / cfg.stride[1]) + 1,
        ];
        const convs = cfg.branches.map(([a0, a1, bias]) =>
          convOf(
            w,
            x,
            { axes: [a0, a1], stride: cfg.stride, groups: cfg.groups, out: o },
            out,
            bias,
          )
        );
        if (convs.some((conv) => conv === undefined)) return;
        let sum = convs[0]!;
        cfg.branches.slice(1).forEach(([, , , negative], i) => {
          sum = negative ? b.sub(sum, convs[i + 1]!) : b.add(sum, convs[i + 1]!);
        });
        b.output("y", b.relu(sum));
        const { convs: left, explanations, after } = apply(b.build(), mergeParallelConvs);
        assert.ok(
          left === 1 || explanations.some((line) => line.includes("would cost")),
          `${left} convs left, explanations: ${explanations.join("; ")}\n${printGraph(after)}`,
        );
        ran++;
        if (left === 1) merged++;
      },
    ),
    { numRuns: 150, seed: 1201 },
  );
  assert.ok(ran >= 120 && merged >= 100, `${ran} of 150 cases ran, ${merged} merged`);
});

/** A branch that needs C = O: x, BN(x), a per-channel scale of x, or an average pool of x. */
type Diagonal = "identity" | "bn" | "scale" | "pool";

Deno.test("identity branches (x, BN(x), c*x, avgpool) join any grouped conv as taps", () => {
  fc.assert(
    fc.property(
      fc.record({
        channels: fc.constantFrom(2, 3, 4, 6),
        groupIndex: fc.nat(4),
        h: fc.integer({ min: 2, max: 6 }),
        w: fc.integer({ min: 2, max: 6 }),
        kernel: fc.tuple(fc.constantFrom(1, 3, 5), fc.constantFrom(1, 3, 5)),
        diagonals: fc.array(
          fc.tuple(fc.constantFrom<Diagonal>("identity", "bn", "scale", "pool"), fc.boolean()),
          { minLength: 1, maxLength: 3 },
        ),
        outer: fc.constantFrom("none", "scale", "bn"),
        seed: fc.nat(1000),
      }),
      (cfg) => {
        const c = cfg.channels;
        const groups = groupsOf(c)[cfg.groupIndex % groupsOf(c).length];
        const b = new GraphBuilder("diagonal"), w = new Weights(b, cfg.seed);
        const x = b.input("x", [2, c, cfg.h, cfg.w]);
        const [kh, kw] = cfg.kernel;
        let sum: Node = b.conv2d(x, w.tensor([c, c / groups, kh, kw]), w.tensor([c]), {
          pads: [(kh - 1) / 2, (kw - 1) / 2, (kh - 1) / 2, (kw - 1) / 2],
          groups,
        });
        for (const [kind, negative] of cfg.diagonals) {
          const branch = kind === "identity"
            ? x
            : kind === "bn"
            ? w.bn(x)
            : kind === "scale"
            ? b.mul(x, w.tensor([c, 1, 1]))
            : b.avgpool(x, [kh, kw], { stride: 1, padding: [(kh - 1) / 2, (kw - 1) / 2] });
          sum = negative ? b.sub(sum, branch) : b.add(sum, branch);
        }
        if (cfg.outer === "scale") sum = b.mul(w.tensor([1, c, 1, 1]), sum);
        if (cfg.outer === "bn") sum = w.bn(sum);
        b.output("y", b.add(x, sum));
        // The outer scale or BN sits inside the residual sum, so everything is one conv.
        const { after } = apply(b.build(), mergeParallelConvs);
        assert.deepEqual(summarize(after).ops, { conv2d: 1 }, printGraph(after));
      },
    ),
    { numRuns: 150, seed: 1202 },
  );
});

Deno.test("chained convs compose exactly when the border allows it, and refuse otherwise", () => {
  let ran = 0, composedCount = 0;
  fc.assert(
    fc.property(
      fc.record({
        c: fc.integer({ min: 1, max: 3 }),
        m: fc.integer({ min: 1, max: 3 }),
        o: fc.integer({ min: 1, max: 3 }),
        groupsA: fc.constantFrom(1, 2),
        groupsB: fc.constantFrom(1, 2),
        h: fc.integer({ min: 4, max: 8 }),
        w: fc.integer({ min: 4, max: 8 }),
        a: fc.tuple(axisSpec, axisSpec),
        strideA: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
        b: fc.tuple(axisSpec, axisSpec),
        strideB: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
        pointwiseA: fc.boolean(),
        biasA: fc.boolean(),
        padB: fc.boolean(),
        pool: fc.boolean(),
        seed: fc.nat(1000),
      }),
      (cfg) => {
        const bld = new GraphBuilder("chain"), w = new Weights(bld, cfg.seed);
        const [ga, gb] = [cfg.groupsA, cfg.pool ? 1 : cfg.groupsB];
        const c = cfg.c * ga, m = cfg.m * ga * gb, o = cfg.pool ? m : cfg.o * gb;
        const x = bld.input("x", [1, c, cfg.h, cfg.w]);
        const axesA: [AxisSpec, AxisSpec] = cfg.pointwiseA
          ? [{ kernel: 1, dilation: 1, before: 0 }, { kernel: 1, dilation: 1, before: 0 }]
          : cfg.a;
        const outA: [number, number] = [0, 1].map((i) => {
          const axis = axesA[i], size = [cfg.h, cfg.w][i];
          const span = axis.dilation * (axis.kernel - 1) + 1;
          return Math.floor(
            (size + (cfg.pointwiseA ? 0 : 2 * axis.before) - span) / cfg.strideA[i],
          ) + 1;
        }) as [number, number];
        if (outA.some((size) => size < 1)) return;
        const a = convOf(
          w,
          x,
          { axes: axesA, stride: cfg.strideA, groups: ga, out: m },
          outA,
          cfg.biasA,
        );
        if (!a) return;
        const axesB: [AxisSpec, AxisSpec] = cfg.padB ? cfg.b : [
          { ...cfg.b[0], before: 0 },
          { ...cfg.b[1], before: 0 },
        ];
        const outB: [number, number] = [0, 1].map((i) => {
          const axis = axesB[i];
          const span = axis.dilation * (axis.kernel - 1) + 1;
          return Math.floor((outA[i] + 2 * axis.before - span) / cfg.strideB[i]) + 1;
        }) as [number, number];
        if (outB.some((size) => size < 1)) return;
        let second: Node | undefined;
        if (cfg.pool) {
          const [kh, kw] = axesB.map((axis) => axis.kernel);
          const [ph, pw] = axesB.map((axis) => Math.min(axis.before, axis.kernel - 1));
          second = bld.avgpool(a, [kh, kw], { stride: cfg.strideB, padding: [ph, pw] });
        } else {
          second = convOf(
            w,
            a,
            { axes: axesB, stride: cfg.strideB, groups: gb, out: o },
            outB,
            true,
          );
        }
        if (!second) return;
        bld.output("y", second);
        const graph = bld.build();
        const { convs, explanations, after } = apply(graph, composeConvs);
        const padded = second.op === "conv2d"
          ? second.attrs.pads.some((p) => p > 0)
          : second.op === "avgpool" && second.attrs.pads.some((p) => p > 0);
        const exact = !padded || (cfg.pointwiseA && !cfg.biasA);
        const composed = convs === 1 && summarize(after).ops.avgpool === undefined;
        const text = `${explanations.join("; ")}\n${printGraph(after)}`;
        if (exact) {
          assert.ok(composed || explanations.some((l) => l.includes("would cost")), text);
        } else {
          assert.ok(!composed && explanations.some((l) => l.includes("zero-pads")), text);
        }
        ran++;
        if (composed) composedCount++;
      },
    ),
    { numRuns: 200, seed: 1203 },
  );
  assert.ok(ran >= 130 && composedCount >= 40, `${ran} of 200 ran, ${composedCount} composed`);
});

Deno.test("a per-channel scale or shift after a conv folds into it, whatever its broadcast shape", () => {
  fc.assert(
    fc.property(
      fc.record({
        c: fc.integer({ min: 1, max: 4 }),
        o: fc.integer({ min: 1, max: 4 }),
        k: fc.constantFrom(1, 2, 3),
        ops: fc.array(
          fc.tuple(
            fc.constantFrom("mul", "add", "sub", "rsub", "div"),
            fc.constantFrom("c11", "1c11", "1"),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        seed: fc.nat(1000),
      }),
      (cfg) => {
        const b = new GraphBuilder("affine"), w = new Weights(b, cfg.seed);
        const x = b.input("x", [2, cfg.c, 5, 4]);
        let y: Node = b.conv2d(x, w.tensor([cfg.o, cfg.c, cfg.k, cfg.k]), undefined, {
          padding: 1,
        });
        for (const [op, shape] of cfg.ops) {
          const dims = shape === "c11" ? [cfg.o, 1, 1] : shape === "1c11" ? [1, cfg.o, 1, 1] : [1];
          const constant = w.tensor(dims, 0.5, 1.5);
          y = op === "mul"
            ? b.mul(constant, y)
            : op === "add"
            ? b.add(y, constant)
            : op === "sub"
            ? b.sub(y, constant)
            : op === "rsub"
            ? b.sub(constant, y)
            : b.div(y, constant);
        }
        b.output("y", b.relu(y));
        const { after } = apply(b.build(), foldBatchnorm);
        assert.deepEqual(summarize(after).ops, { conv2d: 1, relu: 1 }, printGraph(after));
      },
    ),
    { numRuns: 120, seed: 1204 },
  );
});

Deno.test("a layer scale or BN after a sum of convs ends inside the merged conv (pipeline)", () => {
  fc.assert(
    fc.property(
      fc.record({
        c: fc.integer({ min: 1, max: 4 }),
        o: fc.integer({ min: 1, max: 4 }),
        kernels: fc.array(fc.constantFrom(1, 3, 5), { minLength: 2, maxLength: 3 }),
        after: fc.array(fc.constantFrom("scale", "bn", "shift"), { minLength: 1, maxLength: 2 }),
        seed: fc.nat(1000),
      }),
      (cfg) => {
        const b = new GraphBuilder("post"), w = new Weights(b, cfg.seed);
        const x = b.input("x", [1, cfg.c, 6, 5]);
        let sum: Node | undefined;
        for (const k of cfg.kernels) {
          const conv = b.conv2d(x, w.tensor([cfg.o, cfg.c, k, k]), undefined, {
            padding: (k - 1) / 2,
          });
          sum = sum ? b.add(sum, conv) : conv;
        }
        let y = sum!;
        for (const op of cfg.after) {
          y = op === "bn"
            ? w.bn(y)
            : op === "scale"
            ? b.mul(y, w.tensor([cfg.o, 1, 1]))
            : b.add(y, w.tensor([1, cfg.o, 1, 1]));
        }
        b.output("y", b.relu(y));
        const graph = b.build();
        const { graph: after } = runPipeline(graph);
        assertEquivalent(graph, after, TOLERANCE);
        assert.deepEqual(summarize(after).ops, { conv2d: 1, relu: 1 }, printGraph(after));
      },
    ),
    { numRuns: 60, seed: 1205 },
  );
});
