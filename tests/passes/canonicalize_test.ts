// canonicalize: IR in, IR out, one line of intent per case, and the cases it must leave alone.
import assert from "node:assert/strict";
import { canonicalize } from "../../compiler/mod.ts";
import { parseGraph, printGraph } from "../../ir/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { run, snapshotCase } from "./_harness.ts";

const snap = snapshotFile(import.meta.url);
const pass = [canonicalize];

snapshotCase(snap, pass, "pointwise conv over (N',K,1,1) becomes a grouped linear", {
  intent: "v1's fc3 as PyTorch writes it: a grouped 1x1 conv over (N', C*h*w, 1, 1); " +
    "the reshapes around it merge",
  input: `graph "fc3" {
    %x = input "x" : f32[2,3,2,2]
    %p = reshape(%x) {shape=[-1,12,1,1]} : f32[2,12,1,1]
    %w = weight "fc3.weight" : f32[8,6,1,1]
    %c = conv2d(%p, %w) {dilation=[1,1], groups=2, pads=[0,0,0,0], stride=[1,1]} : f32[2,8,1,1]
    %r = reshape(%c) {shape=[-1,8]} : f32[2,8]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "weight-only subgraphs fold to one weight", {
  intent: "an exported MatMul reads a transposed initializer: the transpose is evaluated once",
  input: `graph "const" {
    %x = input "x" : f32[2,3]
    %w = weight "head.weight" : f32[3,4]
    %t = transpose(%w) {perm=[1,0]} : f32[4,3]
    %y = linear(%x, %t) {groups=1} : f32[2,4]
    output "y" = %y
  }`,
});

snapshotCase(snap, pass, "transposes compose and identities vanish", {
  intent: "transpose(transpose(x)) is one transpose; when it is the identity, it disappears",
  input: `graph "perm" {
    %x = input "x" : f32[2,3,4]
    %a = transpose(%x) {perm=[1,2,0]} : f32[3,4,2]
    %b = transpose(%a) {perm=[2,0,1]} : f32[2,3,4]
    %c = transpose(%b) {perm=[0,2,1]} : f32[2,4,3]
    %d = transpose(%c) {perm=[1,0,2]} : f32[4,2,3]
    output "y" = %d
  }`,
});

snapshotCase(snap, pass, "a permute of unit axes is a reshape", {
  intent: "with one partition (H=h, W=w) v1's partition permute only moves unit axes",
  input: `graph "one partition" {
    %x = input "x" : f32[1,4,3,3]
    %a = reshape(%x) {shape=[-1,4,1,3,1,3]} : f32[1,4,1,3,1,3]
    %b = transpose(%a) {perm=[0,2,4,1,3,5]} : f32[1,1,1,4,3,3]
    %c = reshape(%b) {shape=[-1,4,3,3]} : f32[1,4,3,3]
    %d = relu(%c) : f32[1,4,3,3]
    output "y" = %d
  }`,
});

snapshotCase(snap, pass, "flatten is a reshape", {
  intent: "flatten(x, 1) is written as the reshape it is",
  input: `graph "flatten" {
    %x = input "x" : f32[2,3,2,2]
    %f = flatten(%x) {axis=1} : f32[2,12]
    %r = relu(%f) : f32[2,12]
    output "y" = %r
  }`,
});

snapshotCase(snap, pass, "adding a zero constant is dropped", {
  intent: "the traced 'out = 0; out += branch' leaves x + 0 (and x * 1), which are x",
  input: `graph "neutral" {
    %x = input "x" : f32[1,2,3]
    %zero = weight "zero" : f32[1]
    %one = weight "one" : f32[1]
    %a = add(%zero, %x) : f32[1,2,3]
    %m = mul(%a, %one) : f32[1,2,3]
    %r = relu(%m) : f32[1,2,3]
    output "y" = %r
  }`,
  weights: (name, shape) => new Float32Array(shape[0]).fill(name === "one" ? 1 : 0),
});

snapshotCase(snap, pass, "duplicate and dead nodes go", {
  intent: "two equal relus become one (CSE); the unread sigmoid is not part of the graph (DCE)",
  input: `graph "cse" {
    %x = input "x" : f32[4]
    %a = relu(%x) : f32[4]
    %b = relu(%x) : f32[4]
    %dead = sigmoid(%x) : f32[4]
    %s = add(%a, %b) : f32[4]
    output "y" = %s
  }`,
});

snapshotCase(snap, pass, "views move past unary ops and cancel", {
  intent: "RepMLPNet's gp: linear -> view (N,C,1,1) -> relu -> view (N,C) is linear -> relu",
  input: `graph "gp" {
    %x = input "x" : f32[2,4]
    %w = weight "gp.fc1.weight" : f32[2,4]
    %l = linear(%x, %w) {groups=1} : f32[2,2]
    %a = reshape(%l) {shape=[2,2,1,1]} : f32[2,2,1,1]
    %r = relu(%a) : f32[2,2,1,1]
    %b = reshape(%r) {shape=[2,2]} : f32[2,2]
    output "y" = %b
  }`,
});

snapshotCase(snap, pass, "negative: a padded 1x1 conv on a 1x1 input stays a conv", {
  intent: "padding makes the output 3x3, so this is no FC",
  unchanged: true,
  input: `graph "padded" {
    %x = input "x" : f32[1,2,1,1]
    %w = weight "w" : f32[2,2,1,1]
    %c = conv2d(%x, %w) {dilation=[1,1], groups=1, pads=[1,1,1,1], stride=[1,1]} : f32[1,2,3,3]
    output "y" = %c
  }`,
});

snapshotCase(snap, pass, "negative: constants that change the value stay", {
  intent: "x + c with c != 0, and x + 0 where the zero broadcasts x to a larger shape",
  unchanged: true,
  input: `graph "not neutral" {
    %x = input "x" : f32[3]
    %c = weight "c" : f32[3]
    %z = weight "zero" : f32[2,3]
    %a = add(%x, %c) : f32[3]
    %b = add(%a, %z) : f32[2,3]
    output "y" = %b
  }`,
  weights: (name, shape) => name === "zero" ? new Float32Array(shape[0] * shape[1]) : undefined,
});

snapshotCase(snap, pass, "a constant added after an FC becomes its bias", {
  intent:
    "torch's MatMul + Add on 3-D input: the Add (on top of an existing bias) is the FC's bias",
  input: `graph "bias" {
    %x = input "x" : f32[2,5,3]
    %w = weight "fc.weight" : f32[4,3]
    %b = weight "fc.bias" : f32[4]
    %l = linear(%x, %w, %b) {groups=1} : f32[2,5,4]
    %c = weight "extra" : f32[1,1,4]
    %a = add(%c, %l) : f32[2,5,4]
    output "y" = %a
  }`,
});

snapshotCase(
  snap,
  pass,
  "negative: an FC read twice, or a constant varying over rows, keeps its add",
  {
    intent: "folding would change the other reader, or the constant is no per-feature bias",
    unchanged: true,
    input: `graph "not a bias" {
    %x = input "x" : f32[2,3]
    %w = weight "fc.weight" : f32[4,3]
    %l = linear(%x, %w) {groups=1} : f32[2,4]
    %c = weight "rows" : f32[2,1]
    %a = add(%l, %c) : f32[2,4]
    %d = weight "feat" : f32[4]
    %e = add(%l, %d) : f32[2,4]
    output "y" = %a
    output "z" = %e
  }`,
  },
);

Deno.test("canonicalize is idempotent on its own output", () => {
  const text = `graph "twice" {
    %x = input "x" : f32[2,3,2,2]
    %p = reshape(%x) {shape=[-1,12,1,1]} : f32[2,12,1,1]
    %w = weight "fc3.weight" : f32[8,6,1,1]
    %c = conv2d(%p, %w) {dilation=[1,1], groups=2, pads=[0,0,0,0], stride=[1,1]} : f32[2,8,1,1]
    %f = flatten(%c) {axis=1} : f32[2,8]
    output "y" = %f
  }`;
  const once = run(parseGraph(text), pass).graph;
  const twice = run(once, pass);
  assert.equal(twice.changed, false);
  assert.equal(printGraph(twice.graph), printGraph(once));
});

snap.checkOrphans();
