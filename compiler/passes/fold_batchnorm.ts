/**
 * fold-batchnorm: folds each per-channel affine map into a neighbouring layer.
 * The maps are inference BatchNorms (`y = s*x + t` per channel, s =
 * gamma/sqrt(var+eps), t = beta - mean*s) and, read the same way, a multiply,
 * add, subtract or divide by a constant that varies along one axis at most
 * (a layer scale, an exported bias, `c - x`): see affineOp in _affine.ts.
 *
 *   a(layer(x)) -> layer'(x)   W'[o] = s[c(o)] W[o],  b'[o] = s[c(o)] b[o] + t[c(o)]
 *   layer(a(x)) -> layer'(x)   W' = W diag(s[c(k)]), b' = b + W t[c(k)]
 *
 * where layer is a conv2d or linear and c() gives the map's channel of each of
 * its output (input) features. Reshapes may stand in between when every
 * channel covers whole features: v1's BatchNorm1d(O*h*w) after fc3 and
 * RepMLPNet's BatchNorm2d(S) over (-1,S,h,w), where one channel covers h*w
 * outputs of the share-set FC. Before a layer, average pools may stand in
 * between too, since avg(s*x + t) = s*avg(x) + t (v1's avg -> bn -> fc1,
 * RepMLPNet's head_norm -> pool -> head). Folding back into the producer is
 * tried first, through maps folded back before it (x*c + d is one map);
 * folding forward needs every reader of the map to absorb it.
 *
 * Preconditions: constant statistics, scales, shifts and layer weights.
 * Transposes may stand in front too, when they move a channel's axes as one
 * block (RepMLPNet's partition, when every fc3 row holds all C = S channels).
 *
 * Refuses, and --explain says so (for BatchNorms always, for the other maps
 * when a layer was in reach):
 *   - a scale that would cross a nonlinearity (or any op but a view or a pool);
 *   - folding a shift forward into a zero-padded conv, whose border would not
 *     receive it, or through a zero-padded average pool that counts the padding
 *     (a pure scale passes: zero stays zero);
 *   - folding forward when any path from the map ends elsewhere than in such a layer;
 *   - folding back into a layer (or through a view) that something else also reads;
 *   - a channel that does not cover whole features of the layer, e.g. share-set
 *     rows that mix channels under one shared weight.
 * What it leaves of the BatchNorms, lower-batchnorm turns into a per-channel mul and add.
 */
import {
  expectOp,
  type Graph,
  isReinterpret,
  makeNode,
  makeWeight,
  type Node,
  UNARY_OPS,
} from "../../ir/mod.ts";
import type { Pass, PassContext } from "../pass.ts";
import {
  type AffineOp,
  affineOp,
  type ChannelMap,
  featureChannels,
  hasShift,
  layerWeights,
  poolChannelMap,
  scaleInputs,
  scaleOutputs,
  transposeChannelMap,
} from "./_affine.ts";
import { NameTable } from "./_names.ts";
import { substitute, Uses } from "./_rewrite.ts";

type Layer = Node<"conv2d" | "linear">;

/** A fold that passed its guards, or the guard that stopped it. */
type Attempt = { apply: () => void } | { reason: string; reachedLayer?: boolean };

/** What messages call a map: a batchnorm, or a scale. */
const kindOf = (node: Node) => node.op === "batchnorm" ? "batchnorm" : "scale";

const isLayer = (node: Node): node is Layer => node.op === "conv2d" || node.op === "linear";

class Folder {
  readonly plan = new Map<Node, Node>();
  /** Each layer as rewritten so far in this pass (a BN on each side may both fold into it). */
  readonly #layers = new Map<Layer, Layer>();
  /** Maps folded into their producer, to the node they read: a map on top folds through them. */
  readonly #foldedBack = new Map<Node, Node>();
  readonly #uses: Uses;
  readonly #names: NameTable;

  constructor(graph: Graph, readonly context: PassContext) {
    this.#uses = new Uses(graph);
    this.#names = new NameTable(graph);
  }

  run(): void {
    for (const node of this.#uses.order) {
      if (node.op === "batchnorm" && !affineOp(node)) {
        this.context.explain(node, "not folded: its statistics are computed, not constants");
        continue;
      }
      const op = affineOp(node);
      if (!op) continue;
      const back = this.#intoProducer(op);
      if ("apply" in back) {
        back.apply();
        continue;
      }
      const front = this.#intoConsumers(op);
      if ("apply" in front) {
        front.apply();
        continue;
      }
      if (node.op === "batchnorm" || back.reachedLayer) {
        this.context.explain(node, `${back.reason}; ${front.reason}`);
      }
    }
  }

  #d(node: Node): string {
    return this.context.describe(node);
  }

  /** The layer as rewritten so far in this pass. */
  #current(layer: Layer): Layer {
    return this.#layers.get(layer) ?? layer;
  }

  #replaceLayer(layer: Layer, update: { weight: Float32Array; bias: Float32Array }): void {
    const current = this.#current(layer);
    const w = expectOp(current.inputs[1], "weight");
    // A layer folded twice in this pass (a BN on each side) keeps the names of its first fold.
    const again = current !== layer;
    const source = w.attrs.name;
    const weightName = again ? source : this.#names.derive(source, "bnfold", "weight");
    const biasName = again
      ? expectOp(current.inputs[2], "weight").attrs.name
      : this.#names.derive(source, "bnfold", "bias");
    const weight = makeWeight(weightName, w.type.shape, update.weight);
    const bias = makeWeight(biasName, [update.bias.length], update.bias);
    const folded: Layer = layer.op === "conv2d"
      ? makeNode("conv2d", [layer.inputs[0], weight, bias], layer.attrs)
      : makeNode("linear", [layer.inputs[0], weight, bias], layer.attrs);
    this.#layers.set(layer, folded);
    this.plan.set(layer, folded);
  }

  #intoProducer({ node: source, x, map, affine }: AffineOp): Attempt {
    let node = x;
    // Views, and maps already folded back (x*c + d folds as one map), stand between.
    for (
      let folded = this.#foldedBack.get(node);
      isReinterpret(node) || folded;
      folded = this.#foldedBack.get(node)
    ) {
      if (!this.#uses.only(node)) {
        return { reason: `not folded back: ${this.#d(node)} is also read elsewhere` };
      }
      node = folded ?? node.inputs[0];
    }
    if (!isLayer(node)) {
      return {
        reason: UNARY_OPS.has(node.op)
          ? `not folded back: a scale cannot cross the nonlinearity ${this.#d(node)}`
          : `not folded back: its input ${this.#d(node)} is not a conv or linear`,
      };
    }
    const into = `not folded into ${this.#d(node)}`;
    const refuse = (why: string) => ({ reason: `${into}: ${why}`, reachedLayer: true });
    if (!this.#uses.only(node)) return refuse("the layer is also read elsewhere");
    const weights = layerWeights(this.#current(node));
    if (!weights) return refuse("its weights are computed, not constants");
    const span = node.op === "conv2d" ? node.type.shape[2] * node.type.shape[3] : 1;
    const channel = featureChannels(map, { features: weights.outputs, span });
    if (!channel) return refuse(`a ${kindOf(source)} channel does not cover whole output features`);
    const layer = node;
    return {
      apply: () => {
        this.#replaceLayer(layer, scaleOutputs(weights, { channel, affine }));
        this.plan.set(source, x);
        this.#foldedBack.set(source, x);
      },
    };
  }

  #intoConsumers(op: AffineOp): Attempt {
    const { node: source, x, affine } = op;
    if (this.#uses.isOutput(source)) return { reason: "not folded forward: it is a graph output" };
    // Every path from the map, through views, transposes and pools, must end in a layer that absorbs it.
    const targets: { layer: Layer; channel: Int32Array }[] = [];
    const work: { node: Node; previous: Node; map: ChannelMap }[] = this.#uses.users(source).map((
      node,
    ) => ({ node, previous: source, map: op.map }));
    while (work.length > 0) {
      const { node, previous, map } = work.shift()!;
      if (isLayer(node)) {
        const found = this.#absorb(node, previous, map, op);
        if ("reason" in found) return found;
        targets.push(found);
        continue;
      }
      const next = this.#passThrough(node, map, hasShift(affine));
      if ("reason" in next) return next;
      if (this.#uses.isOutput(node)) {
        return { reason: `not folded forward: ${this.#d(node)} is a graph output` };
      }
      for (const user of this.#uses.users(node)) {
        work.push({ node: user, previous: node, map: next.map });
      }
    }
    return {
      apply: () => {
        for (const { layer, channel } of targets) {
          this.#replaceLayer(
            layer,
            scaleInputs(layerWeights(this.#current(layer))!, { channel, affine }),
          );
        }
        this.plan.set(source, x);
      },
    };
  }

  /** The channel map after `node`, when an affine map of its input can pass it. */
  #passThrough(
    node: Node,
    map: ChannelMap,
    shifts: boolean,
  ): { map: ChannelMap } | { reason: string } {
    const fail = (why: string) => ({ reason: `not folded into ${this.#d(node)}: ${why}` });
    if (isReinterpret(node)) return { map };
    if (node.op === "transpose") {
      const { perm } = node.attrs;
      const moved = transposeChannelMap(map, { shape: node.inputs[0].type.shape, perm });
      return moved ? { map: moved } : fail("it splits a channel's elements apart");
    }
    if (node.op === "avgpool" || node.op === "global_avgpool") {
      if (
        shifts && node.op === "avgpool" && node.attrs.countIncludePad &&
        node.attrs.pads.some((p) => p > 0)
      ) {
        return fail("a zero-padded average pool would average zeros instead of the shift");
      }
      const [, , h, w] = node.inputs[0].type.shape;
      const [, , oh, ow] = node.type.shape;
      const pooled = poolChannelMap(map, { inPlane: h * w, outPlane: oh * ow });
      return pooled ? { map: pooled } : fail("a channel changes inside a pooled plane");
    }
    return {
      reason: UNARY_OPS.has(node.op)
        ? `not folded forward: a scale cannot cross the nonlinearity ${this.#d(node)}`
        : `not folded forward: it reaches ${this.#d(node)}, which is not an FC, ` +
          "an unpadded conv, a view or an average pool",
    };
  }

  /** Whether `layer`, reading the map's value through `previous` with channel map `map`, can absorb it. */
  #absorb(
    layer: Layer,
    previous: Node,
    map: ChannelMap,
    op: AffineOp,
  ): { layer: Layer; channel: Int32Array } | { reason: string } {
    const kind = kindOf(op.node);
    const fail = (node: Node, why: string) => ({
      reason: `not folded into ${this.#d(node)}: ${why}`,
    });
    if (layer.inputs[0] !== previous || layer.inputs.slice(1).includes(previous)) {
      return fail(layer, `the ${kind} feeds its weights`);
    }
    if (layer.op === "conv2d" && hasShift(op.affine)) {
      const { pads } = layer.attrs;
      const [, , kh, kw] = layer.inputs[1].type.shape;
      if (pads.some((pad) => pad > 0)) {
        return fail(
          layer,
          `zero-padded ${kh}x${kw} conv would not receive the shift at the border`,
        );
      }
    }
    if (!layerWeights(this.#current(layer))) {
      return fail(layer, "its weights are computed, not constants");
    }
    const shape = layer.inputs[0].type.shape;
    const channel = layer.op === "conv2d"
      ? featureChannels(map, { features: shape[1], span: shape[2] * shape[3] })
      : featureChannels(map, { features: shape[shape.length - 1], span: 1 });
    if (!channel) {
      return fail(
        layer,
        layer.op === "conv2d"
          ? `a ${kind} channel does not cover whole input channels`
          : `the ${kind} channel varies across the FC's rows, which share one weight`,
      );
    }
    return { layer, channel };
  }
}

/** The fold-batchnorm pass. */
export const foldBatchnorm: Pass = {
  name: "fold-batchnorm",
  summary: "fold BatchNorms and per-channel constant scales and shifts into the conv or FC " +
    "before them, or into the FCs and unpadded convs after them",
  run(graph, context) {
    const folder = new Folder(graph, context);
    folder.run();
    return substitute(graph, folder.plan);
  },
};
