// merge-parallel-convs: the branches of a sum on one tensor become one conv (convs, identities,
// BN and layer scales, pools, chains, differences); what must stay apart, and why.
import { mergeParallelConvs } from "../../compiler/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { snapshotCase } from "./_harness.ts";

const snap = snapshotFile(import.meta.url);
const pass = [mergeParallelConvs];
const BN = "{axis=1, epsilon=0.00001}";
/** Weights of the BatchNorm `p` over `c` channels, named %p_g, %p_b, %p_m, %p_v. */
const bnParams = (p: string, c: number) => `
    %${p}_g = weight "${p}.weight" : f32[${c}]
    %${p}_b = weight "${p}.bias" : f32[${c}]
    %${p}_m = weight "${p}.running_mean" : f32[${c}]
    %${p}_v = weight "${p}.running_var" : f32[${c}]`;
const bn = (p: string) => `%${p}_g, %${p}_b, %${p}_m, %${p}_v`;
const pool = (k: number, pad: number, count = true) =>
  `{countIncludePad=${count}, kernel=[${k},${k}], pads=[${pad},${pad},${pad},${pad}], stride=[1,1]}`;
const conv = (
  pads: number,
  options: { groups?: number; stride?: number; dilation?: number } = {},
) =>
  `{dilation=[${options.dilation ?? 1},${options.dilation ?? 1}], groups=${
    options.groups ?? 1
  }, pads=[${pads},${pads},${pads},${pads}], stride=[${options.stride ?? 1},${
    options.stride ?? 1
  }]}`;

snapshotCase(snap, pass, "kernels 5, 1, 3 in that order merge into one 5x5", {
  intent: "RepMLP's local perceptron after BN folding: each kernel is padded, centred, to 5x5; " +
    "biases add",
  input: `graph "branches" {
    %x = input "x" : f32[2,2,5,5]
    %w5 = weight "repconv5.conv.bnfold.weight" : f32[3,2,5,5]
    %b5 = weight "repconv5.conv.bnfold.bias" : f32[3]
    %w1 = weight "repconv1.conv.bnfold.weight" : f32[3,2,1,1]
    %b1 = weight "repconv1.conv.bnfold.bias" : f32[3]
    %w3 = weight "repconv3.conv.bnfold.weight" : f32[3,2,3,3]
    %b3 = weight "repconv3.conv.bnfold.bias" : f32[3]
    %c5 = conv2d(%x, %w5, %b5) ${conv(2)} : f32[2,3,5,5]
    %c1 = conv2d(%x, %w1, %b1) ${conv(0)} : f32[2,3,5,5]
    %c3 = conv2d(%x, %w3, %b3) ${conv(1)} : f32[2,3,5,5]
    %s1 = add(%c5, %c1) : f32[2,3,5,5]
    %s2 = add(%s1, %c3) : f32[2,3,5,5]
    output "y" = %s2
  }`,
});

snapshotCase(snap, pass, "an identity branch joins as a centred diagonal 1", {
  intent: "RepVGG-style x + conv3x3(x) + conv1x1(x) with groups 2 is one grouped 3x3 conv",
  input: `graph "identity" {
    %x = input "x" : f32[1,4,3,3]
    %w3 = weight "w3" : f32[4,2,3,3]
    %w1 = weight "w1" : f32[4,2,1,1]
    %c3 = conv2d(%x, %w3) ${conv(1, { groups: 2 })} : f32[1,4,3,3]
    %c1 = conv2d(%x, %w1) ${conv(0, { groups: 2 })} : f32[1,4,3,3]
    %a = add(%x, %c3) : f32[1,4,3,3]
    %b = add(%c1, %a) : f32[1,4,3,3]
    %r = relu(%b) : f32[1,4,3,3]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "branches summed through views merge, other terms stay", {
  intent: "v1's sum: fc3 path + view of (conv1 + conv3): the convs merge, the FC term is kept",
  input: `graph "views" {
    %x = input "x" : f32[4,2,2,3]
    %t = input "t" : f32[1,2,2,3,2,3]
    %w1 = weight "w1" : f32[3,2,1,1]
    %w3 = weight "w3" : f32[3,2,3,3]
    %c1 = conv2d(%x, %w1) ${conv(0)} : f32[4,3,2,3]
    %c3 = conv2d(%x, %w3) ${conv(1)} : f32[4,3,2,3]
    %s = add(%c1, %c3) : f32[4,3,2,3]
    %v = reshape(%s) {shape=[1,2,2,3,2,3]} : f32[1,2,2,3,2,3]
    %y = add(%t, %v) : f32[1,2,2,3,2,3]
    output "y" = %y
  }`,
});

snapshotCase(snap, pass, "different dilations spread onto dilation 1", {
  intent: "a 3x3 conv with dilation 2 (pad 2) plus a 3x3 conv is one 5x5 conv",
  input: `graph "dilation" {
    %x = input "x" : f32[1,1,5,5]
    %wa = weight "wa" : f32[1,1,3,3]
    %wb = weight "wb" : f32[1,1,3,3]
    %a = conv2d(%x, %wa) ${conv(2, { dilation: 2 })} : f32[1,1,5,5]
    %b = conv2d(%x, %wb) ${conv(1)} : f32[1,1,5,5]
    %s = add(%a, %b) : f32[1,1,5,5]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "RepVGG: BN(x) joins as centre taps s and bias t", {
  intent: "relu(BN(conv3x3(x)) + BN(conv1x1(x)) + BN(x)) after the branch BNs folded: " +
    "the identity BN is diag(s) at the centre, its shift joins the bias",
  input: `graph "repvgg" {
    %x = input "x" : f32[1,4,5,5]
    %w3 = weight "rbr_dense.conv.bnfold.weight" : f32[4,4,3,3]
    %b3 = weight "rbr_dense.conv.bnfold.bias" : f32[4]
    %w1 = weight "rbr_1x1.conv.bnfold.weight" : f32[4,4,1,1]
    %b1 = weight "rbr_1x1.conv.bnfold.bias" : f32[4]
    %c3 = conv2d(%x, %w3, %b3) ${conv(1)} : f32[1,4,5,5]
    %c1 = conv2d(%x, %w1, %b1) ${conv(0)} : f32[1,4,5,5]
    ${bnParams("id", 4)}
    %i = batchnorm(%x, ${bn("id")}) ${BN} : f32[1,4,5,5]
    %s1 = add(%c3, %c1) : f32[1,4,5,5]
    %s2 = add(%s1, %i) : f32[1,4,5,5]
    %r = relu(%s2) : f32[1,4,5,5]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "MobileOne depthwise: k branches, 1x1 scale branch, skip BN", {
  intent: "groups = C = 3: two 3x3 branches, the 1x1 scale branch and BN(x) are one " +
    "depthwise 3x3 conv with bias",
  input: `graph "mobileone-dw" {
    %x = input "x" : f32[2,3,4,6]
    %wa = weight "rbr_conv.0.conv.bnfold.weight" : f32[3,1,3,3]
    %wb = weight "rbr_conv.1.conv.bnfold.weight" : f32[3,1,3,3]
    %ws = weight "rbr_scale.conv.bnfold.weight" : f32[3,1,1,1]
    %bs = weight "rbr_scale.conv.bnfold.bias" : f32[3]
    %a = conv2d(%x, %wa) ${conv(1, { groups: 3 })} : f32[2,3,4,6]
    %b = conv2d(%x, %wb) ${conv(1, { groups: 3 })} : f32[2,3,4,6]
    %s = conv2d(%x, %ws, %bs) ${conv(0, { groups: 3 })} : f32[2,3,4,6]
    ${bnParams("skip", 3)}
    %k = batchnorm(%x, ${bn("skip")}) ${BN} : f32[2,3,4,6]
    %t1 = add(%s, %k) : f32[2,3,4,6]
    %t2 = add(%t1, %a) : f32[2,3,4,6]
    %t3 = add(%t2, %b) : f32[2,3,4,6]
    %r = relu(%t3) : f32[2,3,4,6]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "FastViT RepMixer: x + ls * (mixer(x) - norm(x)) is one depthwise conv", {
  intent: "a layer scale times a difference of branches, added to x: the nested sum and the " +
    "scale fold into the outer one; subtraction negates taps and bias",
  input: `graph "repmixer" {
    %x = input "x" : f32[1,4,3,5]
    %wm = weight "mixer.rbr_conv.0.conv.bnfold.weight" : f32[4,1,3,3]
    %bm = weight "mixer.rbr_conv.0.conv.bnfold.bias" : f32[4]
    %m = conv2d(%x, %wm, %bm) ${conv(1, { groups: 4 })} : f32[1,4,3,5]
    ${bnParams("mixer_skip", 4)}
    %ms = batchnorm(%x, ${bn("mixer_skip")}) ${BN} : f32[1,4,3,5]
    %mix = add(%m, %ms) : f32[1,4,3,5]
    ${bnParams("norm_skip", 4)}
    %n = batchnorm(%x, ${bn("norm_skip")}) ${BN} : f32[1,4,3,5]
    %d = sub(%mix, %n) : f32[1,4,3,5]
    %ls = weight "layer_scale" : f32[4,1,1]
    %sc = mul(%ls, %d) : f32[1,4,3,5]
    %y = add(%x, %sc) : f32[1,4,3,5]
    output "y" = %y
  }`,
});

snapshotCase(snap, pass, "a difference of convs merges with negated taps", {
  intent: "conv3x3(x) - conv1x1(x) - x: one conv, the second branch and the identity negated",
  input: `graph "difference" {
    %x = input "x" : f32[1,2,4,4]
    %wa = weight "wa" : f32[2,2,3,3]
    %ba = weight "ba" : f32[2]
    %wb = weight "wb" : f32[2,2,1,1]
    %bb = weight "bb" : f32[2]
    %a = conv2d(%x, %wa, %ba) ${conv(1)} : f32[1,2,4,4]
    %b = conv2d(%x, %wb, %bb) ${conv(0)} : f32[1,2,4,4]
    %d = sub(%a, %b) : f32[1,2,4,4]
    %e = sub(%d, %x) : f32[1,2,4,4]
    output "y" = %e
  }`,
});

snapshotCase(snap, pass, "an average pool is a depthwise conv with constant taps", {
  intent: "DBB with groups = C: BN(avgpool_3(x)) next to a depthwise 3x3 is one depthwise conv " +
    "(the pool counts its padding, so every tap is 1/9)",
  input: `graph "dbb-dw-avg" {
    %x = input "x" : f32[1,3,5,4]
    %w = weight "dbb_origin.conv.bnfold.weight" : f32[3,1,3,3]
    %o = conv2d(%x, %w) ${conv(1, { groups: 3 })} : f32[1,3,5,4]
    %p = avgpool(%x) ${pool(3, 1)} : f32[1,3,5,4]
    ${bnParams("avgbn", 3)}
    %a = batchnorm(%p, ${bn("avgbn")}) ${BN} : f32[1,3,5,4]
    %s = add(%o, %a) : f32[1,3,5,4]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "DBB's pooled branch: 1x1 conv padded by the BN's shift, then a pool", {
  intent: "dbb_avg after its BN folded: a 1x1 conv padded by 1 (its bias is the BN shift the " +
    "border receives), an unpadded 3x3 pool and avgbn compose into 3x3 taps and merge",
  input: `graph "dbb-avg" {
    %x = input "x" : f32[1,2,4,5]
    %w = weight "dbb_origin.conv.bnfold.weight" : f32[4,2,3,3]
    %b = weight "dbb_origin.conv.bnfold.bias" : f32[4]
    %o = conv2d(%x, %w, %b) ${conv(1)} : f32[1,4,4,5]
    %w1 = weight "dbb_avg.conv.bnfold.weight" : f32[4,2,1,1]
    %b1 = weight "dbb_avg.conv.bnfold.bias" : f32[4]
    %c1 = conv2d(%x, %w1, %b1) ${conv(1)} : f32[1,4,6,7]
    %p = avgpool(%c1) ${pool(3, 0)} : f32[1,4,4,5]
    ${bnParams("avgbn", 4)}
    %a = batchnorm(%p, ${bn("avgbn")}) ${BN} : f32[1,4,4,5]
    %s = add(%o, %a) : f32[1,4,4,5]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "uncentred kernels merge by tap offset", {
  intent:
    "a 2x2 kernel padded on one side reads offsets {0,1}; it takes those taps of a 3x3 window",
  input: `graph "uncentred" {
    %x = input "x" : f32[1,2,4,4]
    %wa = weight "wa" : f32[2,2,2,2]
    %wb = weight "wb" : f32[2,2,3,3]
    %a = conv2d(%x, %wa) {dilation=[1,1], groups=1, pads=[0,0,1,1], stride=[1,1]} : f32[1,2,4,4]
    %b = conv2d(%x, %wb) ${conv(1)} : f32[1,2,4,4]
    %s = add(%a, %b) : f32[1,2,4,4]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "negative: branches with different strides stay apart", {
  intent: "a stride-2 3x3 and a stride-3 1x1 conv on one input: equal shapes, but windows " +
    "that do not line up",
  unchanged: true,
  input: `graph "strides" {
    %x = input "x" : f32[1,2,4,4]
    %wa = weight "wa" : f32[2,2,3,3]
    %wc = weight "wc" : f32[2,2,1,1]
    %a = conv2d(%x, %wa) ${conv(1, { stride: 2 })} : f32[1,2,2,2]
    %c = conv2d(%x, %wc) ${conv(0, { stride: 3 })} : f32[1,2,2,2]
    %s = add(%a, %c) : f32[1,2,2,2]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "negative: a dense 1x1 and a depthwise 7x7 stay apart", {
  intent: "one dense 7x7 conv would cost far more than the two branches",
  unchanged: true,
  input: `graph "costly" {
    %x = input "x" : f32[1,8,8,8]
    %wa = weight "wa" : f32[8,8,1,1]
    %wb = weight "wb" : f32[8,1,7,7]
    %a = conv2d(%x, %wa) ${conv(0)} : f32[1,8,8,8]
    %b = conv2d(%x, %wb) ${conv(3, { groups: 8 })} : f32[1,8,8,8]
    %s = add(%a, %b) : f32[1,8,8,8]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "negative: a pool that leaves its padding out of the divisor stays", {
  intent: "with countIncludePad=false the border taps are 1/4 or 1/6, not 1/9: no conv",
  unchanged: true,
  input: `graph "exclusive-pool" {
    %x = input "x" : f32[1,2,4,4]
    %w = weight "w" : f32[2,1,3,3]
    %c = conv2d(%x, %w) ${conv(1, { groups: 2 })} : f32[1,2,4,4]
    %p = avgpool(%x) ${pool(3, 1, false)} : f32[1,2,4,4]
    %s = add(%c, %p) : f32[1,2,4,4]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "negative: a biased 1x1 before a zero-padded 3x3 does not compose", {
  intent: "BN(conv1x1(x)) folded, then a 3x3 padded with zeros: in one conv the border would " +
    "receive the bias; the chain stays, and the conv on x has no partner",
  unchanged: true,
  input: `graph "border" {
    %x = input "x" : f32[1,2,4,4]
    %w1 = weight "conv1.bnfold.weight" : f32[2,2,1,1]
    %b1 = weight "conv1.bnfold.bias" : f32[2]
    %c1 = conv2d(%x, %w1, %b1) ${conv(0)} : f32[1,2,4,4]
    %w2 = weight "conv2.weight" : f32[2,2,3,3]
    %c2 = conv2d(%c1, %w2) ${conv(1)} : f32[1,2,4,4]
    %w3 = weight "origin.weight" : f32[2,2,3,3]
    %c3 = conv2d(%x, %w3) ${conv(1)} : f32[1,2,4,4]
    %s = add(%c2, %c3) : f32[1,2,4,4]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "negative: a branch read elsewhere and branches on other inputs", {
  intent: "the 1x1 conv also feeds the output, and the 3x3 conv reads another tensor",
  unchanged: true,
  input: `graph "shared" {
    %x = input "x" : f32[1,2,3,3]
    %z = input "z" : f32[1,2,3,3]
    %wa = weight "wa" : f32[2,2,1,1]
    %wb = weight "wb" : f32[2,2,3,3]
    %wc = weight "wc" : f32[2,2,3,3]
    %a = conv2d(%x, %wa) ${conv(0)} : f32[1,2,3,3]
    %b = conv2d(%x, %wb) ${conv(1)} : f32[1,2,3,3]
    %c = conv2d(%z, %wc) ${conv(1)} : f32[1,2,3,3]
    %s = add(%a, %b) : f32[1,2,3,3]
    %t = add(%s, %c) : f32[1,2,3,3]
    output "y" = %t
    output "a" = %a
  }`,
});

snap.checkOrphans();
