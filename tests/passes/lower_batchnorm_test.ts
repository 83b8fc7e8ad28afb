// lower-batchnorm: what no layer absorbed becomes a per-channel multiply and add.
import { lowerBatchnorm } from "../../compiler/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { snapshotCase } from "./_harness.ts";

const snap = snapshotFile(import.meta.url);
const pass = [lowerBatchnorm];

snapshotCase(snap, pass, "an unabsorbed NCHW BN becomes x * scale + shift", {
  intent: "RepMLPNet's prebn1 after relu, feeding the residual stream: scale and shift are " +
    "[C,1,1] so they broadcast over H and W",
  input: `graph "prebn1" {
    %x = input "x" : f32[1,3,2,2]
    %r = relu(%x) : f32[1,3,2,2]
    %g = weight "prebn1.weight" : f32[3]
    %b = weight "prebn1.bias" : f32[3]
    %m = weight "prebn1.running_mean" : f32[3]
    %v = weight "prebn1.running_var" : f32[3]
    %n = batchnorm(%r, %g, %b, %m, %v) {axis=1, epsilon=0.001} : f32[1,3,2,2]
    %s = add(%x, %n) : f32[1,3,2,2]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "a BN on the last axis gets flat scale and shift", {
  intent: "BatchNorm1d on (N, F): scale and shift are [F]",
  input: `graph "bn1d" {
    %x = input "x" : f32[2,4]
    %g = weight "bn.weight" : f32[4]
    %b = weight "bn.bias" : f32[4]
    %m = weight "bn.running_mean" : f32[4]
    %v = weight "bn.running_var" : f32[4]
    %n = batchnorm(%x, %g, %b, %m, %v) {axis=1, epsilon=0.00001} : f32[2,4]
    output "y" = %n
  }`,
});

snapshotCase(snap, pass, "negative: a BN with computed statistics stays", {
  intent: "the running variance is computed (relu of a weight): there is no constant scale",
  unchanged: true,
  input: `graph "computed" {
    %x = input "x" : f32[2,2]
    %g = weight "bn.weight" : f32[2]
    %b = weight "bn.bias" : f32[2]
    %m = weight "bn.running_mean" : f32[2]
    %v = weight "bn.running_var" : f32[2]
    %vr = relu(%v) : f32[2]
    %n = batchnorm(%x, %g, %b, %m, %vr) {axis=1, epsilon=0.00001} : f32[2,2]
    output "y" = %n
  }`,
});

snap.checkOrphans();
