// fold-batchnorm: BN folded into the layer before it or the layers after it, and where it must not be.
import { foldBatchnorm } from "../../compiler/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { snapshotCase } from "./_harness.ts";

const snap = snapshotFile(import.meta.url);
const pass = [foldBatchnorm];
const BN = "{axis=1, epsilon=0.00001}";
const id = (prefix: string) => prefix.replace(/\W/g, "_");
const bnParams = (prefix: string, c: number) => `
    %${id(prefix)}_g = weight "${prefix}.weight" : f32[${c}]
    %${id(prefix)}_b = weight "${prefix}.bias" : f32[${c}]
    %${id(prefix)}_m = weight "${prefix}.running_mean" : f32[${c}]
    %${id(prefix)}_v = weight "${prefix}.running_var" : f32[${c}]`;
const bn = (prefix: string) => ["g", "b", "m", "v"].map((p) => `%${id(prefix)}_${p}`).join(", ");

snapshotCase(snap, pass, "conv then BN becomes a conv with bias", {
  intent: "ResNet's conv+BN: W'[o] = s[o] W[o], b'[o] = t[o]",
  input: `graph "conv-bn" {
    %x = input "x" : f32[1,2,5,5]
    %w = weight "conv1.weight" : f32[3,2,3,3]
    %c = conv2d(%x, %w) {dilation=[1,1], groups=1, pads=[1,1,1,1], stride=[2,2]} : f32[1,3,3,3]
    ${bnParams("bn1", 3)}
    %y = batchnorm(%c, ${bn("bn1")}) ${BN} : f32[1,3,3,3]
    output "y" = %y
  }`,
});

snapshotCase(snap, pass, "BatchNorm1d(O*h*w) after fc3 folds per output", {
  intent: "v1's fc3_bn: one BN channel per FC output, the conv's bias-free weight gains a bias",
  input: `graph "fc3-bn" {
    %x = input "x" : f32[4,6]
    %w = weight "fc3.weight" : f32[8,3]
    %l = linear(%x, %w) {groups=2} : f32[4,8]
    ${bnParams("fc3_bn", 8)}
    %y = batchnorm(%l, ${bn("fc3_bn")}) ${BN} : f32[4,8]
    output "y" = %y
  }`,
});

snapshotCase(snap, pass, "BatchNorm2d(S) over (-1,S,h,w) covers blocks of FC outputs", {
  intent: "RepMLPNet's fc3_bn: each of S=2 channels covers the h*w=4 outputs of one share-set",
  input: `graph "shareset-bn" {
    %x = input "x" : f32[3,8]
    %w = weight "fc3.weight" : f32[8,4]
    %l = linear(%x, %w) {groups=2} : f32[3,8]
    %r = reshape(%l) {shape=[3,2,2,2]} : f32[3,2,2,2]
    ${bnParams("fc3_bn", 2)}
    %y = batchnorm(%r, ${bn("fc3_bn")}) ${BN} : f32[3,2,2,2]
    %z = reshape(%y) {shape=[1,3,2,2,2]} : f32[1,3,2,2,2]
    output "y" = %z
  }`,
});

snapshotCase(snap, pass, "BN between avgpool and fc1 folds into fc1", {
  intent: "v1's global perceptron: avg -> bn -> view -> fc1; BN channel c covers fc1 inputs " +
    "[c*hp*wp, (c+1)*hp*wp)",
  input: `graph "gp" {
    %x = input "x" : f32[1,2,4,4]
    %a = avgpool(%x) {countIncludePad=true, kernel=[2,2], pads=[0,0,0,0], stride=[2,2]} : f32[1,2,2,2]
    ${bnParams("avg.bn", 2)}
    %n = batchnorm(%a, ${bn("avg.bn")}) ${BN} : f32[1,2,2,2]
    %f = reshape(%n) {shape=[1,8]} : f32[1,8]
    %w = weight "fc1_fc2.fc1.weight" : f32[4,8]
    %b = weight "fc1_fc2.fc1.bias" : f32[4]
    %l = linear(%f, %w, %b) {groups=1} : f32[1,4]
    %r = relu(%l) : f32[1,4]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "BN before a 1x1 conv folds into it", {
  intent: "RepMLPNet's prebn2 -> ffn_fc1: W' = W diag(s), b' = W t",
  input: `graph "prebn2" {
    %x = input "x" : f32[1,2,3,3]
    ${bnParams("prebn2", 2)}
    %n = batchnorm(%x, ${bn("prebn2")}) ${BN} : f32[1,2,3,3]
    %w = weight "ffn_fc1.conv.weight" : f32[4,2,1,1]
    %c = conv2d(%n, %w) {dilation=[1,1], groups=1, pads=[0,0,0,0], stride=[1,1]} : f32[1,4,3,3]
    %r = gelu(%c) : f32[1,4,3,3]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "BN before a global pool and the head folds into the head", {
  intent: "RepMLPNet's head_norm -> global average pool -> view -> head",
  input: `graph "head" {
    %x = input "x" : f32[2,3,2,2]
    ${bnParams("head_norm", 3)}
    %n = batchnorm(%x, ${bn("head_norm")}) ${BN} : f32[2,3,2,2]
    %p = global_avgpool(%n) : f32[2,3,1,1]
    %f = reshape(%p) {shape=[2,3]} : f32[2,3]
    %w = weight "head.weight" : f32[5,3]
    %b = weight "head.bias" : f32[5]
    %l = linear(%f, %w, %b) {groups=1} : f32[2,5]
    output "y" = %l
  }`,
});

snapshotCase(snap, pass, "BNs on both sides of a conv fold into the same conv", {
  intent: "bn -> unpadded conv -> bn: the forward and the backward fold compose, names stay short",
  input: `graph "both" {
    %x = input "x" : f32[1,2,4,4]
    ${bnParams("pre", 2)}
    %n = batchnorm(%x, ${bn("pre")}) ${BN} : f32[1,2,4,4]
    %w = weight "conv.weight" : f32[3,2,2,2]
    %c = conv2d(%n, %w) {dilation=[1,1], groups=1, pads=[0,0,0,0], stride=[2,2]} : f32[1,3,2,2]
    ${bnParams("post", 3)}
    %y = batchnorm(%c, ${bn("post")}) ${BN} : f32[1,3,2,2]
    output "y" = %y
  }`,
});

const partitioned = (c: number, s: number) =>
  `graph "prebn1 C=${c} S=${s}" {
    %x = input "x" : f32[1,${c},4,2]
    ${bnParams("prebn1", c)}
    %n = batchnorm(%x, ${bn("prebn1")}) ${BN} : f32[1,${c},4,2]
    %g = global_avgpool(%n) : f32[1,${c},1,1]
    %gv = reshape(%g) {shape=[1,${c}]} : f32[1,${c}]
    %gw = weight "gp.fc1.weight" : f32[1,${c}]
    %gl = linear(%gv, %gw) {groups=1} : f32[1,1]
    %p = reshape(%n) {shape=[1,${c},2,2,1,2]} : f32[1,${c},2,2,1,2]
    %t = transpose(%p) {perm=[0,2,4,1,3,5]} : f32[1,2,1,${c},2,2]
    %rows = reshape(%t) {shape=[${(2 * c) / s},${s * 4}]} : f32[${(2 * c) / s},${s * 4}]
    %w = weight "fc3.weight" : f32[${s * 4},4]
    %l = linear(%rows, %w) {groups=${s}} : f32[${(2 * c) / s},${s * 4}]
    output "y" = %l
    output "g" = %gl
  }`;

snapshotCase(snap, pass, "BN before a partition folds into fc3 when every row holds all channels", {
  intent: "RepMLPNet with C == S = 2: prebn1 passes the partition transpose into fc3 and the " +
    "global pool into gp.fc1",
  input: partitioned(2, 2),
});

snapshotCase(snap, pass, "negative: BN before share-set rows that mix channels stays", {
  intent: "C = 4, S = 2: rows of the shared FC hold different channels, whose scales differ",
  unchanged: true,
  input: partitioned(4, 2),
});

snapshotCase(snap, pass, "negative: BN before a zero-padded 3x3 conv stays", {
  intent: "the padded border would receive 0 instead of the shift t",
  unchanged: true,
  input: `graph "padded" {
    %x = input "x" : f32[1,2,4,4]
    ${bnParams("bn", 2)}
    %n = batchnorm(%x, ${bn("bn")}) ${BN} : f32[1,2,4,4]
    %w = weight "conv.weight" : f32[2,2,3,3]
    %c = conv2d(%n, %w) {dilation=[1,1], groups=1, pads=[1,1,1,1], stride=[1,1]} : f32[1,2,4,4]
    %r = add(%x, %c) : f32[1,2,4,4]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "negative: a scale never crosses a ReLU", {
  intent: "conv -> relu -> bn -> relu -> linear: neither neighbour can take the BN",
  unchanged: true,
  input: `graph "relu" {
    %x = input "x" : f32[1,2,2,2]
    %w = weight "conv.weight" : f32[2,2,1,1]
    %c = conv2d(%x, %w) {dilation=[1,1], groups=1, pads=[0,0,0,0], stride=[1,1]} : f32[1,2,2,2]
    %r = relu(%c) : f32[1,2,2,2]
    ${bnParams("bn", 2)}
    %n = batchnorm(%r, ${bn("bn")}) ${BN} : f32[1,2,2,2]
    %s = relu(%n) : f32[1,2,2,2]
    %f = reshape(%s) {shape=[1,8]} : f32[1,8]
    %lw = weight "fc.weight" : f32[3,8]
    %l = linear(%f, %lw) {groups=1} : f32[1,3]
    output "y" = %l
  }`,
});

snapshotCase(snap, pass, "negative: a conv read by two nodes keeps its weights", {
  intent: "folding into the conv would change its other reader, the residual add",
  unchanged: true,
  input: `graph "shared" {
    %x = input "x" : f32[1,2,2,2]
    %w = weight "conv.weight" : f32[2,2,3,3]
    %c = conv2d(%x, %w) {dilation=[1,1], groups=1, pads=[1,1,1,1], stride=[1,1]} : f32[1,2,2,2]
    ${bnParams("bn", 2)}
    %n = batchnorm(%c, ${bn("bn")}) ${BN} : f32[1,2,2,2]
    %r = add(%c, %n) : f32[1,2,2,2]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "negative: a BN channel spanning FC rows stays", {
  intent: "BatchNorm1d over (N, C, L) after a linear over L: the channel changes along rows, " +
    "which share one weight",
  unchanged: true,
  input: `graph "rows" {
    %x = input "x" : f32[2,3,4]
    %w = weight "fc.weight" : f32[5,4]
    %l = linear(%x, %w) {groups=1} : f32[2,3,5]
    ${bnParams("bn", 3)}
    %n = batchnorm(%l, ${bn("bn")}) ${BN} : f32[2,3,5]
    %r = relu(%n) : f32[2,3,5]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "negative: a padded average pool counting zeros blocks the fold", {
  intent: "avgpool with count_include_pad averages zeros at the border, not the shift",
  unchanged: true,
  input: `graph "padded pool" {
    %x = input "x" : f32[1,2,4,4]
    ${bnParams("bn", 2)}
    %n = batchnorm(%x, ${bn("bn")}) ${BN} : f32[1,2,4,4]
    %a = avgpool(%n) {countIncludePad=true, kernel=[3,3], pads=[1,1,1,1], stride=[2,2]} : f32[1,2,2,2]
    %f = reshape(%a) {shape=[1,8]} : f32[1,8]
    %w = weight "fc.weight" : f32[3,8]
    %l = linear(%f, %w) {groups=1} : f32[1,3]
    output "y" = %l
  }`,
});

snap.checkOrphans();
