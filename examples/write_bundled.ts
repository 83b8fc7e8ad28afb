/**
 * Regenerates the bundled example models under examples/models/ from the
 * seeded builders: `deno run -A examples/write_bundled.ts`.
 */
import { writeModel } from "../formats/mod.ts";
import { EXAMPLES } from "./mod.ts";

const BUNDLED: Record<string, string> = {
  repmlp_block: "repmlp-block",
};

for (const [dir, example] of Object.entries(BUNDLED)) {
  const path = new URL(`./models/${dir}/model.json`, import.meta.url).pathname;
  await Deno.mkdir(new URL(`./models/${dir}/`, import.meta.url), { recursive: true });
  await writeModel(EXAMPLES[example].build(), path);
  console.log(`wrote ${path}`);
}
