/**
 * The compiler: the pass contract, the re-parameterization passes and the
 * pipeline that runs them. It imports only ir/.
 */
export type { Pass, PassContext } from "./pass.ts";
export {
  DEFAULT_VERIFY_TOLERANCE,
  NOISE_FACTOR,
  type PassReport,
  PIPELINE,
  type PipelineOptions,
  type PipelineStep,
  runPasses,
  runPipeline,
} from "./pipeline.ts";
export { canonicalize } from "./passes/canonicalize.ts";
export { composeConvs } from "./passes/compose_convs.ts";
export { convIntoFc } from "./passes/conv_into_fc.ts";
export { foldBatchnorm } from "./passes/fold_batchnorm.ts";
export { groupFc } from "./passes/group_fc.ts";
export { lowerBatchnorm } from "./passes/lower_batchnorm.ts";
export { mergeParallelConvs } from "./passes/merge_parallel_convs.ts";
