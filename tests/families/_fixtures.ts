/**
 * The re-parameterization family fixtures written by
 * tests/fixtures/torch/gen_families.py (blocks after the official code,
 * exported by torch.onnx.export with TrainingMode.PRESERVE and by default),
 * and the published inference form of each, as op counts of the deployed graph.
 */
import { fromFileUrl } from "../_path.ts";

/** The fixture directory. */
export const FAMILIES = fromFileUrl(new URL("../fixtures/families/", import.meta.url).href) + "/";

/** One exported file. */
export interface FamilyFile {
  readonly file: string;
  readonly ops: readonly string[];
  readonly batchnorms: number;
}

/** One fixture model. */
export interface FamilyModel {
  readonly name: string;
  readonly input: readonly number[];
  readonly output: readonly number[];
  /** PyTorch's own float32 forward against its float64 one, relative to max |y|. */
  readonly float32_error: number;
  readonly state_dict: string | null;
  readonly files: readonly FamilyFile[];
}

/** Every fixture model of manifest.json. */
export function familyModels(): FamilyModel[] {
  return JSON.parse(Deno.readTextFileSync(FAMILIES + "manifest.json")).models;
}

/** The seeded input (float32, batch 1). */
export function familyInput(name: string): Float32Array {
  return new Float32Array(Deno.readFileSync(`${FAMILIES}${name}.input.bin`).buffer);
}

/** The training-time model's output in float64. */
export function familyExpected(name: string): Float64Array {
  return new Float64Array(Deno.readFileSync(`${FAMILIES}${name}.expected.bin`).buffer);
}

/**
 * The tolerance "within float32 accuracy" for a model: a few times what PyTorch's own float32
 * forward gets wrong against float64, and never tighter than 5e-7 relative where that is tiny.
 */
export function float32Tolerance(model: FamilyModel, factor: number): number {
  return Math.max(factor * model.float32_error, 5e-7);
}

/**
 * The deployed form each family publishes (its switch_to_deploy / reparameterize), as op
 * counts; every BatchNorm is folded.
 */
export const PUBLISHED: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  // RepVGG rbr_reparam: one 3x3 conv + ReLU per block (C = O, strided, and g4 blocks).
  repvgg: { conv2d: 3, relu: 3 },
  // ACNet fused_conv: the square, vertical and horizontal kernels in one conv per block.
  acnet: { conv2d: 2, relu: 2 },
  // DBB dbb_reparam: origin, 1x1, 1x1->kxk and 1x1->avg branches in one kxk conv per block.
  dbb: { conv2d: 3, relu: 3 },
  // MobileOne reparam_conv: one depthwise, one pointwise conv per pair (twice).
  mobileone: { conv2d: 4, relu: 4 },
  // RepLKBlock: pw1 (prelkb_bn folded in: the official deploy keeps it as a BN), the large
  // kernel and the small one in one 13x13 depthwise conv, pw2, residual.
  replknet: { conv2d: 3, relu: 2, add: 1 },
  // QARepVGG: one 3x3 conv + ReLU per block, the post-sum BN folded in.
  qarepvgg: { conv2d: 2, relu: 2 },
  // FastViT RepMixer reparam_conv: one depthwise conv.
  repmixer: { conv2d: 1 },
  // RepViT: RepVGGDW (with its BN) one depthwise conv; the strided token mixer keeps its
  // depthwise and pointwise convs; each channel mixer 1x1, GELU, 1x1 and its residual.
  repvit: { conv2d: 7, gelu: 2, add: 2 },
  // RepGhost: cheap_operation with the fusion BN in one depthwise conv; primary convs,
  // the strided depthwise conv and the projection shortcut (depthwise then 1x1) stay.
  repghost: { conv2d: 11, relu: 4, add: 2 },
  // RepVGG-A0 layout ([2, 4, 14, 1] blocks) at 1/16 width: 22 convs + ReLU, pool, classifier.
  repvgg_a0_small: { conv2d: 22, relu: 22, global_avgpool: 1, reshape: 1, linear: 1 },
  // MobileOne-S0 layout (k = 4 branches) at 1/16 width: 1 + 2 * 21 convs + ReLU, pool, head.
  mobileone_s0_small: { conv2d: 43, relu: 43, global_avgpool: 1, reshape: 1, linear: 1 },
};
