/**
 * Seeded parameters for the example graphs, named with the official PyTorch
 * checkpoint keys. Each value depends only on (seed, name), never on build
 * order, so a block built alone and the same block inside a network agree.
 *
 * Kernels are uniform in +-gain/sqrt(fan_in) and biases in +-1/sqrt(fan_in),
 * PyTorch's init shape. BatchNorm statistics are deliberately not the
 * identity, so that folding is really exercised: gamma in [0.5, 1.5), beta and
 * running_mean in [-0.25, 0.25), running_var in [0.5, 2).
 *
 * The gain is chosen per family so that activations stay O(1) and the output
 * still depends on the input (measured with PyTorch on the full networks, see
 * tests/fixtures/torch/gen_examples.py): the BN statistics are not calibrated,
 * so nothing renormalizes the residual stream.
 * - sqrt(3) (unit variance gain, the default) for ResNets and RepMLP v1: with
 *   PyTorch's gain of 1 each conv shrinks the signal by 3 in variance, and the
 *   logits of ResNet-50 vary by only 0.02% between inputs.
 * - 1 for RepMLPNet, whose pre-norm units compound: at sqrt(3) the logits of
 *   B224 reach 10^3 and L256 10^5.
 */
import { GraphBuilder, hashString, type Node, RefoldError, sizeOf, uniform } from "../ir/mod.ts";

/**
 * Values of a named weight, e.g. read from a PyTorch state_dict by key.
 * Returning undefined is an error unless the builder was asked for
 * `fallback: "seeded"`.
 */
export type WeightSource = (name: string, shape: readonly number[]) => Float32Array | undefined;

/** Options every example builder takes. */
export interface BuildOptions {
  /** Batch size of the input (default 1). */
  batch?: number;
  /** Seed of the generated weights (default 0). */
  seed?: number;
  /**
   * Real values by checkpoint key. Without it every weight is seeded; with it,
   * a key it does not supply is an error (see `fallback`).
   */
  weights?: WeightSource;
  /**
   * Tests only: `"seeded"` fills the keys that `weights` does not supply with
   * seeded values instead of failing. Never used on a checkpoint's path.
   */
  fallback?: "seeded";
  /**
   * Build the official inference-time structure (`deploy=True` in the official
   * code) instead of the training-time one; its keys are the converted
   * checkpoint's. Families without a deploy form refuse it.
   */
  deploy?: boolean;
}

/** Throws a one-line error naming the model when a config is impossible. */
export function requireConfig(ok: boolean, model: string, problem: string): asserts ok {
  if (!ok) throw new RefoldError(`${model}: ${problem}`);
}

/** The batch size of `options`, checked. */
export function batchOf(options: BuildOptions, model: string): number {
  const batch = options.batch ?? 1;
  requireConfig(Number.isSafeInteger(batch) && batch >= 1, model, `batch ${batch} must be >= 1`);
  return batch;
}

/** Options of `Params`: the build options plus the family's kernel gain (default sqrt(3)). */
export interface ParamsOptions extends BuildOptions {
  kernelGain?: number;
}

/** A graph builder plus the seeded (or supplied) parameters of one model. */
export class Params {
  readonly builder: GraphBuilder;
  /** True when building the official deploy-time structure (`BuildOptions.deploy`). */
  readonly deploy: boolean;
  readonly #seed: number;
  readonly #source?: WeightSource;
  readonly #seededFallback: boolean;
  readonly #gain: number;

  constructor(name: string, options: ParamsOptions = {}) {
    this.builder = new GraphBuilder(name);
    this.deploy = options.deploy ?? false;
    this.#seed = options.seed ?? 0;
    this.#source = options.weights;
    this.#seededFallback = options.fallback === "seeded";
    this.#gain = options.kernelGain ?? Math.sqrt(3);
  }

  /**
   * A weight from the source, or uniform in [low, high) seeded by name when
   * there is no source (or the source lacks it and the fallback is allowed).
   */
  tensor(name: string, shape: readonly number[], low: number, high: number): Node<"weight"> {
    const supplied = this.#source?.(name, shape);
    if (this.#source && !supplied && !this.#seededFallback) {
      throw new RefoldError(`weight "${name}" [${shape}]: the weight source does not supply it`);
    }
    if (supplied && supplied.length !== sizeOf(shape)) {
      throw new RefoldError(
        `weight "${name}": supplied ${supplied.length} values, shape [${shape}] needs ${
          sizeOf(shape)
        }`,
      );
    }
    const data = supplied ??
      uniform(sizeOf(shape), hashString(`${this.#seed}/${name}`), low, high);
    return this.builder.weight(name, shape, data);
  }

  /** A conv or FC kernel [out, in/groups, ...]; fan_in is the product of all but the first axis. */
  kernel(name: string, shape: readonly number[]): Node<"weight"> {
    const bound = this.#gain / Math.sqrt(sizeOf(shape.slice(1)));
    return this.tensor(name, shape, -bound, bound);
  }

  /** A conv or FC bias of `size` outputs, in PyTorch's range for `fanIn`. */
  bias(name: string, size: number, fanIn: number): Node<"weight"> {
    const bound = 1 / Math.sqrt(fanIn);
    return this.tensor(name, [size], -bound, bound);
  }

  /** BatchNorm (inference form) over `axis` with parameters `${prefix}.{weight,bias,running_mean,running_var}`. */
  batchnorm(x: Node, prefix: string, axis = 1): Node {
    const channels = x.type.shape[axis];
    return this.builder.batchnorm(x, {
      gamma: this.tensor(`${prefix}.weight`, [channels], 0.5, 1.5),
      beta: this.tensor(`${prefix}.bias`, [channels], -0.25, 0.25),
      mean: this.tensor(`${prefix}.running_mean`, [channels], -0.25, 0.25),
      variance: this.tensor(`${prefix}.running_var`, [channels], 0.5, 2),
    }, { axis, epsilon: 1e-5 });
  }
}
