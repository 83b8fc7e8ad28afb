/**
 * @tensorflow/tfjs-backend-wasm (single thread, SIMD) as a benchmark peer:
 * a deployed IR graph executed with tfjs ops in their fastest form.
 * - Weights are prepared once: FC weights transposed and split per group
 *   (a grouped FC is one fused matMul per group), conv filters as HWIO, and a
 *   conv with one group per channel as one depthwise conv (HWCM filter).
 * - Convs, pools and the elementwise ops around them run in NHWC (the only
 *   layout tfjs convs take); a tensor is turned back to NCHW only where a
 *   reshape, transpose, FC or output needs the IR's layout.
 * - A ReLU or sigmoid right after a conv or FC is fused into it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { type Graph, isOp, type Node, topoOrder, usersOf } from "../../ir/mod.ts";
import type { Runner } from "./timing.ts";

let ready: Promise<void> | undefined;

/** Starts the single-threaded SIMD wasm backend once. */
export function initTfjs(): Promise<void> {
  ready ??= (async () => {
    setWasmPaths(
      new URL("../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url).href,
    );
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    await tf.setBackend("wasm");
    await tf.ready();
  })();
  return ready;
}

interface Value {
  readonly t: tf.Tensor;
  /** Rank-4 tensors held as NHWC. */
  readonly nhwc: boolean;
}

const toNhwc = (
  v: Value,
): tf.Tensor => (v.nhwc || v.t.rank !== 4 ? v.t : tf.transpose(v.t, [0, 2, 3, 1]));
const toNchw = (v: Value): tf.Tensor => (v.nhwc ? tf.transpose(v.t, [0, 3, 1, 2]) : v.t);

/** An NCHW-broadcastable operand as NHWC (lower ranks get leading 1s first). */
function operandNhwc(v: Value): tf.Tensor {
  if (v.nhwc) return v.t;
  const shape = [...Array(4 - v.t.rank).fill(1), ...v.t.shape];
  return tf.transpose(tf.reshape(v.t, shape), [0, 2, 3, 1]);
}

type Activation = "relu" | "sigmoid" | "linear";

/**
 * A transpose at its lowest rank: size-1 axes dropped and axes that stay
 * neighbours merged (tfjs's wasm Transpose is fast only up to rank 4 or 5).
 */
function transposeReduced(t: tf.Tensor, perm: readonly number[]): tf.Tensor {
  const shape = t.shape;
  const kept = perm.filter((axis) => shape[axis] !== 1);
  const runs: number[][] = [];
  for (const axis of kept) {
    const last = runs[runs.length - 1];
    const previous = last?.[last.length - 1];
    // Merge with the previous output axis when it was the previous non-unit input axis.
    const before = [...Array(axis).keys()].filter((a) => shape[a] !== 1).pop();
    if (last && previous === before) last.push(axis);
    else runs.push([axis]);
  }
  const order = [...runs].sort((a, b) => a[0] - b[0]);
  const size = (run: number[]) => run.reduce((p, axis) => p * shape[axis], 1);
  const reduced = tf.reshape(t, order.map(size));
  const moved = tf.transpose(reduced, runs.map((run) => order.indexOf(run)));
  return tf.reshape(moved, perm.map((axis) => shape[axis]));
}

/** A conv with one group per input channel: tfjs runs it as one depthwise conv. */
function isDepthwise(node: Node<"conv2d">): boolean {
  return node.attrs.groups > 1 && node.attrs.groups === node.inputs[0].type.shape[1];
}

/** A tfjs execution of `graph` with `feeds` bound; run() returns the first output. */
export async function tfjsRunner(
  graph: Graph,
  feeds: Readonly<Record<string, Float32Array>>,
): Promise<Runner & { output(): Promise<Float32Array> }> {
  await initTfjs();
  const order = topoOrder(graph);
  const users = usersOf(graph);
  const outputs = new Set(graph.outputs.map(({ node }) => node));
  // Weights and biases are tensors made once: tfjs-wasm caches its XNNPACK operators by them.
  const prepared = new Map<Node, { weights: tf.Tensor[]; biases?: tf.Tensor[] }>();
  const splitBias = (bias: Node | undefined, groups: number) => {
    if (!bias || bias.op !== "weight") return undefined;
    const size = bias.type.shape[0] / groups;
    return Array.from(
      { length: groups },
      (_, i) => tf.keep(tf.tensor1d(bias.data!.slice(i * size, (i + 1) * size))),
    );
  };
  const fused = new Map<Node, Activation>();
  for (const node of order) {
    const next = users.get(node) ?? [];
    if ((isOp(node, "linear") || isOp(node, "conv2d")) && next.length === 1 && !outputs.has(node)) {
      if (next[0].op === "relu" || next[0].op === "sigmoid") fused.set(node, next[0].op);
    }
    if (isOp(node, "linear") && node.inputs[1].op === "weight") {
      const [n, kg] = node.inputs[1].type.shape, g = node.attrs.groups, ng = n / g;
      const w = tf.tensor2d(node.inputs[1].data!, [n, kg]);
      prepared.set(node, {
        weights: Array.from(
          { length: g },
          (_, i) => tf.keep(tf.transpose(tf.slice(w, [i * ng, 0], [ng, kg]))),
        ),
        biases: splitBias(node.inputs[2], g),
      });
      w.dispose();
    }
    if (isOp(node, "conv2d") && node.inputs[1].op === "weight" && isDepthwise(node)) {
      // XNNPACK's depthwise kernel: filter [kh, kw, C, multiplier].
      const [o, , kh, kw] = node.inputs[1].type.shape, c = node.attrs.groups;
      const w = tf.tensor4d(node.inputs[1].data!, [c, o / c, kh, kw]);
      prepared.set(node, {
        weights: [tf.keep(tf.transpose(w, [2, 3, 0, 1]))],
        biases: splitBias(node.inputs[2], 1),
      });
      w.dispose();
    } else if (isOp(node, "conv2d") && node.inputs[1].op === "weight") {
      const [o, cg, kh, kw] = node.inputs[1].type.shape, g = node.attrs.groups, og = o / g;
      const w = tf.tensor4d(node.inputs[1].data!, [o, cg, kh, kw]);
      const hwio = (t: tf.Tensor) => tf.keep(tf.transpose(t, [2, 3, 1, 0]));
      prepared.set(node, {
        weights: Array.from(
          { length: g },
          (_, i) => hwio(tf.slice(w, [i * og, 0, 0, 0], [og, cg, kh, kw])),
        ),
        biases: splitBias(node.inputs[2], g),
      });
      w.dispose();
    }
  }
  const constants = new Map<Node, tf.Tensor>();
  const constant = (node: Node) => {
    let t = constants.get(node);
    if (!t) constants.set(node, t = tf.keep(tf.tensor(node.data!, [...node.type.shape])));
    return t;
  };
  const inputs = graph.inputs.map((input) =>
    tf.tensor(feeds[input.attrs.name], [...input.type.shape])
  );

  const forward = (): tf.Tensor => {
    const values = new Map<Node, Value>();
    graph.inputs.forEach((input, i) => values.set(input, { t: inputs[i], nhwc: false }));
    for (const node of order) {
      if (values.has(node)) continue;
      if (node.op === "weight") {
        values.set(node, { t: constant(node), nhwc: false });
        continue;
      }
      const [a, b] = node.inputs.map((input) => values.get(input)!);
      values.set(node, evaluate(node, a, b, node.inputs.map((input) => values.get(input)!)));
    }
    return toNchw(values.get(graph.outputs[0].node)!);
  };

  function evaluate(node: Node, a: Value, b: Value, all: Value[]): Value {
    const plain = (t: tf.Tensor): Value => ({ t, nhwc: false });
    switch (node.op) {
      case "reshape":
      case "flatten":
        return plain(tf.reshape(toNchw(a), [...node.type.shape]));
      case "transpose":
        return plain(transposeReduced(toNchw(a), node.attrs.perm));
      case "concat":
        return plain(tf.concat(all.map(toNchw), node.attrs.axis));
      case "linear": {
        const x = toNchw(a), k = x.shape[x.rank - 1]!, { weights, biases } = prepared.get(node)!;
        const x2 = tf.reshape(x, [-1, k]), kg = k / weights.length;
        const parts = weights.map((w, i) =>
          tf.fused.matMul({
            a: weights.length > 1 ? tf.slice(x2, [0, i * kg], [-1, kg]) : x2,
            b: w,
            bias: biases?.[i],
            activation: fused.get(node) ?? "linear",
          })
        );
        return plain(
          tf.reshape(parts.length > 1 ? tf.concat(parts, 1) : parts[0], [...node.type.shape]),
        );
      }
      case "conv2d": {
        const { stride, pads, dilation } = node.attrs;
        const { weights, biases } = prepared.get(node)!;
        if (isDepthwise(node)) {
          // Its typings take one padding for every side; uneven padding is added first.
          const even = pads.every((p) => p === pads[0]);
          const x = even
            ? toNhwc(a)
            : tf.pad(toNhwc(a), [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]]);
          const t = tf.fused.depthwiseConv2d({
            x: x as tf.Tensor4D,
            filter: weights[0] as tf.Tensor4D,
            strides: [stride[0], stride[1]],
            pad: even ? pads[0] : "valid",
            dilations: [dilation[0], dilation[1]],
            bias: biases?.[0],
            activation: fused.get(node) ?? "linear",
          });
          return { t, nhwc: true };
        }
        const filters = weights as tf.Tensor4D[], x = toNhwc(a) as tf.Tensor4D;
        const cg = filters[0].shape[2];
        const parts = filters.map((filter, i) =>
          tf.fused.conv2d({
            x: filters.length > 1 ? tf.slice(x, [0, 0, 0, i * cg], [-1, -1, -1, cg]) : x,
            filter,
            strides: [stride[0], stride[1]],
            pad: [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]],
            dilations: [dilation[0], dilation[1]],
            bias: biases?.[i],
            activation: fused.get(node) ?? "linear",
          })
        );
        return { t: parts.length > 1 ? tf.concat(parts, 3) : parts[0], nhwc: true };
      }
      case "avgpool":
      case "maxpool": {
        const { kernel, stride, pads } = node.attrs;
        const pad = pads.every((p) => p === pads[0]) ? pads[0] : "valid";
        const pool = node.op === "avgpool" ? tf.avgPool : tf.maxPool;
        return {
          t: pool(toNhwc(a) as tf.Tensor4D, [kernel[0], kernel[1]], [stride[0], stride[1]], pad),
          nhwc: true,
        };
      }
      case "global_avgpool":
        return { t: tf.mean(toNhwc(a), [1, 2], true), nhwc: true };
      case "relu":
      case "sigmoid": {
        const source = node.inputs[0];
        if (fused.has(source)) return a;
        return { t: node.op === "relu" ? tf.relu(a.t) : tf.sigmoid(a.t), nhwc: a.nhwc };
      }
      case "gelu": {
        const t = tf.mul(tf.mul(a.t, 0.5), tf.add(tf.erf(tf.mul(a.t, Math.SQRT1_2)), 1));
        return { t, nhwc: a.nhwc };
      }
      case "erf":
        return { t: tf.erf(a.t), nhwc: a.nhwc };
      case "add":
      case "sub":
      case "mul":
      case "div": {
        const op = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div }[node.op];
        if (node.type.shape.length === 4 && (a.nhwc || b.nhwc)) {
          return { t: op(operandNhwc(a), operandNhwc(b)), nhwc: true };
        }
        return plain(op(toNchw(a), toNchw(b)));
      }
      default:
        throw new Error(`tfjs peer: no rule for ${node.op}`);
    }
  }

  const run = async () => {
    const out = tf.tidy(forward);
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  };
  return {
    name: "tfjs-wasm",
    run,
    output: run,
    dispose() {
      for (const t of [...constants.values(), ...inputs]) t.dispose();
      for (const p of prepared.values()) {
        for (const t of [...p.weights, ...(p.biases ?? [])]) t.dispose();
      }
    },
  };
}
