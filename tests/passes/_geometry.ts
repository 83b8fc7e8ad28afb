/**
 * Random geometry for the passes' property tests: conv shapes that are odd,
 * non-square and anisotropic (stride, dilation, padding per axis), grouped,
 * with C != O and distinct biases; and the check every property makes: run
 * ONE pass through its public object (looked up by name in PIPELINE, so the
 * tests keep working when a pass's internals change), require that it
 * rewrote what the generator built for it, and compare the float64
 * interpreter's outputs before and after.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { PIPELINE, runPasses } from "../../compiler/mod.ts";
import {
  type Graph,
  GraphBuilder,
  hashString,
  interpret,
  type Node,
  printGraph,
  sizeOf,
  topoOrder,
  uniform,
} from "../../ir/mod.ts";
import { compareArrays } from "../_assert.ts";

/**
 * Relative error a correct rewrite stays under: merged weights are rounded to
 * float32 once, which moves outputs by ~1e-7 of their scale. A dropped BN
 * epsilon (1e-5 against variances near 1) or a misplaced tap moves them by
 * 1e-5 or more.
 */
export const REWRITE_TOLERANCE = 1e-6;

/** fast-check settings: reproducible, enough cases to reach the corners. */
export const RUNS = (numRuns: number, seed: number) => ({ numRuns, seed });

/** Weights with seeded values in [-1, 1), named uniquely per graph. */
export class Weights {
  #count = 0;
  constructor(readonly b: GraphBuilder, readonly seed: number) {}

  /** A weight of `shape`, values in [low, high). */
  make(stem: string, shape: readonly number[], low = -1, high = 1): Node<"weight"> {
    const name = `${stem}.${this.#count++}`;
    const data = uniform(sizeOf(shape), (this.seed ^ hashString(name)) >>> 0, low, high);
    return this.b.weight(name, shape, data);
  }

  /** A weight with the given values. */
  exact(stem: string, shape: readonly number[], data: Float32Array): Node<"weight"> {
    return this.b.weight(`${stem}.${this.#count++}`, shape, data);
  }

  /** BatchNorm statistics over `channels`: variances in [0.2, 1.5), so epsilon matters. */
  batchnorm(x: Node, channels: number, options: { epsilon: number; axis?: number }): Node {
    return this.b.batchnorm(x, {
      gamma: this.make("bn.gamma", [channels], 0.5, 1.5),
      beta: this.make("bn.beta", [channels]),
      mean: this.make("bn.mean", [channels]),
      variance: this.make("bn.var", [channels], 0.2, 1.5),
    }, options);
  }
}

/** Geometry of one conv branch: every axis on its own. */
export interface ConvGeometry {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly dilation: readonly [number, number];
  /** [top, left, bottom, right]. */
  readonly pads: readonly [number, number, number, number];
}

/** Any kernel (even sizes too), stride, dilation and per-side padding, each axis independent. */
export const anyConvGeometry: fc.Arbitrary<ConvGeometry> = fc.record({
  kernel: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
  stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  dilation: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  pads: fc.tuple(
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: 0, max: 2 }),
  ),
});

/** Output size of one axis of a conv, or 0 when the kernel does not fit. */
export function convOutput(size: number, g: ConvGeometry, axis: 0 | 1): number {
  const span = g.dilation[axis] * (g.kernel[axis] - 1) + 1;
  const padded = size + g.pads[axis] + g.pads[axis + 2];
  return padded < span ? 0 : Math.floor((padded - span) / g.stride[axis]) + 1;
}

/** The ops of a graph, counted. */
export function opCount(graph: Graph, op: string): number {
  return topoOrder(graph).filter((node) => node.op === op).length;
}

/** Seeded inputs in [-1, 1). */
function feeds(graph: Graph, seed: number): Record<string, Float32Array> {
  return Object.fromEntries(graph.inputs.map((input) => [
    input.attrs.name,
    uniform(sizeOf(input.type.shape), (seed ^ hashString(input.attrs.name)) >>> 0),
  ]));
}

/**
 * Outputs are relative to their largest magnitude, but never to less than
 * this: inputs and weights are O(1), so an output this small is the
 * cancellation of O(1) terms (one element, x*s + t = 0), whose float32
 * rounding is 1e-7 of the terms, not of the tiny result.
 */
const SCALE_FLOOR = 0.1;

/** The largest relative change of any output of `after` against `before` (float64 interpreter). */
export function rewriteError(before: Graph, after: Graph, seed = 1): number {
  const x = feeds(before, seed);
  const expected = interpret(before, x), actual = interpret(after, x);
  return Math.max(...before.outputs.map(({ name }) => {
    const { maxAbs } = compareArrays(actual[name], expected[name]);
    const scale = expected[name].reduce((most, value) => Math.max(most, Math.abs(value)), 0);
    return maxAbs / Math.max(scale, SCALE_FLOOR);
  }));
}

/**
 * Runs the pipeline pass `name` alone on `graph`; fails unless the outputs
 * stay within REWRITE_TOLERANCE and `fired(after)` holds (the pass rewrote
 * what it was given). Returns the rewritten graph.
 */
export function checkPass(
  name: string,
  graph: Graph,
  options: {
    fired: (after: Graph) => boolean;
    label: string;
    /** A refusal --explain may give instead of rewriting (a cost rule, say), or none. */
    mayRefuse?: RegExp;
  },
): Graph {
  const pass = PIPELINE.find((each) => each.name === name);
  assert.ok(pass, `no pass named ${name}`);
  const reasons: string[] = [];
  const { graph: after } = runPasses(graph, [pass], {
    explain: true,
    onExplain: (_, message) => reasons.push(message),
  });
  const dump = () =>
    `${options.label}\n--- before\n${printGraph(graph)}--- after\n${printGraph(after)}` +
    `--- explain\n${reasons.join("\n")}`;
  const error = rewriteError(graph, after);
  assert.ok(error <= REWRITE_TOLERANCE, `${name}: relative error ${error} ${dump()}`);
  const refused = options.mayRefuse !== undefined &&
    reasons.some((reason) => options.mayRefuse!.test(reason));
  assert.ok(refused || options.fired(after), `${name} did not rewrite: ${dump()}`);
  return after;
}

/** A builder plus weights, for one generated graph. */
export function start(name: string, seed: number): { b: GraphBuilder; w: Weights } {
  const b = new GraphBuilder(name);
  return { b, w: new Weights(b, seed) };
}
