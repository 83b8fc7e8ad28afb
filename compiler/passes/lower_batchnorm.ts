/**
 * lower-batchnorm: a BatchNorm that no layer could absorb becomes its affine
 * form, so that no batchnorm op reaches a backend:
 *
 *   batchnorm(x, gamma, beta, mean, var) -> x * scale + shift
 *
 * with scale = gamma/sqrt(var+eps) and shift = beta - mean*scale stored as
 * weights of shape [C, 1, ..., 1], which broadcast along the BN's axis. A
 * backend may fuse the pair into the kernel next to it. RepMLPNet's prebn1
 * ends here: it feeds share-set rows that mix channels, so no FC weight can
 * carry it without being copied per channel.
 *
 * Preconditions: the BN statistics are constants. Refuses: BNs whose
 * statistics are computed (it says so under --explain).
 */
import { expectOp, makeNode, makeWeight, type Node, toFloat32 } from "../../ir/mod.ts";
import type { Pass } from "../pass.ts";
import { batchnormAffine } from "./_affine.ts";
import { NameTable } from "./_names.ts";
import { substitute, Uses } from "./_rewrite.ts";

/** The lower-batchnorm pass. */
export const lowerBatchnorm: Pass = {
  name: "lower-batchnorm",
  summary: "turn BatchNorms that nothing absorbed into a per-channel multiply and add",
  run(graph, context) {
    const uses = new Uses(graph);
    const names = new NameTable(graph);
    const plan = new Map<Node, Node>();
    for (const bn of uses.order) {
      if (bn.op !== "batchnorm") continue;
      const affine = batchnormAffine(bn);
      if (!affine) {
        context.explain(bn, "kept: its statistics are computed, not constants");
        continue;
      }
      const [x] = bn.inputs, gamma = expectOp(bn.inputs[1], "weight");
      const channels = affine.scale.length;
      const shape = [channels, ...x.type.shape.slice(bn.attrs.axis + 1).map(() => 1)];
      const source = gamma.attrs.name;
      const scale = makeWeight(
        names.derive(source, "affine", "scale"),
        shape,
        toFloat32(affine.scale),
      );
      const shift = makeWeight(
        names.derive(source, "affine", "shift"),
        shape,
        toFloat32(affine.shift),
      );
      plan.set(bn, makeNode("add", [makeNode("mul", [x, scale], {}), shift], {}));
    }
    return substitute(graph, plan);
  },
};
