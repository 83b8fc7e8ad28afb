// conv-into-fc: a conv on the FC's partitions, summed with it, becomes part of the FC's weight.
import assert from "node:assert/strict";
import { convIntoFc } from "../../compiler/mod.ts";
import { GraphBuilder, interpret, uniform } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { snapshotFile } from "../_snapshot.ts";
import { run, snapshotCase } from "./_harness.ts";

const snap = snapshotFile(import.meta.url);
const pass = [convIntoFc];
const conv = (pads: number, groups = 1) =>
  `{dilation=[1,1], groups=${groups}, pads=[${pads},${pads},${pads},${pads}], stride=[1,1]}`;

snapshotCase(snap, pass, "v1: C != O, h != w, the merged 3x3 conv joins fc3", {
  intent: "partitions (N,hp,wp,C,h,w) = (1,2,1,2,2,3): the FC reads rows of C*h*w, " +
    "the conv reads images (C,h,w) of the same rows; O=3",
  input: `graph "v1" {
    %t = input "t" : f32[1,2,1,2,2,3]
    %rows = reshape(%t) {shape=[2,12]} : f32[2,12]
    %w = weight "fc3.bnfold.weight" : f32[18,12]
    %b = weight "fc3.bnfold.bias" : f32[18]
    %fc = linear(%rows, %w, %b) {groups=1} : f32[2,18]
    %fv = reshape(%fc) {shape=[1,2,1,3,2,3]} : f32[1,2,1,3,2,3]
    %images = reshape(%t) {shape=[2,2,2,3]} : f32[2,2,2,3]
    %k = weight "repconv3.conv.merged.weight" : f32[3,2,3,3]
    %kb = weight "repconv3.conv.merged.bias" : f32[3]
    %c = conv2d(%images, %k, %kb) ${conv(1)} : f32[2,3,2,3]
    %cv = reshape(%c) {shape=[1,2,1,3,2,3]} : f32[1,2,1,3,2,3]
    %s = add(%fv, %cv) : f32[1,2,1,3,2,3]
    %o = transpose(%s) {perm=[0,3,1,4,2,5]} : f32[1,3,2,2,1,3]
    output "y" = %o
  }`,
});

snapshotCase(snap, pass, "RepMLPNet: a depthwise conv over share-sets joins the grouped FC", {
  intent: "S=2 share-sets of 2x2 positions; the conv has groups S like the FC, so groups stay 2",
  input: `graph "v2" {
    %t = input "t" : f32[1,1,1,4,2,2]
    %rows = reshape(%t) {shape=[2,8]} : f32[2,8]
    %w = weight "fc3.bnfold.weight" : f32[8,4]
    %b = weight "fc3.bnfold.bias" : f32[8]
    %fc = linear(%rows, %w, %b) {groups=2} : f32[2,8]
    %fv = reshape(%fc) {shape=[2,2,2,2]} : f32[2,2,2,2]
    %images = reshape(%t) {shape=[2,2,2,2]} : f32[2,2,2,2]
    %k = weight "repconv.merged.weight" : f32[2,1,3,3]
    %c = conv2d(%images, %k) ${conv(1, 2)} : f32[2,2,2,2]
    %s = add(%c, %fv) : f32[2,2,2,2]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "a conv with fewer groups than the FC widens the FC's blocks", {
  intent: "FC groups 2, conv groups 1: the merged FC has gcd = 1 group",
  input: `graph "regroup" {
    %x = input "x" : f32[3,2,2,2]
    %rows = reshape(%x) {shape=[3,8]} : f32[3,8]
    %w = weight "fc.weight" : f32[8,4]
    %fc = linear(%rows, %w) {groups=2} : f32[3,8]
    %k = weight "k" : f32[2,2,1,1]
    %c = conv2d(%x, %k) ${conv(0)} : f32[3,2,2,2]
    %cv = reshape(%c) {shape=[3,8]} : f32[3,8]
    %s = add(%fc, %cv) : f32[3,8]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "negative: a conv whose input is not a partition", {
  intent: "the conv sees one image of 4 channels where the FC sees 2 rows of 2 channels",
  unchanged: true,
  input: `graph "not a partition" {
    %x = input "x" : f32[2,2,2,2]
    %rows = reshape(%x) {shape=[2,8]} : f32[2,8]
    %w = weight "fc.weight" : f32[8,8]
    %fc = linear(%rows, %w) {groups=1} : f32[2,8]
    %image = reshape(%x) {shape=[1,4,2,2]} : f32[1,4,2,2]
    %k = weight "k" : f32[4,4,3,3]
    %c = conv2d(%image, %k) ${conv(1)} : f32[1,4,2,2]
    %cv = reshape(%c) {shape=[2,8]} : f32[2,8]
    %s = add(%fc, %cv) : f32[2,8]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "negative: a conv on another tensor, and an FC behind a transpose", {
  intent: "the conv reads z, not the FC's x; a second conv meets the FC only after the " +
    "un-partition transpose",
  unchanged: true,
  input: `graph "elsewhere" {
    %x = input "x" : f32[2,2,2,2]
    %z = input "z" : f32[2,2,2,2]
    %rows = reshape(%x) {shape=[2,8]} : f32[2,8]
    %w = weight "fc.weight" : f32[8,8]
    %fc = linear(%rows, %w) {groups=1} : f32[2,8]
    %k = weight "k" : f32[2,2,3,3]
    %c = conv2d(%z, %k) ${conv(1)} : f32[2,2,2,2]
    %cv = reshape(%c) {shape=[2,8]} : f32[2,8]
    %s = add(%fc, %cv) : f32[2,8]
    %w2 = weight "fc2.weight" : f32[8,8]
    %fc2 = linear(%rows, %w2) {groups=1} : f32[2,8]
    %parts = reshape(%fc2) {shape=[2,2,2,2]} : f32[2,2,2,2]
    %whole = transpose(%parts) {perm=[1,0,2,3]} : f32[2,2,2,2]
    %k2 = weight "k2" : f32[2,2,3,3]
    %c2 = conv2d(%x, %k2) ${conv(1)} : f32[2,2,2,2]
    %t = add(%whole, %c2) : f32[2,2,2,2]
    output "y" = %s
    output "z" = %t
  }`,
});

Deno.test("the injected matrix equals the conv, tap by tap, for every geometry", () => {
  // An FC of zeros plus a conv: after injection the FC alone must compute the conv.
  const cases = [
    { c: 2, o: 3, h: 3, w: 2, k: 3, groups: 1, stride: 1, pad: 1, dilation: 1 },
    { c: 4, o: 6, h: 2, w: 5, k: 5, groups: 2, stride: 1, pad: 2, dilation: 1 },
    { c: 3, o: 3, h: 4, w: 4, k: 3, groups: 3, stride: 2, pad: 1, dilation: 1 },
    { c: 2, o: 2, h: 5, w: 3, k: 3, groups: 1, stride: 1, pad: 2, dilation: 2 },
  ];
  for (const [i, g] of cases.entries()) {
    const b = new GraphBuilder(`geometry ${i}`);
    const x = b.input("x", [2, g.c, g.h, g.w]);
    const kernel = b.weight(
      "k",
      [g.o, g.c / g.groups, g.k, g.k],
      uniform(g.o * (g.c / g.groups) * g.k * g.k, i),
    );
    const bias = b.weight("kb", [g.o], uniform(g.o, 50 + i));
    const conv = b.conv2d(x, kernel, bias, {
      stride: g.stride,
      padding: g.pad,
      dilation: g.dilation,
      groups: g.groups,
    });
    const [, , oh, ow] = conv.type.shape;
    const rows = b.reshape(x, [2, g.c * g.h * g.w]);
    const fc = b.linear(
      rows,
      b.weight(
        "fc",
        [g.o * oh * ow, g.c * g.h * g.w],
        new Float32Array(g.o * oh * ow * g.c * g.h * g.w),
      ),
    );
    b.output("y", b.add(fc, b.reshape(conv, [2, g.o * oh * ow])));
    const before = b.build();
    const after = run(before, pass).graph;
    assert.equal(after.outputs[0].node.op, "linear", `case ${i} was not injected`);
    const feeds = { x: uniform(2 * g.c * g.h * g.w, 99 + i) };
    assertClose(interpret(after, feeds).y, interpret(before, feeds).y, 1e-6, `case ${i}`);
  }
});

snap.checkOrphans();
