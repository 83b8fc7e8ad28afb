/**
 * How each op that does work starts a kernel, one table entry per op: the
 * core's result (`acc`, with a layer's bias already added), its operands
 * in the index space, and the kernel it pushes once the group's chain is
 * lowered by PlanBuilder.finish.
 */
import { describeNode, type Node, type OpName, sizeOf, windowGeometry } from "../../ir/mod.ts";
import { ACC, binary, type Expr } from "./expr.ts";
import type { Group } from "./group.ts";
import type { Frame, PlanBuilder } from "./lower.ts";
import { indexSpace } from "./space.ts";
import { forwardThrough, reshapeView, sliceOfContiguous, type View } from "./view.ts";

/** The ops that start kernels (sources and views do not). */
export type CoreOp = Exclude<OpName, "input" | "weight" | "reshape" | "transpose" | "flatten">;

type CoreLowering<O extends CoreOp> = (
  plan: PlanBuilder,
  group: Group & { readonly core: Node<O> },
) => void;

const same = (view: View) => view;

/** The A operand (coordinates mapped by `toA`), computing the group's prologue if it has one. */
function inputExpr(plan: PlanBuilder, group: Group, x: Node, toA: (view: View) => View): Expr {
  const prologue = group.prologue;
  if (!prologue) return plan.load(x, { shape: x.type.shape, toSpace: toA });
  const [first] = prologue.nodes;
  const inside = new Set(prologue.nodes);
  const frame: Frame = {
    shape: first.type.shape,
    toSpace: (view) => toA(forwardThrough(prologue.path, view)),
  };
  const build = (node: Node): Expr =>
    plan.elementwise(
      node,
      frame,
      (input) => inside.has(input) ? build(input) : plan.load(input, frame),
    );
  return build(first);
}

/** acc, plus the bias along `axis` of the core's output when there is one. */
function withBias(plan: PlanBuilder, core: Node, bias: Node | undefined, axis: number): Expr {
  if (!bias) return ACC;
  const space = indexSpace(core);
  const frame: Frame = { shape: core.type.shape, toSpace: (view) => reshapeView(view, space) };
  return binary("add", ACC, plan.loadChannel(bias, frame, axis));
}

function lowerLinear(plan: PlanBuilder, group: Group & { readonly core: Node<"linear"> }): void {
  const { core } = group;
  const [x, w, b] = core.inputs;
  const groups = core.attrs.groups;
  const features = x.type.shape[x.type.shape.length - 1];
  const outFeatures = w.type.shape[0];
  const m = sizeOf(x.type.shape) / features;
  const space = indexSpace(core);
  const a = inputExpr(plan, group, x, (view) => reshapeView(view, [m, features]));
  const seed = withBias(plan, core, b, core.type.shape.length - 1);
  const weight = plan.gemmWeight(w, [outFeatures, features / groups]);
  const { epilogue, out } = plan.finish(group, seed, (view) => reshapeView(view, space));
  plan.push({
    kind: "gemm",
    label: describeNode(core),
    space,
    shape: { op: "linear" },
    arithmetic: "f32",
    m,
    k: features / groups,
    n: outFeatures / groups,
    groups,
    a,
    w: weight,
    epilogue,
    out,
  });
}

function lowerConv(plan: PlanBuilder, group: Group & { readonly core: Node<"conv2d"> }): void {
  const { core } = group;
  const [x, w, b] = core.inputs;
  const geometry = windowGeometry(core);
  const { batch, channels, outChannels, outHeight, outWidth, groups } = geometry;
  const [kh, kw] = geometry.window.kernel;
  const k = (channels / groups) * kh * kw;
  const space = indexSpace(core);
  const a = inputExpr(plan, group, x, same);
  const seed = withBias(plan, core, b, 1);
  const weight = plan.gemmWeight(w, [outChannels, k]);
  const { epilogue, out } = plan.finish(group, seed, (view) => reshapeView(view, space));
  plan.push({
    kind: "gemm",
    label: describeNode(core),
    space,
    shape: { op: "conv", geometry },
    arithmetic: "f32",
    m: batch * outHeight * outWidth,
    k,
    n: outChannels / groups,
    groups,
    a,
    w: weight,
    epilogue,
    out,
  });
}

function lowerPool(
  plan: PlanBuilder,
  group: Group & { readonly core: Node<"avgpool" | "maxpool" | "global_avgpool"> },
): void {
  const { core } = group;
  const x = plan.view(core.inputs[0]);
  const { epilogue, out } = plan.finish(group, ACC, same);
  plan.push({
    kind: "pool",
    label: describeNode(core),
    space: core.type.shape,
    mode: core.op === "maxpool" ? "max" : core.op === "global_avgpool" ? "global" : "avg",
    countIncludePad: core.op === "avgpool" ? core.attrs.countIncludePad : true,
    geometry: windowGeometry(core),
    x,
    epilogue,
    out,
  });
}

function lowerMap(plan: PlanBuilder, group: Group): void {
  const { core } = group;
  const frame: Frame = { shape: core.type.shape, toSpace: same };
  const seed = plan.elementwise(core, frame, (input) => plan.load(input, frame));
  const { epilogue, out } = plan.finish(group, seed, same);
  plan.push({ kind: "map", label: describeNode(core), space: core.type.shape, epilogue, out });
}

/** One copy kernel per input, each writing its slice of the concatenation. */
function lowerConcat(plan: PlanBuilder, group: Group & { readonly core: Node<"concat"> }): void {
  const { core } = group;
  const value = plan.materialize(core);
  const axis = core.attrs.axis;
  let start = 0;
  for (const input of core.inputs) {
    const shape = input.type.shape;
    plan.push({
      kind: "map",
      label: describeNode(core),
      space: shape,
      epilogue: plan.load(input, { shape, toSpace: same }),
      out: { value, view: sliceOfContiguous(core.type.shape, axis, start, shape[axis]) },
    });
    start += shape[axis];
  }
}

/** The lowering of every op that starts a kernel. */
const CORES: { readonly [O in CoreOp]: CoreLowering<O> } = {
  conv2d: lowerConv,
  linear: lowerLinear,
  avgpool: lowerPool,
  maxpool: lowerPool,
  global_avgpool: lowerPool,
  concat: lowerConcat,
  batchnorm: lowerMap,
  add: lowerMap,
  sub: lowerMap,
  mul: lowerMap,
  div: lowerMap,
  relu: lowerMap,
  sigmoid: lowerMap,
  gelu: lowerMap,
  erf: lowerMap,
};

/** Lowers one group into kernels. One cast: a table lookup does not narrow the group's core. */
export function lowerGroup(plan: PlanBuilder, group: Group): void {
  const lowering = CORES[group.core.op as CoreOp] as CoreLowering<CoreOp> | undefined;
  if (!lowering) throw new Error(`internal: ${describeNode(group.core)} starts no kernel`);
  lowering(plan, group as Group & { readonly core: Node<CoreOp> });
}
