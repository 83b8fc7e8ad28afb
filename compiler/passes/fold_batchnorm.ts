/**
 * fold-batchnorm: folds each inference BatchNorm (`y = s*x + t` per channel,
 * s = gamma/sqrt(var+eps), t = beta - mean*s) into a neighbouring layer.
 *
 *   bn(layer(x)) -> layer'(x)   W'[o] = s[c(o)] W[o],  b'[o] = s[c(o)] b[o] + t[c(o)]
 *   layer(bn(x)) -> layer'(x)   W' = W diag(s[c(k)]), b' = b + W t[c(k)]
 *
 * where layer is a conv2d or linear and c() gives the BN channel of each of
 * its output (input) features. Reshapes may stand in between when every BN
 * channel covers whole features: v1's BatchNorm1d(O*h*w) after fc3 and
 * RepMLPNet's BatchNorm2d(S) over (-1,S,h,w), where one channel covers h*w
 * outputs of the share-set FC. Before a layer, average pools may stand in
 * between too, since avg(s*x + t) = s*avg(x) + t (v1's avg -> bn -> fc1,
 * RepMLPNet's head_norm -> pool -> head). Folding back into the producer is
 * tried first; folding forward needs every reader of the BN to absorb it.
 *
 * Preconditions: BN statistics and layer weights are constants.
 * Transposes may stand in front too, when they move a channel's axes as one
 * block (RepMLPNet's partition, when every fc3 row holds all C = S channels).
 *
 * Refuses, and --explain says so:
 *   - a scale that would cross a nonlinearity (or any op but a view or a pool);
 *   - folding forward into a zero-padded conv, whose border would not receive t,
 *     or through a zero-padded average pool that counts the padding;
 *   - folding forward when any path from the BN ends elsewhere than in such a layer;
 *   - folding back into a layer (or through a view) that something else also reads;
 *   - a BN channel that does not cover whole features of the layer, e.g. share-set
 *     rows that mix channels under one shared weight.
 * What it leaves, lower-batchnorm turns into a per-channel mul and add.
 */
import {
  type Graph,
  isReinterpret,
  makeNode,
  makeWeight,
  type Node,
  type OpAttrs,
  UNARY_OPS,
} from "../../ir/mod.ts";
import type { Pass, PassContext } from "../pass.ts";
import {
  type Affine,
  batchnormAffine,
  type ChannelMap,
  channelMapOf,
  featureChannels,
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
type Attempt = { apply: () => void } | { reason: string };

const isLayer = (node: Node): node is Layer => node.op === "conv2d" || node.op === "linear";

class Folder {
  readonly plan = new Map<Node, Node>();
  readonly #uses: Uses;
  readonly #names: NameTable;

  constructor(graph: Graph, readonly context: PassContext) {
    this.#uses = new Uses(graph);
    this.#names = new NameTable(graph);
  }

  run(): void {
    for (const bn of this.#uses.order) {
      if (bn.op !== "batchnorm") continue;
      const affine = batchnormAffine(bn);
      if (!affine) {
        this.context.explain(bn, "not folded: its statistics are computed, not constants");
        continue;
      }
      const back = this.#intoProducer(bn, affine);
      if ("apply" in back) {
        back.apply();
        continue;
      }
      const front = this.#intoConsumers(bn, affine);
      if ("apply" in front) {
        front.apply();
        continue;
      }
      this.context.explain(bn, `${back.reason}; ${front.reason}`);
    }
  }

  #d(node: Node): string {
    return this.context.describe(node);
  }

  /** The layer as rewritten so far in this pass (a BN on each side may both fold into it). */
  #current(layer: Layer): Layer {
    return (this.plan.get(layer) ?? layer) as Layer;
  }

  #replaceLayer(layer: Layer, update: { weight: Float32Array; bias: Float32Array }): void {
    const current = this.#current(layer);
    const [w, b] = current.inputs.slice(1) as Node<"weight">[];
    // A layer folded twice in this pass (a BN on each side) keeps the names of its first fold.
    const again = current !== layer;
    const source = w.attrs.name;
    const weightName = again ? source : this.#names.derive(source, "bnfold", "weight");
    const biasName = again ? b.attrs.name : this.#names.derive(source, "bnfold", "bias");
    const weight = makeWeight(weightName, w.type.shape, update.weight);
    const bias = makeWeight(biasName, [update.bias.length], update.bias);
    this.plan.set(layer, makeNode(layer.op, [layer.inputs[0], weight, bias], layer.attrs));
  }

  #intoProducer(bn: Node<"batchnorm">, affine: Affine): Attempt {
    let node = bn.inputs[0];
    while (isReinterpret(node)) {
      if (!this.#uses.only(node)) {
        return { reason: `not folded back: ${this.#d(node)} is also read elsewhere` };
      }
      node = node.inputs[0];
    }
    if (!isLayer(node)) {
      return {
        reason: UNARY_OPS.has(node.op)
          ? `not folded back: a scale cannot cross the nonlinearity ${this.#d(node)}`
          : `not folded back: its input ${this.#d(node)} is not a conv or linear`,
      };
    }
    const into = `not folded into ${this.#d(node)}`;
    if (!this.#uses.only(node)) return { reason: `${into}: the layer is also read elsewhere` };
    const weights = layerWeights(this.#current(node));
    if (!weights) return { reason: `${into}: its weights are computed, not constants` };
    const span = node.op === "conv2d" ? node.type.shape[2] * node.type.shape[3] : 1;
    const channel = featureChannels(channelMapOf(bn), { features: weights.outputs, span });
    if (!channel) {
      return { reason: `${into}: a batchnorm channel does not cover whole output features` };
    }
    return {
      apply: () => {
        this.#replaceLayer(node as Layer, scaleOutputs(weights, { channel, affine }));
        this.plan.set(bn, bn.inputs[0]);
      },
    };
  }

  #intoConsumers(bn: Node<"batchnorm">, affine: Affine): Attempt {
    if (this.#uses.isOutput(bn)) return { reason: "not folded forward: it is a graph output" };
    // Every path from the BN, through views, transposes and pools, must end in a layer that absorbs it.
    const targets: { layer: Layer; channel: Int32Array }[] = [];
    const work = this.#uses.users(bn).map((node) => ({
      node,
      previous: bn as Node,
      map: channelMapOf(bn),
    }));
    while (work.length > 0) {
      const { node, previous, map } = work.shift()!;
      if (isLayer(node)) {
        const found = this.#absorb(node, previous, map);
        if ("reason" in found) return found;
        targets.push(found);
        continue;
      }
      const next = this.#passThrough(node, map);
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
        this.plan.set(bn, bn.inputs[0]);
      },
    };
  }

  /** The channel map after `node`, when an affine map of its input can pass it. */
  #passThrough(node: Node, map: ChannelMap): { map: ChannelMap } | { reason: string } {
    const fail = (why: string) => ({ reason: `not folded into ${this.#d(node)}: ${why}` });
    if (isReinterpret(node)) return { map };
    if (node.op === "transpose") {
      const { perm } = node.attrs;
      const moved = transposeChannelMap(map, { shape: node.inputs[0].type.shape, perm });
      return moved ? { map: moved } : fail("it splits a batchnorm channel's elements apart");
    }
    if (node.op === "avgpool" || node.op === "global_avgpool") {
      const attrs = node.attrs as Partial<OpAttrs["avgpool"]>;
      if (attrs.countIncludePad && attrs.pads?.some((pad) => pad > 0)) {
        return fail("a zero-padded average pool would average zeros instead of the shift");
      }
      const [, , h, w] = node.inputs[0].type.shape;
      const [, , oh, ow] = node.type.shape;
      const pooled = poolChannelMap(map, { inPlane: h * w, outPlane: oh * ow });
      return pooled ? { map: pooled } : fail("a batchnorm channel changes inside a pooled plane");
    }
    return {
      reason: UNARY_OPS.has(node.op)
        ? `not folded forward: a scale cannot cross the nonlinearity ${this.#d(node)}`
        : `not folded forward: it reaches ${this.#d(node)}, which is not an FC, ` +
          "an unpadded conv, a view or an average pool",
    };
  }

  /** Whether `layer`, reading the BN's value through `previous` with channel map `map`, can absorb it. */
  #absorb(
    layer: Layer,
    previous: Node,
    map: ChannelMap,
  ): { layer: Layer; channel: Int32Array } | { reason: string } {
    const fail = (node: Node, why: string) => ({
      reason: `not folded into ${this.#d(node)}: ${why}`,
    });
    if (layer.inputs[0] !== previous || layer.inputs.slice(1).includes(previous)) {
      return fail(layer, "the batchnorm feeds its weights");
    }
    if (layer.op === "conv2d") {
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
          ? "a batchnorm channel does not cover whole input channels"
          : "the batchnorm channel varies across the FC's rows, which share one weight",
      );
    }
    return { layer, channel };
  }
}

/** The fold-batchnorm pass. */
export const foldBatchnorm: Pass = {
  name: "fold-batchnorm",
  summary:
    "fold BatchNorms into the conv or FC before them, or into the FCs and unpadded convs after them",
  run(graph, context) {
    const folder = new Folder(graph, context);
    folder.run();
    return substitute(graph, folder.plan);
  },
};
