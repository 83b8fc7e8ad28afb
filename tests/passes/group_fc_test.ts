// group-fc: parallel FCs merged, FCs in their most compact grouped form, share-sets as GEMM rows.
import { groupFc } from "../../compiler/mod.ts";
import { hashString, uniform } from "../../ir/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { snapshotCase } from "./_harness.ts";

const snap = snapshotFile(import.meta.url);
const pass = [groupFc];

/** Seeded values with every entry outside `groups` diagonal blocks of a [rows, cols] weight zeroed. */
function blockDiagonal(
  name: string,
  [rows, cols]: readonly number[],
  groups: number,
): Float32Array {
  const data = uniform(rows * cols, hashString(name));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const inBlock = Math.floor(r / (rows / groups)) === Math.floor(c / (cols / groups));
      if (!inBlock) data[r * cols + c] = 0;
    }
  }
  return data;
}

/** Seeded values for the first `period` of `groups` blocks, repeated. */
function repeated(name: string, shape: readonly number[], groups: number, period: number) {
  const size = shape.reduce((a, d) => a * d, 1), block = size / groups;
  const first = uniform(block * period, hashString(name));
  return Float32Array.from({ length: size }, (_, i) => first[i % (block * period)]);
}

snapshotCase(snap, pass, "summed FCs on views of the same rows become one FC", {
  intent: "W1 x + W2 x' where x' is x viewed again: one FC with W1 + W2, gcd(2, 1) = 1 group",
  input: `graph "sum" {
    %x = input "x" : f32[2,2,4]
    %a = reshape(%x) {shape=[4,4]} : f32[4,4]
    %b = reshape(%x) {shape=[4,4]} : f32[4,4]
    %w1 = weight "fc1.weight" : f32[4,2]
    %b1 = weight "fc1.bias" : f32[4]
    %w2 = weight "fc2.weight" : f32[4,4]
    %l1 = linear(%a, %w1, %b1) {groups=2} : f32[4,4]
    %l2 = linear(%b, %w2) {groups=1} : f32[4,4]
    %s = add(%l1, %l2) : f32[4,4]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "concatenated FCs on one input become one FC", {
  intent: "concat(W1 x, W2 x) on the feature axis is [W1; W2] x",
  input: `graph "concat" {
    %x = input "x" : f32[3,4]
    %w1 = weight "q.weight" : f32[2,4]
    %w2 = weight "k.weight" : f32[5,4]
    %b2 = weight "k.bias" : f32[5]
    %l1 = linear(%x, %w1) {groups=1} : f32[3,2]
    %l2 = linear(%x, %w2, %b2) {groups=1} : f32[3,5]
    %c = concat(%l1, %l2) {axis=1} : f32[3,7]
    output "y" = %c
  }`,
});

snapshotCase(snap, pass, "a block-diagonal dense FC becomes a grouped FC", {
  intent: "an exporter wrote a grouped FC as a dense MatMul; zeros off 2 diagonal blocks go",
  input: `graph "block diagonal" {
    %x = input "x" : f32[2,6]
    %w = weight "fc.weight" : f32[4,6]
    %l = linear(%x, %w) {groups=1} : f32[2,4]
    output "y" = %l
  }`,
  weights: (name, shape) => blockDiagonal(name, shape, 2),
});

snapshotCase(snap, pass, "repeated blocks become share-sets served as extra rows", {
  intent:
    "groups 4 whose blocks repeat with period S=2: one FC with 2 groups over twice the rows, " +
    "no weight copied per channel",
  input: `graph "sharesets" {
    %x = input "x" : f32[3,12]
    %w = weight "fc3.weight" : f32[8,3]
    %b = weight "fc3.bias" : f32[8]
    %l = linear(%x, %w, %b) {groups=4} : f32[3,8]
    output "y" = %l
  }`,
  weights: (name, shape) => repeated(name, shape, 4, 2),
});

snapshotCase(snap, pass, "negative: dense FCs, FCs on other rows, grouped concats stay", {
  intent: "a dense weight has no finer groups; summed FCs read different tensors; " +
    "concatenated grouped FCs are no single grouped FC",
  unchanged: true,
  input: `graph "dense" {
    %x = input "x" : f32[2,4]
    %z = input "z" : f32[2,4]
    %w1 = weight "fc1.weight" : f32[4,4]
    %w2 = weight "fc2.weight" : f32[4,4]
    %w3 = weight "fc3.weight" : f32[4,2]
    %l1 = linear(%x, %w1) {groups=1} : f32[2,4]
    %l2 = linear(%z, %w2) {groups=1} : f32[2,4]
    %l3 = linear(%x, %w3) {groups=2} : f32[2,4]
    %s = add(%l1, %l2) : f32[2,4]
    %c = concat(%s, %l3) {axis=1} : f32[2,8]
    output "y" = %c
  }`,
});

snap.checkOrphans();
