// merge-parallel-convs: summed conv branches on one input become one conv; what must stay apart.
import { mergeParallelConvs } from "../../compiler/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { snapshotCase } from "./_harness.ts";

const snap = snapshotFile(import.meta.url);
const pass = [mergeParallelConvs];
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

snapshotCase(snap, pass, "negative: uncentred padding stays apart", {
  intent: "a 2x2 kernel padded on one side cannot be centred in a 3x3 window",
  unchanged: true,
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
