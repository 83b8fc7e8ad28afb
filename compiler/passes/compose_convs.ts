/**
 * compose-convs: a conv, or an average pool, that reads a conv with nothing
 * between them becomes one conv, when that is exact and costs no more
 * (DiverseBranchBlock's 1x1 -> BN -> kxk branch after its BNs are folded):
 *
 *   convB(convA(x, KA, bA), KB, bB) -> conv(x, KB * KA, bB + sum_taps(KB) bA)
 *   avgpool_k(convA(x, KA, bA))     -> conv(x, KA spread over k*k taps / k^2, bA)
 *
 * with offsets kA*dA - pA + (kB*dB - pB)*sA along each axis, stride sA*sB and
 * gcd(gA, gB) groups (_conv_algebra.ts). Chains compose step by step.
 *
 * Preconditions: constant kernels and biases; nothing else reads A.
 * Refuses, and --explain says so:
 *   - B zero-pads A's output when A is not a bias-free, unpadded 1x1 conv: the
 *     padded border would then differ (DBB pads A instead, with the BN's shift:
 *     a 1x1 conv padded by p composes exactly);
 *   - a composed conv that costs more FLOPs than the two (a depthwise 3x3 then a
 *     pointwise 1x1 would become a dense 3x3: RepViT and RepGhost keep both);
 *   - an average pool that leaves the padding out of its divisor.
 * Inside a sum, merge-parallel-convs composes too, judging the cost of the whole
 * merged conv.
 */
import type { Graph, Node } from "../../ir/mod.ts";
import type { Pass, PassContext } from "../pass.ts";
import { composeForms, compositionProblem } from "./_conv_algebra.ts";
import {
  avgpoolForm,
  type ConvForm,
  convForm,
  formConv,
  formCost,
  MOVE_COST,
} from "./_conv_form.ts";
import { NameTable } from "./_names.ts";
import { substitute, Uses } from "./_rewrite.ts";

/** The form of a conv or pool, or the reason it has none. */
function formOf(node: Node): ConvForm | string | undefined {
  const result = node.op === "conv2d"
    ? convForm(node)
    : node.op === "avgpool"
    ? avgpoolForm(node)
    : undefined;
  return result && ("form" in result ? result.form : result.reason);
}

function composeGraph(graph: Graph, context: PassContext): Graph {
  const uses = new Uses(graph);
  const composed = new Map<Node, ConvForm>();
  const absorbed = new Set<Node>();
  for (const node of uses.order) {
    if (node.op !== "conv2d" && node.op !== "avgpool") continue;
    const producer = node.inputs[0];
    if (producer.op !== "conv2d" || !uses.only(producer)) continue;
    const a = composed.get(producer) ?? formOf(producer);
    const b = formOf(node);
    const into = `not composed with ${context.describe(producer)}`;
    if (typeof a !== "object" || typeof b !== "object") {
      context.explain(node, `${into}: ${typeof a === "string" ? a : b}`);
      continue;
    }
    const problem = compositionProblem(a, b);
    if (problem) {
      context.explain(node, `${into}: ${problem}`);
      continue;
    }
    const form = composeForms(a, b);
    if (formCost(form) > a.cost + b.cost) {
      const [kh, kw] = form.window.kernel;
      context.explain(
        node,
        `${into}: one ${kh}x${kw} conv with ${form.groups} groups would cost ` +
          `${formCost(form)} (FLOPs + ${MOVE_COST} per value moved), the two cost ${
            a.cost + b.cost
          }`,
      );
      continue;
    }
    composed.set(node, form);
    absorbed.add(producer);
  }
  const names = new NameTable(graph);
  const plan = new Map<Node, Node>();
  for (const [node, form] of composed) {
    if (!absorbed.has(node)) plan.set(node, formConv(form, names));
  }
  return substitute(graph, plan);
}

/** The compose-convs pass. */
export const composeConvs: Pass = {
  name: "compose-convs",
  summary: "compose a conv or average pool with the conv it reads into one conv, when exact " +
    "and no more costly",
  run: composeGraph,
};
