/**
 * --verify: the float64 interpreter runs the input graph and every pass's
 * graph on seeded inputs; each pass must keep the outputs within a tolerance
 * of the previous pass's and of the input graph's, so that errors below the
 * tolerance cannot build up unseen.
 *
 * What "within float32 accuracy" means depends on the model: a pass rounds
 * the weights it computes to float32, and a deep network with strong
 * BatchNorm scales amplifies that rounding (MobileOne-S0 at reduced width
 * moves by 5e-6 when its weights move by one ulp). So the default tolerance
 * is the larger of DEFAULT_VERIFY_TOLERANCE and NOISE_FACTOR times the
 * model's float32 noise floor: how far its outputs move when every weight
 * moves by one ulp. A dropped BatchNorm epsilon (eps / var ~ 1e-5, some
 * 80 ulp) stays far above that on any model.
 */
import {
  type Graph,
  hashString,
  interpret,
  makeWeight,
  type Node,
  rebuild,
  RefoldError,
  sizeOf,
  uniform,
  verifyGraph,
} from "../ir/mod.ts";
import type { Pass } from "./pass.ts";
import type { PassReport } from "./pipeline.ts";

/**
 * --verify's smallest default relative tolerance. A correct pass moves
 * outputs by about 1e-7 on most models (its weights are rounded to float32
 * once); a dropped BatchNorm epsilon moves them by 1e-6 to 1e-5, which 1e-5
 * let through on most example models.
 */
export const DEFAULT_VERIFY_TOLERANCE = 1e-6;

/**
 * The default tolerance over the float32 noise floor. A pass rounds each
 * weight it computes once or a few times (half an ulp at most each); the
 * floor moves every weight by a whole ulp, so 4x leaves room for several
 * rounding passes and stays ~20x below a dropped epsilon.
 */
export const NOISE_FACTOR = 4;

/** Seeded inputs in [-1, 1), one stream per input name. */
function seededFeeds(graph: Graph, seed: number): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  for (const input of graph.inputs) {
    feeds[input.attrs.name] = uniform(
      sizeOf(input.type.shape),
      (seed ^ hashString(input.attrs.name)) >>> 0,
    );
  }
  return feeds;
}

/** The largest change between two sets of outputs, absolute and relative to `before`'s magnitude. */
function compareOutputs(
  before: Record<string, Float64Array>,
  after: Record<string, Float64Array>,
): { abs: number; rel: number; output: string } {
  let worst = { abs: 0, rel: 0, output: "" };
  for (const [name, expected] of Object.entries(before)) {
    const actual = after[name];
    let abs = 0, scale = 0;
    for (let i = 0; i < expected.length; i++) {
      const diff = Math.abs(actual[i] - expected[i]);
      abs = diff > abs || Number.isNaN(diff) ? (Number.isNaN(diff) ? Infinity : diff) : abs;
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    const rel = scale === 0 ? abs : abs / scale;
    if (rel >= worst.rel) worst = { abs, rel, output: name };
  }
  return worst;
}

/** `graph` with every weight value moved one ulp up or down (seeded), zeros kept. */
function nudgeWeights(graph: Graph, seed: number): Graph {
  let stream = seed;
  return rebuild(graph, (node: Node) => {
    if (node.op !== "weight") return undefined;
    const data = Float32Array.from(node.data!);
    const bits = new Int32Array(data.buffer);
    const signs = uniform(data.length, stream = (stream * 31 + 7) >>> 0);
    for (let i = 0; i < data.length; i++) {
      // Adding 1 to the bits of a finite nonzero float moves it one ulp away from zero.
      if (data[i] !== 0 && Number.isFinite(data[i])) bits[i] += signs[i] < 0 ? -1 : 1;
    }
    const { name, shape } = node.attrs as { name: string; shape: readonly number[] };
    return makeWeight(name, shape, data);
  });
}

/** Checks each pass's graph numerically (see the file header). */
export class Verifier {
  readonly #feeds: Record<string, Float32Array>;
  readonly #original: Record<string, Float64Array>;
  #previous: Record<string, Float64Array>;
  readonly #tolerance: number;
  readonly #floor?: number;

  constructor(graph: Graph, options: { tolerance?: number; seed?: number }) {
    const seed = options.seed ?? 0;
    this.#feeds = seededFeeds(graph, seed);
    this.#original = this.#previous = interpret(graph, this.#feeds);
    if (options.tolerance === undefined) {
      this.#floor = compareOutputs(
        this.#original,
        interpret(nudgeWeights(graph, seed), this.#feeds),
      ).rel;
    }
    this.#tolerance = options.tolerance ??
      Math.max(DEFAULT_VERIFY_TOLERANCE, NOISE_FACTOR * this.#floor!);
  }

  /** The tolerance in force, and the noise floor it came from when the caller gave none. */
  get tolerance(): { tolerance: number; floor?: number } {
    return { tolerance: this.#tolerance, floor: this.#floor };
  }

  /** Checks the graph `pass` made, recording its errors in `report`. */
  check(pass: Pass, next: Graph, report: PassReport): void {
    verifyGraph(next, `after pass ${pass.name}`);
    const outputs = report.changed ? interpret(next, this.#feeds) : this.#previous;
    const step = compareOutputs(this.#previous, outputs);
    const total = compareOutputs(this.#original, outputs);
    report.maxAbsError = step.abs;
    report.maxRelError = step.rel;
    report.totalRelError = total.rel;
    const why = this.#floor === undefined ? "" : ` (${NOISE_FACTOR}x the model's float32 noise ` +
      `floor ${this.#floor.toExponential(2)}, or ${
        DEFAULT_VERIFY_TOLERANCE.toExponential(0)
      } at least)`;
    const fail = (what: string, { abs, rel, output }: typeof step) => {
      throw new RefoldError(
        `--verify: pass ${pass.name} ${what} output "${output}" by ${abs.toExponential(2)} ` +
          `(relative ${rel.toExponential(2)}), above the tolerance ` +
          `${this.#tolerance.toExponential(2)}${why}`,
      );
    };
    if (!(step.rel <= this.#tolerance)) fail("changed", step);
    if (!(total.rel <= this.#tolerance)) fail("left the passes before it having moved", total);
    this.#previous = outputs;
  }
}
