/**
 * Reads a branch of a sum as conv forms (see _conv_form.ts): what the branch
 * computes as a sum of convs of the tensors it reads, plus a per-channel bias.
 *
 *   conv2d(x) / avgpool(x)           one form of x
 *   convB(convA(x)), avgpool(convA(x)) the composition, when exact (see _conv_algebra.ts)
 *   affine(f)                        BN, x*c, x+c, x-c, c-x, x/c along channels: f scaled/shifted
 *   a + b, a - b                     the forms of a and of +-b
 *   anything else, x                 the identity of x, a 1x1 depthwise conv of ones
 *
 * A node is looked into only when the branch is its only reader; otherwise
 * it is an opaque tensor, read through the identity. Why a conv or pool could
 * not be read as a form is kept, for --explain.
 */
import { type Node, sameShape } from "../../ir/mod.ts";
import { affineOp } from "./_affine.ts";
import { composeForms, compositionProblem } from "./_conv_algebra.ts";
import {
  affineForm,
  avgpoolForm,
  type ConvForm,
  convForm,
  type FormResult,
  identityForm,
  negated,
} from "./_conv_form.ts";
import type { Uses } from "./_rewrite.ts";

/** How a branch is read. */
export interface ReadOptions {
  readonly uses: Uses;
  /** Whether a conv or pool reading a conv composes with it into one form. */
  readonly compose: boolean;
  /** Receives why a node that looked like a form stayed opaque, or did not compose. */
  readonly blocked: (node: Node, reason: string) => void;
  /** A node in IR text, for those reasons. */
  readonly describe: (node: Node) => string;
}

/** The form of a conv or pool node itself, or undefined for other ops. */
function ownForm(node: Node): FormResult | undefined {
  if (node.op === "conv2d") return convForm(node);
  if (node.op === "avgpool") return avgpoolForm(node);
  return undefined;
}

/** The forms of `node` read as an opaque tensor. */
function opaque(node: Node): ConvForm[] {
  const identity = identityForm(node);
  return identity ? [identity] : [];
}

/** Forms of a windowed node: its own form, composed with the branch it reads when exact. */
function windowed(node: Node, own: ConvForm, options: ReadOptions): ConvForm[] {
  const input = own.input;
  if (!options.compose || !options.uses.only(input)) return [own];
  const inner = readBranch(input, options);
  if (inner.length !== 1 || inner[0].sources.length === 0) return [own];
  const problem = compositionProblem(inner[0], own);
  if (problem) {
    options.blocked(node, `not composed with ${options.describe(input)}: ${problem}`);
    return [own];
  }
  return [composeForms(inner[0], own)];
}

/** The forms a branch computes, read through every node only it reads. */
export function readBranch(node: Node, options: ReadOptions): ConvForm[] {
  const own = ownForm(node);
  if (own) {
    if ("reason" in own) {
      options.blocked(node, own.reason);
      return opaque(node);
    }
    return windowed(node, own.form, options);
  }
  const affine = affineOp(node);
  if (affine && isChannelAxis(affine.map, node)) {
    const inner = readInput(affine.x, options);
    // The shift is added once, to the first form.
    return inner.map((form, i) =>
      affineForm(form, {
        scale: affine.affine.scale,
        shift: i === 0 ? affine.affine.shift : undefined,
        source: i === 0 ? node : undefined,
      })
    );
  }
  if ((node.op === "add" || node.op === "sub") && sameShapes(node)) {
    const [a, b] = node.inputs;
    const left = readInput(a, options), right = readInput(b, options);
    if (left.length === 0 || right.length === 0) return opaque(node);
    const signed = node.op === "sub" ? right.map(negated) : right;
    return [
      { ...left[0], sources: [...left[0].sources, node], cost: left[0].cost + sizeOf(node) },
      ...left.slice(1),
      ...signed,
    ];
  }
  return opaque(node);
}

/** The forms of a node's input: looked into when only that node reads it. */
function readInput(input: Node, options: ReadOptions): ConvForm[] {
  return options.uses.only(input) ? readBranch(input, options) : opaque(input);
}

/** True when a per-channel map runs along axis 1 of an NCHW tensor. */
function isChannelAxis(map: { inner: number; channels: number }, node: Node): boolean {
  const shape = node.type.shape;
  return shape.length === 4 && map.channels === shape[1] && map.inner === shape[2] * shape[3];
}

function sameShapes(node: Node): boolean {
  return node.inputs.every((input) => sameShape(input.type.shape, node.type.shape));
}

function sizeOf(node: Node): number {
  return node.type.shape.reduce((a, d) => a * d, 1);
}
