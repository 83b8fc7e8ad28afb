/**
 * safetensors checkpoints: one file, or a folder of shards listed by
 * `model.safetensors.index.json` (`{"weight_map": {key: shard file}}`, the
 * Hugging Face layout). The index must agree with the shards exactly: every
 * key in the shard the index names, no shard tensor the index leaves out, and
 * shard names that are plain file names inside the folder.
 */
import { RefoldError } from "../../ir/mod.ts";
import { openSafetensors, type SafetensorsReader } from "../safetensors.ts";
import { stripWrapperPrefixes } from "./prefixes.ts";
import type { Checkpoint, CheckpointTensor } from "./types.ts";

/** The name of the shard index in a folder. */
export const SHARD_INDEX = "model.safetensors.index.json";
const MAX_SHARDS = 10_000;

/** A Checkpoint over open readers; `shardOf` says which reader holds each (original) key. */
export function checkpointOver(
  file: string,
  format: string,
  readers: readonly SafetensorsReader[],
  shardOf: ReadonlyMap<string, SafetensorsReader>,
): Checkpoint {
  const described = new Map<string, { key: string; info: CheckpointTensor }>();
  for (const [key, reader] of shardOf) {
    const { dtype, shape } = reader.tensors.get(key)!;
    described.set(key, { key, info: { dtype: dtype.toLowerCase(), shape } });
  }
  const { entries: stripped, note } = stripWrapperPrefixes(described);
  const tensors = new Map([...stripped].map(([name, { info }]) => [name, info]));
  return {
    file,
    format,
    wrapper: note ? `a state_dict; ${note}` : "a state_dict",
    tensors,
    async read(names) {
      const out = new Map<string, Float32Array>();
      for (const name of names) {
        const key = stripped.get(name)?.key;
        if (key === undefined) throw new RefoldError(`no tensor "${name}"`, { file });
        out.set(name, await shardOf.get(key)!.read(key));
      }
      return out;
    },
    close() {
      for (const reader of readers) reader.close();
    },
  };
}

/** One safetensors file as a Checkpoint. */
export async function openSafetensorsCheckpoint(path: string, label = path): Promise<Checkpoint> {
  const reader = await openSafetensors(path, { label });
  const shardOf = new Map([...reader.tensors.keys()].map((key) => [key, reader]));
  return checkpointOver(label, "safetensors", [reader], shardOf);
}

function parseIndex(text: string, file: string): Map<string, string> {
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (error) {
    throw new RefoldError(`not valid JSON: ${(error as Error).message}`, { file });
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new RefoldError(`needs a "weight_map" object mapping tensor names to shard files`, {
      file,
    });
  }
  const shards = new Map<string, string>();
  for (const [key, shard] of Object.entries(map)) {
    const plain = typeof shard === "string" && /^[^/\\]+$/.test(shard) && shard !== "." &&
      shard !== ".." && shard.endsWith(".safetensors");
    if (!plain) {
      throw new RefoldError(
        `weight_map["${key}"] must be a .safetensors file name in the same folder, got ` +
          JSON.stringify(shard),
        { file },
      );
    }
    shards.set(key, shard as string);
  }
  if (shards.size === 0) throw new RefoldError("weight_map is empty", { file });
  return shards;
}

/** A folder of shards with `model.safetensors.index.json`, as one Checkpoint. */
export async function openShardedCheckpoint(folder: string): Promise<Checkpoint> {
  const indexFile = `${folder}/${SHARD_INDEX}`;
  const weightMap = parseIndex(await Deno.readTextFile(indexFile), indexFile);
  const names = [...new Set(weightMap.values())];
  if (names.length > MAX_SHARDS) {
    throw new RefoldError(`${names.length} shards, more than ${MAX_SHARDS}`, { file: indexFile });
  }
  const readers = new Map<string, SafetensorsReader>();
  try {
    const root = await Deno.realPath(folder);
    for (const name of names) {
      const path = `${folder}/${name}`;
      const real = await Deno.realPath(path).catch(() => path);
      if (!real.startsWith(`${root}/`)) {
        throw new RefoldError(`shard ${name} resolves outside the folder`, { file: indexFile });
      }
      readers.set(name, await openSafetensors(path, { label: path }));
    }
    const shardOf = new Map<string, SafetensorsReader>();
    for (const [key, name] of weightMap) {
      const reader = readers.get(name)!;
      if (!reader.tensors.has(key)) {
        throw new RefoldError(`the index puts "${key}" in ${name}, which does not hold it`, {
          file: indexFile,
        });
      }
      shardOf.set(key, reader);
    }
    for (const [name, reader] of readers) {
      const extra = [...reader.tensors.keys()].find((key) => !weightMap.has(key));
      if (extra !== undefined) {
        throw new RefoldError(`shard ${name} holds "${extra}", which the index does not list`, {
          file: indexFile,
        });
      }
    }
    return checkpointOver(
      folder,
      `safetensors, ${names.length} shards`,
      [...readers.values()],
      shardOf,
    );
  } catch (error) {
    for (const reader of readers.values()) reader.close();
    throw error;
  }
}
