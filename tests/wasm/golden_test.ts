// Golden WAT of one small deployed v1 block (relaxed-simd module): kernels, microkernels,
// epilogues and run() as text, reviewed as a diff. Update: deno test -A tests/wasm/golden_test.ts -- --update
import assert from "node:assert/strict";
import { assemble } from "../../backends/wasm/assemble.ts";
import { compileModel } from "../../backends/wasm/compile.ts";
import { snapshotFile } from "../_snapshot.ts";
import { v1BlockGraph } from "./_deployed.ts";

const snap = snapshotFile(import.meta.url);

const BLOCK = {
  batch: 1,
  channels: 4,
  outChannels: 4,
  height: 4,
  width: 6,
  h: 2,
  w: 3,
  groups: 2,
  reduction: 1,
};

Deno.test("golden: WAT of a v1 block (relaxed-simd)", async () => {
  const compiled = compileModel(v1BlockGraph(BLOCK));
  await snap.match("v1 block, relaxed-simd", compiled.wat.relaxed);
});

Deno.test("assemble: binaryen's optimizer keeps relaxed_madd; the plain module has none", () => {
  const { wat, modules } = compileModel(v1BlockGraph(BLOCK));
  assert.ok(wat.relaxed.includes("f32x4.relaxed_madd"));
  assert.ok(!wat.plain.includes("relaxed"));
  // f32x4.relaxed_madd is the prefixed opcode 0xfd 0x105 (LEB128: 0x85 0x02).
  const hasMadd = (bytes: Uint8Array) =>
    bytes.some((byte, i) => byte === 0xfd && bytes[i + 1] === 0x85 && bytes[i + 2] === 0x02);
  assert.ok(hasMadd(modules.relaxed), "relaxed module lost its relaxed_madd");
  assert.ok(!hasMadd(modules.plain));
  assert.ok(WebAssembly.validate(modules.plain as Uint8Array<ArrayBuffer>));
});

Deno.test("assemble: generated code that does not validate fails with a message", () => {
  assert.throws(
    () => assemble("(module (func (result i32) (f32.const 1)))"),
    /does not validate|does not parse/,
  );
});

snap.checkOrphans();
