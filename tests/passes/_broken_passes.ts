// Passes with a classic bug planted, for the tests that --verify catches it.
import { foldBatchnorm, type Pass, PIPELINE } from "../../compiler/mod.ts";
import { makeNode, rebuild } from "../../ir/mod.ts";

/** fold-batchnorm with the classic bug: s = gamma / sqrt(var), epsilon forgotten. */
export const foldWithoutEpsilon: Pass = {
  ...foldBatchnorm,
  run: (graph, context) =>
    foldBatchnorm.run(
      rebuild(graph, (node) =>
        node.op === "batchnorm"
          ? makeNode("batchnorm", node.inputs, { ...node.attrs, epsilon: 0 })
          : undefined),
      context,
    ),
};

/** The pipeline with foldWithoutEpsilon in place of fold-batchnorm. */
export const PIPELINE_WITHOUT_EPSILON: readonly Pass[] = PIPELINE.map((pass) =>
  pass === foldBatchnorm ? foldWithoutEpsilon : pass
);
