/**
 * The backend-neutral plan: a deployed graph as fused kernels, decided once
 * for every target. `planProgram` checks the graph is deployed
 * (verifyDeployed), groups nodes into kernels (group.ts, from the target's
 * capabilities), and lowers each group to the kernel IR (kernel.ts: values,
 * views, one Expr language for prologues and epilogues). A target then
 * renders the kernels, allocates memory from the liveness intervals, and
 * packs weights as it likes; see the README's layout section.
 */
import type { Graph } from "../../ir/mod.ts";
import type { TargetCaps } from "./caps.ts";
import { groupNodes } from "./group.ts";
import type { Program } from "./kernel.ts";
import { PlanBuilder } from "./lower.ts";
import { lowerGroup } from "./lower_ops.ts";
import { verifyDeployed } from "./verify.ts";

export type { TargetCaps } from "./caps.ts";
export * from "./expr.ts";
export * from "./kernel.ts";
export * from "./liveness.ts";
export * from "./math.ts";
export * from "./view.ts";
export { verifyDeployed } from "./verify.ts";
export { MAX_EXPR_SIZE } from "./group.ts";

/** Plans `graph` (deployed form, else a RefoldError naming the node) for a target with `caps`. */
export function planProgram(graph: Graph, caps: TargetCaps): Program {
  verifyDeployed(graph, caps.name);
  const plan = new PlanBuilder(caps);
  const inputs = graph.inputs.map((input) => ({
    name: input.attrs.name,
    value: plan.materialize(input, "input"),
  }));
  for (const group of groupNodes(graph, caps)) lowerGroup(plan, group);
  const outputs = graph.outputs.map(({ name, node }) => plan.port(name, node));
  return { name: graph.name, values: plan.values, kernels: plan.kernels, inputs, outputs };
}
export {
  chooseInt8,
  DEFAULT_MIN_INT8_MACS,
  gemmMacs,
  type Int8Decision,
  type QuantizeRule,
} from "./quantize.ts";
