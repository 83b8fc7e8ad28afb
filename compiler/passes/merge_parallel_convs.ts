/**
 * merge-parallel-convs: the branches of a sum that read the same tensor
 * become one conv (RepVGG, ACNet, RepLKNet, MobileOne, DBB, QARepVGG, RepViT,
 * RepGhost, FastViT's RepMixer, and RepMLP's local perceptron):
 *
 *   conv(x, K1, b1) + conv(x, K2, b2) -> conv(x, K1 (+) K2, b1 + b2)   taps placed by offset
 *   x                                 -> centre taps: a 1 on the diagonal (C = O, any groups)
 *   s*x + t (BN(x), layer scale)      -> centre taps s, bias t
 *   avgpool_k(x), padding counted     -> k*k taps of 1/k^2 per channel
 *   convB(convA(x))                   -> one conv, when exact (1x1 then kxk, kxk then 1x1, ...)
 *   s*(branches) + t, BN(branches)    -> the branches' taps and biases scaled and shifted
 *   a - b                             -> a + b with negated taps and bias
 *
 * Every branch is read as a conv form (_branches.ts), the forms of one
 * tensor are summed in one window (_conv_algebra.ts: any kernel sizes, in
 * any order, centred or not, any dilations, groups the gcd of the
 * branches'), and the sum is rebuilt from one conv per tensor and the
 * branches left as they were. Nested sums inside a scale are merged with the
 * outer one (x + ls * (mixer(x) - norm(x)) is one conv).
 *
 * Preconditions: constant kernels, biases, scales and statistics; a branch is
 * looked into only where nothing else reads it.
 * Refuses, and --explain says which branch and why: branches with different
 * strides; a merged conv that would cost more FLOPs than the branches (a
 * dense 1x1 plus a depthwise 7x7 would become a dense 7x7); an average pool
 * that does not count its padding; compositions that would change the
 * border; branches read elsewhere, or alone on their tensor.
 */
import { type Node, sizeOf } from "../../ir/mod.ts";
import type { Pass } from "../pass.ts";
import { readBranch } from "./_branches.ts";
import { sumForms } from "./_conv_algebra.ts";
import {
  type ConvForm,
  formConv,
  formCost,
  identityForm,
  MOVE_COST,
  negated,
} from "./_conv_form.ts";
import {
  buildSum,
  rewriteSums,
  type Sum,
  type SumEnv,
  type SumRewriteResult,
  type Term,
} from "./_sum.ts";

/** One term of the sum as read: its conv forms (none when it is no NCHW tensor). */
interface Branch {
  readonly term: Term;
  readonly forms: readonly ConvForm[];
}

/** The forms of one tensor at one stride, and the branches they come from. */
interface Group {
  readonly forms: ConvForm[];
  readonly branches: Set<Branch>;
}

/** What one reading of a sum achieved. */
interface Attempt {
  readonly branches: readonly Branch[];
  readonly merged: ReadonlyMap<Group, ConvForm>;
  readonly dissolved: ReadonlySet<Branch>;
  readonly notes: readonly { node: Node; reason: string }[];
  /** True when a group was refused (its branches then stay as they were). */
  readonly refused: boolean;
}

function groupKey(form: ConvForm, ids: Map<Node, number>): string {
  if (!ids.has(form.input)) ids.set(form.input, ids.size);
  return `${ids.get(form.input)}/${form.window.stride}`;
}

function groupsOf(branches: readonly Branch[]): Group[] {
  const ids = new Map<Node, number>();
  const groups = new Map<string, Group>();
  for (const branch of branches) {
    for (const form of branch.forms) {
      const key = groupKey(form, ids);
      const group = groups.get(key) ?? { forms: [], branches: new Set() };
      group.forms.push(form);
      group.branches.add(branch);
      groups.set(key, group);
    }
  }
  return [...groups.values()];
}

/** True when a group merges nothing: one branch with at most one node, or tensors alone (x + x). */
function trivial(group: Group): boolean {
  const sources = group.forms.reduce((total, form) => total + form.sources.length, 0);
  return sources === 0 || (group.branches.size === 1 && sources === 1);
}

/** The cost of what a group replaces: its nodes and the adds that joined its branches. */
function originalCost(group: Group): number {
  const add = (1 + 3 * MOVE_COST) * sizeOf(group.forms[0].outShape);
  return group.forms.reduce((total, form) => total + form.cost, add * (group.branches.size - 1));
}

/** Reads the sum's branches (composing chained convs or not) and merges what pays. */
function attempt(sum: Sum, env: SumEnv, compose: boolean): Attempt {
  const { uses, context } = env;
  const notes: { node: Node; reason: string }[] = [];
  const options = {
    uses,
    compose,
    describe: context.describe,
    blocked: (node: Node, reason: string) => notes.push({ node, reason }),
  };
  const branches: Branch[] = sum.terms.map((term) => {
    const identity = identityForm(term.node);
    const read = uses.only(term.node) ? readBranch(term.node, options) : identity ? [identity] : [];
    return { term, forms: term.sign < 0 ? read.map(negated) : read };
  });
  const active = new Set(branches.filter((branch) => branch.forms.length > 0));
  let merged = new Map<Group, ConvForm>();
  let refused = false;
  for (let settled = false; !settled;) {
    settled = true;
    merged = new Map();
    for (const group of groupsOf([...active])) {
      if (trivial(group)) continue;
      const result = sumForms(group.forms);
      const form = "form" in result ? result.form : undefined;
      const reason = form ? costProblem(group, form) : "reason" in result ? result.reason : "";
      if (!form || reason) {
        // One branch alone in its group is a chain that would not compose profitably.
        const what = group.branches.size > 1 ? "merged with the other branches" : "composed";
        for (const branch of group.branches) {
          notes.push({ node: branch.term.node, reason: `not ${what}: ${reason}` });
          active.delete(branch);
        }
        settled = false;
        refused = true;
        break;
      }
      merged.set(group, form);
    }
  }
  const dissolved = new Set([...merged.keys()].flatMap((group) => [...group.branches]));
  return { branches, merged, dissolved, notes, refused };
}

/** Why a merged conv does not pay, or undefined. */
function costProblem(group: Group, form: ConvForm): string | undefined {
  const merged = formCost(form), before = originalCost(group);
  if (merged <= before) return undefined;
  const [kh, kw] = form.window.kernel;
  return `one ${kh}x${kw} conv with ${form.groups} groups would cost ${merged} ` +
    `(FLOPs + ${MOVE_COST} per value moved), the branches cost ${before}`;
}

/** A form that is just +-x: the tensor itself, with its sign. */
function asTerm(form: ConvForm): Term | undefined {
  const identity = identityForm(form.input);
  if (!identity || form.sources.length > 0 || form.bias.some((b) => b !== 0)) return undefined;
  if (form.groups !== identity.groups || form.window.kernel.some((k) => k !== 1)) return undefined;
  if (form.weight.every((w) => w === 1)) return { node: form.input, sign: 1 };
  return form.weight.every((w) => w === -1) ? { node: form.input, sign: -1 } : undefined;
}

/** Explains branches that stay: read elsewhere, at another stride, or alone on their tensor. */
function explainKept(chosen: Attempt, env: SumEnv): void {
  const { context, uses } = env;
  const formed = chosen.branches.filter((b) => b.forms.some((form) => form.sources.length > 0));
  const reads = (branch: Branch, input: Node) =>
    branch.forms.some((form) => form.input === input) ||
    (isWindowed(branch.term.node) && branch.term.node.inputs[0] === input);
  const noted = new Set(chosen.notes.map((note) => note.node));
  for (const branch of chosen.branches) {
    const node = branch.term.node;
    if (chosen.dissolved.has(branch) || noted.has(node)) continue;
    if (isWindowed(node) && !uses.only(node)) {
      const peer = formed.find((other) => other !== branch && reads(other, node.inputs[0]));
      if (peer) {
        context.explain(
          node,
          `not merged with ${context.describe(peer.term.node)}: it is also read elsewhere`,
        );
      }
      continue;
    }
    const own = branch.forms.find((form) => form.sources.length > 0);
    if (!own) continue;
    const peers = chosen.branches.filter((other) => other !== branch && reads(other, own.input));
    const strided = peers.find((other) =>
      other.forms.some((form) =>
        form.input === own.input && `${form.window.stride}` !== `${own.window.stride}`
      )
    );
    if (strided) {
      const theirs = strided.forms.find((form) => form.input === own.input)!;
      context.explain(
        node,
        `not merged with ${context.describe(strided.term.node)}: stride [${own.window.stride}] ` +
          `differs from [${theirs.window.stride}]`,
      );
    } else if (peers.length === 0 && formed.length > 1) {
      context.explain(node, `not merged: no other branch reads ${context.describe(own.input)}`);
    }
  }
}

const isWindowed = (node: Node): node is Node<"conv2d" | "avgpool"> =>
  node.op === "conv2d" || node.op === "avgpool";

function mergeSum(sum: Sum, env: SumEnv): SumRewriteResult | undefined {
  const composed = attempt(sum, env, true);
  const plain = composed.refused ? attempt(sum, env, false) : undefined;
  const chosen = plain && plain.dissolved.size > composed.dissolved.size ? plain : composed;
  for (const { node, reason } of chosen.notes) env.context.explain(node, reason);
  explainKept(chosen, env);
  if (chosen.dissolved.size === 0) return undefined;
  // One conv per merged group, where its first branch stood; the rest in their order.
  const firstOf = new Map<Branch, Group[]>();
  for (const group of chosen.merged.keys()) {
    const first = chosen.branches.find((branch) => group.branches.has(branch))!;
    firstOf.set(first, [...(firstOf.get(first) ?? []), group]);
  }
  const inGroup = new Set([...chosen.merged.keys()].flatMap((group) => group.forms));
  const terms: Term[] = [];
  for (const branch of chosen.branches) {
    if (!chosen.dissolved.has(branch)) {
      terms.push(branch.term);
      continue;
    }
    for (const group of firstOf.get(branch) ?? []) {
      terms.push({ node: formConv(chosen.merged.get(group)!, env.names), sign: 1 });
    }
    // A dissolved branch may also read a tensor nothing else reads: that part stays its own conv.
    for (const form of branch.forms) {
      if (inGroup.has(form)) continue;
      terms.push(asTerm(form) ?? { node: formConv(form, env.names), sign: 1 });
    }
  }
  const sources = [...chosen.merged.keys()].flatMap((group) =>
    group.forms.flatMap((f) => f.sources)
  );
  return { value: buildSum(terms, sum.root.type.shape), dissolved: sources };
}

/** The merge-parallel-convs pass. */
export const mergeParallelConvs: Pass = {
  name: "merge-parallel-convs",
  summary: "merge the branches of a sum that read one tensor (convs, pools, identities, their " +
    "scales and chains) into one conv",
  run: (graph, context) => rewriteSums(graph, context, mergeSum),
};
