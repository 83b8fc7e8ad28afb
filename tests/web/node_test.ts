// model.js in Node, as an application would use it: imported from the output folder with
// module-syntax detection turned off (where the flag exists), so that the folder's
// package.json is what makes it an ES module, as it must be on Node 18 to 20.18. Weights
// are read from disk in chunks, with progress.
import assert from "node:assert/strict";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";
import { reference, testBlock, TOLERANCE, writeModule } from "./_modules.ts";

const graph = testBlock();
const { x, y } = reference(graph);

// With --as-node-18, process.getBuiltinModule (Node 20.16+) is hidden, as on older Nodes.
const RUN = `import { readFileSync } from "node:fs";
if (process.argv.includes("--as-node-18")) process.getBuiltinModule = undefined;
const { load } = await import("./model/model.js");
const bytes = readFileSync(new URL("./x.bin", import.meta.url));
const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const progress = [];
const model = await load({ onProgress: (p) => progress.push(p) });
const y = await model.run(x);
model.dispose();
console.log(JSON.stringify({ y: [...y], progress }));
`;

/** Node's flag that turns module-syntax detection off, when this Node has it. */
async function detectionOff(): Promise<string[]> {
  const probe = await new Deno.Command("node", {
    args: ["--no-experimental-detect-module", "-e", "0"],
    stderr: "null",
  }).output();
  return probe.success ? ["--no-experimental-detect-module"] : [];
}

async function runNode(
  dir: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await new Deno.Command("node", {
    args: [...await detectionOff(), join(dir, "run.mjs"), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: result.code,
    stdout: text.decode(result.stdout),
    stderr: text.decode(result.stderr),
  };
}

for (const target of ["js", "wasm"]) {
  Deno.test(`${target}: model.js loads and runs in Node without module detection`, async () => {
    const dir = await Deno.makeTempDir({ prefix: `refold-node-${target}-` });
    try {
      await writeModule(graph, target, join(dir, "model"));
      // run.mjs, not run.js with a package.json here, which would make model.js a module too.
      await Deno.writeTextFile(join(dir, "run.mjs"), RUN);
      await Deno.writeFile(join(dir, "x.bin"), new Uint8Array(x.buffer));
      const size = (await Deno.stat(join(dir, "model", "weights.bin"))).size;
      for (const args of [[], ["--as-node-18"]]) {
        const result = await runNode(dir, ...args);
        assert.equal(result.code, 0, result.stderr);
        const out = JSON.parse(result.stdout);
        assertClose(out.y, y, TOLERANCE[target], `${target} in Node ${args} vs interpreter`);
        assert.ok(out.progress.length >= 3, "progress per chunk");
        assert.deepEqual(out.progress.at(-1), { loaded: size, total: size });
      }

      // Without the output folder's package.json, Node takes model.js for CommonJS.
      await Deno.remove(join(dir, "model", "package.json"));
      if ((await detectionOff()).length > 0) {
        const without = await runNode(dir);
        assert.notEqual(without.code, 0, "model.js loaded without its package.json");
        assert.equal(without.stdout, "");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
