/**
 * The whole ONNX story: a torch export of a training-time model, imported,
 * deployed by the pass pipeline (with --verify), still matches PyTorch, has no
 * BatchNorm and no conv left inside its RepMLP blocks, and exports to an ONNX
 * model that ONNX Runtime runs to the same outputs, with its grouped FCs as
 * batched MatMuls.
 */
import assert from "node:assert/strict";
import { runPipeline } from "../../compiler/mod.ts";
import { exportOnnx, loadOnnx } from "../../formats/onnx/mod.ts";
import { decodeModel, toInt } from "../../formats/onnx/proto.ts";
import { interpret, type Node, printGraph, summarize, topoOrder } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { fixtureExpected, fixtureInput, fixtureModels, FIXTURES, runOrt } from "./_helpers.ts";

/**
 * Convs outside the RepMLP blocks, which deployment keeps: the ResNet has 28
 * convs, 4 in each of its two Light blocks' RepMLP (fc3 and three branches);
 * a Light block keeps light_conv1, light_conv3 and its shortcut; RepMLPNet
 * keeps the embeddings (3) and two FFN convs per unit (3 units).
 */
const CONVS_OUTSIDE_REPMLP: Record<string, number> = {
  repmlp_block: 0,
  repmlp_block_c8o16: 0,
  light_block: 3,
  repmlp_resnet: 20,
  repmlpnet: 9,
};

/** Nodes of the ops that must be gone, printed for the failure message. */
function leftovers(nodes: Node[], op: string): string {
  return nodes.filter((node) => node.op === op).map((node) =>
    `${node.op}(${node.inputs.map((i) => i.op)}) : [${node.type.shape}]`
  ).join("; ");
}

for (const model of fixtureModels()) {
  for (const file of model.files) {
    Deno.test(`deploy ${file.file}: no BatchNorm, no conv in RepMLP, same outputs`, async () => {
      const trained = await loadOnnx(FIXTURES + file.file, { batch: 1 });
      const { graph } = runPipeline(trained, { verify: true });
      const nodes = topoOrder(graph);
      const ops = summarize(graph).ops;
      assert.equal(ops.batchnorm, undefined, `batchnorm left: ${leftovers(nodes, "batchnorm")}`);
      assert.equal(
        ops.conv2d ?? 0,
        CONVS_OUTSIDE_REPMLP[model.name],
        `convs left:\n${printGraph(graph)}`,
      );
      const x = fixtureInput(model.name, 1), expected = fixtureExpected(model.name, 1);
      assertClose(interpret(graph, { x }).y, expected, 3e-7, "deployed graph");

      const bytes = exportOnnx(graph);
      const onnx = decodeModel(bytes, "deployed.onnx");
      const exported = onnx.graph!.node!;
      assert.ok(!exported.some((n) => n.op_type === "BatchNormalization"));
      const grouped = nodes.filter((n) => n.op === "linear" && n.attrs.groups > 1);
      const rank3 = new Set(
        onnx.graph!.initializer!.filter((i) => i.dims!.length === 3).map((i) => i.name),
      );
      const batched = exported.filter((n) => n.op_type === "MatMul" && rank3.has(n.input![1]));
      assert.equal(batched.length, grouped.length, "one batched MatMul per grouped FC");
      const convs = exported.filter((n) => n.op_type === "Conv");
      assert.equal(convs.length, ops.conv2d ?? 0);
      const ort = await runOrt(bytes, { x: { data: x, shape: model.input.shape } });
      assertClose(ort.y, expected, 1e-6, "ONNX Runtime on the exported deployed model");
      // The fixtures' convs outside RepMLP are all ungrouped: a grouped one is an FC gone wrong.
      for (const conv of convs) {
        assert.equal(toInt(conv.attribute!.find((a) => a.name === "group")!.i), 1);
      }
    });
  }
}
