/**
 * The correctness bar of issue 3 as assertions on a deployed graph: no
 * batchnorm anywhere, no conv2d inside a RepMLP block, one FC (with bias)
 * per RepMLP block, and outputs equal to the training graph's. Weight names
 * (official checkpoint keys, kept as stems by the passes) tell a test where
 * the RepMLP blocks were; the passes themselves never look at names. Weight
 * names must also be unique, the derived ones included.
 */
import assert from "node:assert/strict";
import { expectOp, type Graph, interpret, type Node, summarize, topoOrder } from "../../ir/mod.ts";
import { compareArrays } from "../_assert.ts";

/** Stems of weights that belong to a RepMLP block (v1 or RepMLPNet). */
const BLOCK_WEIGHT = /(^|\.)(fc3|fc3_bn|repconv\d+|gp\.fc\d|fc1_fc2\.fc\d|avg\.bn)\./;

const weightName = (node: Node) => expectOp(node, "weight").attrs.name;

/** The fc3 weights of the training graph: one per RepMLP block, with fc3's groups. */
function fc3Layers(training: Graph): { name: string; groups: number }[] {
  return topoOrder(training)
    .filter((node): node is Node<"conv2d"> =>
      node.op === "conv2d" && /(^|\.)fc3\.weight$/.test(weightName(node.inputs[1]))
    )
    .map((node) => ({
      name: weightName(node.inputs[1]).replace(/\.weight$/, ""),
      groups: node.attrs.groups,
    }));
}

/** Asserts the deployed structure: no BN, RepMLP blocks as FCs only, one fc3 FC with bias each. */
export function assertDeployedStructure(training: Graph, deployed: Graph, label: string): void {
  const nodes = topoOrder(deployed);
  assert.equal(summarize(deployed).ops.batchnorm, undefined, `${label}: a batchnorm is left`);
  for (const node of nodes) {
    if (node.op !== "conv2d") continue;
    const name = weightName(node.inputs[1]);
    assert.ok(!BLOCK_WEIGHT.test(name), `${label}: conv2d "${name}" is left inside a RepMLP block`);
  }
  const names = nodes.filter((node) => node.op === "weight").map(weightName);
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  assert.deepEqual(repeated, [], `${label}: weight names are not unique`);
  const fcs = nodes.filter((node) => node.op === "linear");
  for (const { name, groups } of fc3Layers(training)) {
    const mine = fcs.filter((fc) => weightName(fc.inputs[1]).startsWith(`${name}.`));
    assert.equal(mine.length, 1, `${label}: ${name} should be one FC, found ${mine.length}`);
    assert.ok(mine[0].inputs[2], `${label}: ${name} has no bias`);
    assert.equal(mine[0].attrs.groups, groups, `${label}: ${name} groups`);
  }
}

/** max|y_deploy - y_train| / max|y_train| over all outputs. */
export function deployedError(
  training: Graph,
  deployed: Graph,
  feeds: Record<string, Float32Array>,
): number {
  const expected = interpret(training, feeds), actual = interpret(deployed, feeds);
  return Math.max(
    ...Object.keys(expected).map((name) => compareArrays(actual[name], expected[name]).relative),
  );
}
