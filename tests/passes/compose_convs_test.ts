// compose-convs: a conv or pool reading a conv becomes one conv when exact and no costlier;
// the border cases it must refuse, and the chains whose published form keeps two convs.
import { composeConvs } from "../../compiler/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { snapshotCase } from "./_harness.ts";

const snap = snapshotFile(import.meta.url);
const pass = [composeConvs];
const conv = (
  pads: number | [number, number, number, number],
  options: { groups?: number; stride?: number; dilation?: number } = {},
) => {
  const p = typeof pads === "number" ? [pads, pads, pads, pads] : pads;
  const s = options.stride ?? 1, d = options.dilation ?? 1;
  return `{dilation=[${d},${d}], groups=${options.groups ?? 1}, pads=[${p}], stride=[${s},${s}]}`;
};

snapshotCase(
  snap,
  pass,
  "DBB's 1x1 -> BN -> kxk: a 1x1 padded by the shift, then an unpadded 3x3",
  {
    intent: "dbb_1x1_kxk with its BNs folded: the 1x1 conv pads by 1, so its border is its bias " +
      "(BNAndPad's shift); the unpadded 3x3 reads it all, and the pair is one padded 3x3 conv",
    input: `graph "dbb-1x1-kxk" {
    %x = input "x" : f32[2,3,5,4]
    %w1 = weight "dbb_1x1_kxk.idconv1.bnfold.weight" : f32[3,3,1,1]
    %b1 = weight "dbb_1x1_kxk.idconv1.bnfold.bias" : f32[3]
    %c1 = conv2d(%x, %w1, %b1) ${conv(1)} : f32[2,3,7,6]
    %w2 = weight "dbb_1x1_kxk.conv2.bnfold.weight" : f32[4,3,3,3]
    %b2 = weight "dbb_1x1_kxk.conv2.bnfold.bias" : f32[4]
    %c2 = conv2d(%c1, %w2, %b2) ${conv(0, { stride: 2 })} : f32[2,4,3,2]
    output "y" = %c2
  }`,
  },
);

snapshotCase(snap, pass, "grouped chain: DBB's internal 2C channels with groups = C", {
  intent: "a 1x1 conv C -> 2C in C groups, then a 3x3 conv 2C -> C in C groups: one depthwise 3x3",
  input: `graph "dbb-depthwise" {
    %x = input "x" : f32[1,4,5,5]
    %w1 = weight "conv1.weight" : f32[8,1,1,1]
    %b1 = weight "conv1.bias" : f32[8]
    %c1 = conv2d(%x, %w1, %b1) ${conv(1, { groups: 4 })} : f32[1,8,7,7]
    %w2 = weight "conv2.weight" : f32[4,2,3,3]
    %c2 = conv2d(%c1, %w2) ${conv(0, { groups: 4 })} : f32[1,4,5,5]
    output "y" = %c2
  }`,
});

snapshotCase(snap, pass, "kxk then 1x1: a 3x3 followed by a pointwise conv", {
  intent: "the 1x1 conv mixes the 3x3 conv's channels; its bias and the 3x3's bias combine",
  input: `graph "kxk-1x1" {
    %x = input "x" : f32[1,2,6,5]
    %wa = weight "a.weight" : f32[2,2,3,3]
    %ba = weight "a.bias" : f32[2]
    %a = conv2d(%x, %wa, %ba) ${conv(1)} : f32[1,2,6,5]
    %wb = weight "b.weight" : f32[3,2,1,1]
    %bb = weight "b.bias" : f32[3]
    %b = conv2d(%a, %wb, %bb) ${conv(0)} : f32[1,3,6,5]
    output "y" = %b
  }`,
});

snapshotCase(snap, pass, "a pool after a conv, and dilated kernels in a chain", {
  intent: "avgpool_2(conv 1x2 dilated) composes; anisotropic kernels keep their own extents",
  input: `graph "pool-chain" {
    %x = input "x" : f32[1,1,6,7]
    %wa = weight "a.weight" : f32[1,1,1,2]
    %a = conv2d(%x, %wa) {dilation=[1,2], groups=1, pads=[0,0,0,0], stride=[1,1]} : f32[1,1,6,5]
    %p = avgpool(%a) {countIncludePad=true, kernel=[2,2], pads=[0,0,0,0], stride=[1,1]} : f32[1,1,5,4]
    output "y" = %p
  }`,
});

snapshotCase(snap, pass, "a strided 1x1 then a 3x3: the 3x3's taps step over the subsampled grid", {
  intent: "stride 2 then an unpadded 3x3: one 3x3 conv with dilation 2 and stride 2",
  input: `graph "strided" {
    %x = input "x" : f32[1,2,6,6]
    %wa = weight "a.weight" : f32[2,2,1,1]
    %a = conv2d(%x, %wa) ${conv(0, { stride: 2 })} : f32[1,2,3,3]
    %wb = weight "b.weight" : f32[2,2,3,3]
    %b = conv2d(%a, %wb) ${conv(0)} : f32[1,2,1,1]
    output "y" = %b
  }`,
});

snapshotCase(snap, pass, "negative: a zero-padded 3x3 after a biased 1x1", {
  intent: "1x1 -> BN -> 3x3 padded with zeros (not DBB's BNAndPad): one conv would give the " +
    "border the BN's shift",
  unchanged: true,
  input: `graph "zero-border" {
    %x = input "x" : f32[1,2,4,4]
    %wa = weight "a.bnfold.weight" : f32[2,2,1,1]
    %ba = weight "a.bnfold.bias" : f32[2]
    %a = conv2d(%x, %wa, %ba) ${conv(0)} : f32[1,2,4,4]
    %wb = weight "b.weight" : f32[2,2,3,3]
    %b = conv2d(%a, %wb) ${conv(1)} : f32[1,2,4,4]
    output "y" = %b
  }`,
});

snapshotCase(snap, pass, "negative: a zero-padded 3x3 after a 3x3", {
  intent: "the second conv pads the first's output with zeros, where one conv would see " +
    "the first conv evaluated past the border",
  unchanged: true,
  input: `graph "padded-pair" {
    %x = input "x" : f32[1,1,4,4]
    %wa = weight "a.weight" : f32[1,1,3,3]
    %a = conv2d(%x, %wa) ${conv(1)} : f32[1,1,4,4]
    %wb = weight "b.weight" : f32[1,1,3,3]
    %b = conv2d(%a, %wb) ${conv(1)} : f32[1,1,4,4]
    output "y" = %b
  }`,
});

snapshotCase(snap, pass, "negative: depthwise 3x3 then pointwise 1x1 stays two convs", {
  intent: "RepViT's stride-2 token mixer and RepGhost's shortcut: one dense 3x3 would cost " +
    "far more",
  unchanged: true,
  input: `graph "dw-pw" {
    %x = input "x" : f32[1,8,8,8]
    %wa = weight "dw.weight" : f32[8,1,3,3]
    %a = conv2d(%x, %wa) ${conv(1, { groups: 8, stride: 2 })} : f32[1,8,4,4]
    %wb = weight "pw.weight" : f32[16,8,1,1]
    %b = conv2d(%a, %wb) ${conv(0)} : f32[1,16,4,4]
    output "y" = %b
  }`,
});

snap.checkOrphans();
