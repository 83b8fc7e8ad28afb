/**
 * Seeded mutants of real torch.save files: whatever the damage, loading and
 * reading every float tensor either works or throws a one-line RefoldError
 * naming the file; never another exception, never a hang. Three kinds, so
 * that each layer is reached: raw byte damage (mostly caught by the zip
 * checks and CRCs), pickle damage re-wrapped with valid CRCs (reaching the
 * pickle reader), and damage to the central directory alone.
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../../formats/mod.ts";
import { bytesSource, openZip } from "../../formats/torch/mod.ts";
import { RefoldError, seededRandom } from "../../ir/mod.ts";
import { CHECKPOINTS } from "../arch/_fixtures.ts";
import { zipStored } from "./_torch_writer.ts";

type Outcome = "loaded" | "refused";

async function attempt(bytes: Uint8Array): Promise<Outcome> {
  try {
    const checkpoint = await loadCheckpoint(bytes, { file: "mutant.pth" });
    const floats = [...checkpoint.tensors].filter(([, t]) =>
      ["f32", "f16", "bf16", "f64"].includes(t.dtype)
    );
    await checkpoint.read(floats.map(([key]) => key));
    return "loaded";
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    assert.ok(!error.message.includes("\n"), error.message);
    assert.ok(error.message.startsWith("mutant.pth: "), error.message);
    return "refused";
  }
}

/** 1 to 4 random byte changes, a truncation, or a removed or inserted run. */
function mutate(bytes: Uint8Array, random: () => number, range = [0, bytes.length]): Uint8Array {
  const [from, to] = range;
  const at = () => from + Math.floor(random() * (to - from));
  const kind = Math.floor(random() * 4);
  if (kind === 0) return bytes.subarray(0, at());
  if (kind === 1) {
    const cut = at();
    return Uint8Array.from([
      ...bytes.subarray(0, cut),
      ...bytes.subarray(cut + 1 + Math.floor(random() * 8)),
    ]);
  }
  if (kind === 2) {
    const cut = at();
    const run = Array.from(
      { length: 1 + Math.floor(random() * 8) },
      () => Math.floor(random() * 256),
    );
    return Uint8Array.from([...bytes.subarray(0, cut), ...run, ...bytes.subarray(cut)]);
  }
  const out = bytes.slice();
  for (let n = 1 + Math.floor(random() * 4); n > 0; n--) out[at()] = Math.floor(random() * 256);
  return out;
}

const file = await Deno.readFile(`${CHECKPOINTS}repmlpnet.deploy.pth`);
const archive = await openZip(bytesSource(file, "f"));
const records = await Promise.all(
  [...archive.entries.values()].map(async (entry) => ({
    name: entry.name,
    data: await archive.read(entry),
  })),
);

Deno.test("fuzz: raw byte damage", async () => {
  const random = seededRandom(13);
  const seen = { loaded: 0, refused: 0 };
  for (let trial = 0; trial < 300; trial++) seen[await attempt(mutate(file, random))]++;
  assert.ok(seen.refused >= 290, JSON.stringify(seen));
});

Deno.test("fuzz: pickle damage behind valid CRCs", async () => {
  const random = seededRandom(14);
  const seen = { loaded: 0, refused: 0 };
  const pickle = records.find((record) => record.name.endsWith("data.pkl"))!;
  for (let trial = 0; trial < 400; trial++) {
    const damaged = mutate(pickle.data, random);
    const bytes = zipStored(records.map((r) => r === pickle ? { name: r.name, data: damaged } : r));
    seen[await attempt(bytes)]++;
  }
  // Flips inside names or float operands still load; most damage is refused.
  assert.ok(seen.refused >= 350 && seen.loaded >= 10, JSON.stringify(seen));
});

Deno.test("fuzz: central directory damage", async () => {
  const random = seededRandom(15);
  const seen = { loaded: 0, refused: 0 };
  const rebuilt = zipStored(records);
  let directory = rebuilt.length - 22;
  directory = new DataView(rebuilt.buffer).getUint32(directory + 16, true);
  for (let trial = 0; trial < 300; trial++) {
    const damaged = rebuilt.slice();
    for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
      damaged[directory + Math.floor(random() * (rebuilt.length - directory))] = Math.floor(
        random() * 256,
      );
    }
    seen[await attempt(damaged)]++;
  }
  assert.ok(seen.refused >= 240, JSON.stringify(seen));
});
