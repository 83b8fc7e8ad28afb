/**
 * A small builder for writing graphs in TypeScript, with the defaults a
 * PyTorch user expects (stride 1, no padding, groups 1, eps 1e-5).
 */
import {
  type Graph,
  type GraphOutput,
  makeInput,
  makeNode,
  makeWeight,
  type Node,
} from "./node.ts";
import type { OpAttrs } from "./ops/mod.ts";
import { RefoldError } from "./errors.ts";

/** Options of conv2d; `padding` is symmetric, `pads` per side [top, left, bottom, right]. */
export interface ConvOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  pads?: [number, number, number, number];
  dilation?: number | [number, number];
  groups?: number;
}

/** Options of avgpool and maxpool. */
export interface PoolOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  countIncludePad?: boolean;
}

const pair = (value: number | [number, number]): [number, number] =>
  typeof value === "number" ? [value, value] : value;

/** Accumulates inputs and outputs; nodes are created eagerly, so shape errors surface at the call. */
export class GraphBuilder {
  readonly #inputs: Node<"input">[] = [];
  readonly #outputs: GraphOutput[] = [];
  readonly #weightNames = new Set<string>();

  constructor(readonly name = "model") {}

  /** A graph input. */
  input(name: string, shape: readonly number[]): Node<"input"> {
    if (this.#inputs.some((input) => input.attrs.name === name)) {
      throw new RefoldError(`input "${name}" is declared twice`);
    }
    const node = makeInput(name, shape);
    this.#inputs.push(node);
    return node;
  }

  /** A named constant; names are unique within a graph. */
  weight(name: string, shape: readonly number[], data: Float32Array): Node<"weight"> {
    if (this.#weightNames.has(name)) throw new RefoldError(`weight "${name}" is declared twice`);
    this.#weightNames.add(name);
    return makeWeight(name, shape, data);
  }

  conv2d(x: Node, kernel: Node, bias?: Node, options: ConvOptions = {}): Node<"conv2d"> {
    const [ph, pw] = pair(options.padding ?? 0);
    const attrs: OpAttrs["conv2d"] = {
      stride: pair(options.stride ?? 1),
      pads: options.pads ?? [ph, pw, ph, pw],
      dilation: pair(options.dilation ?? 1),
      groups: options.groups ?? 1,
    };
    return makeNode("conv2d", bias ? [x, kernel, bias] : [x, kernel], attrs);
  }

  /** Inputs in PyTorch order: weight (gamma), bias (beta), running_mean, running_var. */
  batchnorm(
    x: Node,
    params: { gamma: Node; beta: Node; mean: Node; variance: Node },
    options: { epsilon?: number; axis?: number } = {},
  ): Node<"batchnorm"> {
    const { gamma, beta, mean, variance } = params;
    return makeNode("batchnorm", [x, gamma, beta, mean, variance], {
      epsilon: options.epsilon ?? 1e-5,
      axis: options.axis ?? 1,
    });
  }

  linear(x: Node, weight: Node, bias?: Node, options: { groups?: number } = {}): Node<"linear"> {
    return makeNode("linear", bias ? [x, weight, bias] : [x, weight], {
      groups: options.groups ?? 1,
    });
  }

  reshape(x: Node, shape: readonly number[]): Node<"reshape"> {
    return makeNode("reshape", [x], { shape: [...shape] });
  }

  transpose(x: Node, perm: readonly number[]): Node<"transpose"> {
    return makeNode("transpose", [x], { perm: [...perm] });
  }

  flatten(x: Node, axis = 1): Node<"flatten"> {
    return makeNode("flatten", [x], { axis });
  }

  concat(inputs: readonly Node[], axis: number): Node<"concat"> {
    return makeNode("concat", inputs, { axis });
  }

  add(a: Node, b: Node): Node<"add"> {
    return makeNode("add", [a, b], {});
  }

  sub(a: Node, b: Node): Node<"sub"> {
    return makeNode("sub", [a, b], {});
  }

  mul(a: Node, b: Node): Node<"mul"> {
    return makeNode("mul", [a, b], {});
  }

  div(a: Node, b: Node): Node<"div"> {
    return makeNode("div", [a, b], {});
  }

  relu(x: Node): Node<"relu"> {
    return makeNode("relu", [x], {});
  }

  sigmoid(x: Node): Node<"sigmoid"> {
    return makeNode("sigmoid", [x], {});
  }

  gelu(x: Node): Node<"gelu"> {
    return makeNode("gelu", [x], {});
  }

  avgpool(x: Node, kernel: number | [number, number], options: PoolOptions = {}): Node<"avgpool"> {
    const [ph, pw] = pair(options.padding ?? 0);
    return makeNode("avgpool", [x], {
      kernel: pair(kernel),
      stride: pair(options.stride ?? kernel),
      pads: [ph, pw, ph, pw],
      countIncludePad: options.countIncludePad ?? true,
    });
  }

  maxpool(x: Node, kernel: number | [number, number], options: PoolOptions = {}): Node<"maxpool"> {
    const [ph, pw] = pair(options.padding ?? 0);
    return makeNode("maxpool", [x], {
      kernel: pair(kernel),
      stride: pair(options.stride ?? kernel),
      pads: [ph, pw, ph, pw],
    });
  }

  globalAvgpool(x: Node): Node<"global_avgpool"> {
    return makeNode("global_avgpool", [x], {});
  }

  /** Marks `node` as the graph output `name`. */
  output(name: string, node: Node): void {
    if (this.#outputs.some((output) => output.name === name)) {
      throw new RefoldError(`output "${name}" is declared twice`);
    }
    this.#outputs.push({ name, node });
  }

  build(): Graph {
    if (this.#outputs.length === 0) throw new RefoldError(`graph "${this.name}" has no outputs`);
    return { name: this.name, inputs: [...this.#inputs], outputs: [...this.#outputs] };
  }
}
