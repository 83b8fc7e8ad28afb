// Property tests of the conv passes over random geometry (their headers promise exactness for
// any groups, C != O, strides, dilations, paddings and non-square shapes): merge-parallel-convs,
// conv-into-fc and fold-batchnorm, each run alone, must rewrite what was built for it and keep
// the float64 interpreter's outputs within REWRITE_TOLERANCE. Shrinking reports the smallest
// failing geometry.
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Node } from "../../ir/mod.ts";
import { anyConvGeometry, checkPass, convOutput, opCount, RUNS, start } from "./_geometry.ts";

const odd = fc.constantFrom(1, 3, 5);
const small = (max: number) => fc.integer({ min: 1, max });

/** Branches summed on one input: odd kernels, centred padding, anisotropic dilation each. */
const parallelConvs = fc.record({
  n: small(2),
  groups: small(3),
  cPerGroup: small(3),
  oPerGroup: small(3),
  h: small(7),
  w: small(7),
  stride: fc.tuple(small(2), small(2)),
  branches: fc.array(
    fc.record({
      kernel: fc.tuple(odd, odd),
      dilation: fc.tuple(small(3), small(3)),
      bias: fc.boolean(),
    }),
    { minLength: 2, maxLength: 3 },
  ),
  sameDilation: fc.boolean(),
  identity: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

Deno.test("property: merge-parallel-convs is exact for any kernels, dilations, strides and groups", () => {
  let costlierRefusals = 0;
  fc.assert(
    fc.property(parallelConvs, (g) => {
      // An identity branch needs C == O and stride 1.
      const identity = g.identity;
      const oPerGroup = identity ? g.cPerGroup : g.oPerGroup;
      const stride: [number, number] = identity ? [1, 1] : [...g.stride];
      const c = g.groups * g.cPerGroup, o = g.groups * oPerGroup;
      const { b, w } = start("merge", g.seed);
      const x = b.input("x", [g.n, c, g.h, g.w]);
      const terms: Node[] = g.branches.map((branch) => {
        const [kh, kw] = branch.kernel;
        const [dh, dw] = g.sameDilation ? g.branches[0].dilation : branch.dilation;
        const [ph, pw] = [(dh * (kh - 1)) / 2, (dw * (kw - 1)) / 2];
        return b.conv2d(
          x,
          w.make("conv.weight", [o, g.cPerGroup, kh, kw]),
          branch.bias ? w.make("conv.bias", [o]) : undefined,
          { stride, dilation: [dh, dw], pads: [ph, pw, ph, pw], groups: g.groups },
        );
      });
      if (identity) terms.push(x);
      b.output("y", terms.reduce((sum, term) => b.add(sum, term)));
      const after = checkPass("merge-parallel-convs", b.build(), {
        fired: (after) => opCount(after, "conv2d") === 1,
        label: JSON.stringify(g),
        // One window must hold every branch's taps (1x5 + 5x1 needs 5x5, mixed dilations a
        // dense one): where that costs more than the branches, the pass says so and keeps them.
        mayRefuse: /would cost \d+ .*the branches cost \d+/,
      });
      costlierRefusals += opCount(after, "conv2d") === 1 ? 0 : 1;
    }),
    RUNS(300, 9001),
  );
  // The cost rule must not swallow the property: most geometries still merge.
  assert.ok(costlierRefusals < 100, `${costlierRefusals} of 300 refused as costlier`);
});

/** An FC over partitions summed with a conv over the same partitions (RepMLP's fc3 + repconv). */
const convIntoFc = fc.record({
  rows: small(3),
  fcGroups: fc.constantFrom(1, 2, 3),
  convGroups: fc.constantFrom(1, 2),
  c1: small(2),
  o1: small(2),
  h: small(5),
  w: small(5),
  geometry: anyConvGeometry,
  fcBias: fc.boolean(),
  convBias: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
}).filter((g) => convOutput(g.h, g.geometry, 0) > 0 && convOutput(g.w, g.geometry, 1) > 0);

Deno.test("property: conv-into-fc is exact for any stride, padding, dilation, groups and C != O", () => {
  fc.assert(
    fc.property(convIntoFc, (g) => {
      const c = g.fcGroups * g.convGroups * g.c1, o = g.fcGroups * g.convGroups * g.o1;
      const oh = convOutput(g.h, g.geometry, 0), ow = convOutput(g.w, g.geometry, 1);
      const { b, w } = start("inject", g.seed);
      const x = b.input("x", [g.rows, c, g.h, g.w]);
      const features = b.reshape(x, [g.rows, c * g.h * g.w]);
      const fcOut = b.linear(
        features,
        w.make("fc3.weight", [o * oh * ow, (c * g.h * g.w) / g.fcGroups]),
        g.fcBias ? w.make("fc3.bias", [o * oh * ow]) : undefined,
        { groups: g.fcGroups },
      );
      const [kh, kw] = g.geometry.kernel;
      const conv = b.conv2d(
        x,
        w.make("repconv.weight", [o, c / g.convGroups, kh, kw]),
        g.convBias ? w.make("repconv.bias", [o]) : undefined,
        {
          stride: [...g.geometry.stride],
          dilation: [...g.geometry.dilation],
          pads: [...g.geometry.pads],
          groups: g.convGroups,
        },
      );
      b.output("y", b.add(b.reshape(fcOut, [g.rows, o, oh, ow]), conv));
      checkPass("conv-into-fc", b.build(), {
        fired: (after) => opCount(after, "conv2d") === 0,
        label: JSON.stringify(g),
      });
    }),
    RUNS(300, 9002),
  );
});

const epsilon = fc.double({ min: 1e-6, max: 1e-2, noNaN: true });

/** A conv of any geometry, with a BatchNorm after it. */
const convThenBn = fc.record({
  n: small(2),
  groups: small(3),
  cPerGroup: small(2),
  oPerGroup: small(3),
  h: small(6),
  w: small(6),
  geometry: anyConvGeometry,
  bias: fc.boolean(),
  epsilon,
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
}).filter((g) => convOutput(g.h, g.geometry, 0) > 0 && convOutput(g.w, g.geometry, 1) > 0);

Deno.test("property: fold-batchnorm folds a BatchNorm into the conv before it, any geometry", () => {
  fc.assert(
    fc.property(convThenBn, (g) => {
      const c = g.groups * g.cPerGroup, o = g.groups * g.oPerGroup;
      const { b, w } = start("bn-after", g.seed);
      const x = b.input("x", [g.n, c, g.h, g.w]);
      const [kh, kw] = g.geometry.kernel;
      const conv = b.conv2d(
        x,
        w.make("conv.weight", [o, g.cPerGroup, kh, kw]),
        g.bias ? w.make("conv.bias", [o]) : undefined,
        {
          stride: [...g.geometry.stride],
          dilation: [...g.geometry.dilation],
          pads: [...g.geometry.pads],
          groups: g.groups,
        },
      );
      b.output("y", w.batchnorm(conv, o, { epsilon: g.epsilon }));
      checkPass("fold-batchnorm", b.build(), {
        fired: (after) => opCount(after, "batchnorm") === 0,
        label: JSON.stringify(g),
      });
    }),
    RUNS(200, 9003),
  );
});

Deno.test("property: fold-batchnorm folds a BatchNorm into an unpadded conv after it", () => {
  // Unpadded: a zero-padded border would not receive the BatchNorm's shift.
  const unpadded = convThenBn.map((g) => ({
    ...g,
    geometry: { ...g.geometry, pads: [0, 0, 0, 0] as const },
  }));
  fc.assert(
    fc.property(
      unpadded,
      (g) => {
        const c = g.groups * g.cPerGroup, o = g.groups * g.oPerGroup;
        if (convOutput(g.h, g.geometry, 0) < 1 || convOutput(g.w, g.geometry, 1) < 1) return;
        const { b, w } = start("bn-before", g.seed);
        const x = b.input("x", [g.n, c, g.h, g.w]);
        const [kh, kw] = g.geometry.kernel;
        const conv = b.conv2d(
          w.batchnorm(x, c, { epsilon: g.epsilon }),
          w.make("conv.weight", [o, g.cPerGroup, kh, kw]),
          g.bias ? w.make("conv.bias", [o]) : undefined,
          { stride: [...g.geometry.stride], dilation: [...g.geometry.dilation], groups: g.groups },
        );
        b.output("y", conv);
        checkPass("fold-batchnorm", b.build(), {
          fired: (after) => opCount(after, "batchnorm") === 0,
          label: JSON.stringify(g),
        });
      },
    ),
    RUNS(200, 9004),
  );
});

/** A grouped FC with a BatchNorm1d on one side: before it (over its inputs) or after it. */
const fcWithBn = fc.record({
  rows: small(3),
  groups: fc.constantFrom(1, 2, 3),
  kPerGroup: small(4),
  nPerGroup: small(4),
  before: fc.boolean(),
  bias: fc.boolean(),
  epsilon,
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

Deno.test("property: fold-batchnorm folds a BatchNorm1d into a grouped FC on either side", () => {
  fc.assert(
    fc.property(fcWithBn, (g) => {
      const k = g.groups * g.kPerGroup, n = g.groups * g.nPerGroup;
      const { b, w } = start("bn-fc", g.seed);
      let x: Node = b.input("x", [g.rows, k]);
      if (g.before) x = w.batchnorm(x, k, { epsilon: g.epsilon });
      let y: Node = b.linear(
        x,
        w.make("fc.weight", [n, g.kPerGroup]),
        g.bias ? w.make("fc.bias", [n]) : undefined,
        { groups: g.groups },
      );
      if (!g.before) y = w.batchnorm(y, n, { epsilon: g.epsilon });
      b.output("y", y);
      checkPass("fold-batchnorm", b.build(), {
        fired: (after) => opCount(after, "batchnorm") === 0,
        label: JSON.stringify(g),
      });
    }),
    RUNS(200, 9005),
  );
});
