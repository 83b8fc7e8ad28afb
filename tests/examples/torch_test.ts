/**
 * The example graphs compute what the official PyTorch modules compute: the
 * reference interpreter's output on each small example equals the output of
 * tests/fixtures/torch/gen_examples.py (the official forward re-implemented,
 * weights loaded strictly by checkpoint key, run in float64, stored as f32).
 * Regenerate with the two commands at the top of gen_examples.py.
 */
import assert from "node:assert/strict";
import { exampleFeeds, EXAMPLES } from "../../examples/mod.ts";
import { interpret } from "../../ir/mod.ts";
import { compareArrays } from "../_assert.ts";

interface Entry {
  shape?: number[];
  output?: string;
}

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/torch/examples.json", import.meta.url)),
) as { batch: number; seed: number; examples: Record<string, Entry> };

function decodeF32(base64: string): Float32Array {
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  return Float32Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(4 * i, true));
}

Deno.test("every small example has a PyTorch output", () => {
  for (const [name, example] of Object.entries(EXAMPLES)) {
    assert.equal(example.small, fixture.examples[name]?.output !== undefined, name);
  }
});

for (const [name, entry] of Object.entries(fixture.examples)) {
  if (!entry.output) continue;
  Deno.test(`example ${name} matches PyTorch`, () => {
    const graph = EXAMPLES[name].build({ batch: fixture.batch, seed: fixture.seed });
    const [output] = Object.values(interpret(graph, exampleFeeds(graph, fixture.seed)));
    assert.deepEqual(graph.outputs[0].node.type.shape, entry.shape);
    const { relative } = compareArrays(output, decodeF32(entry.output!));
    assert.ok(relative <= 2e-7, `${name}: relative error ${relative.toExponential(2)}`);
  });
}
