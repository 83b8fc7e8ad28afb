/**
 * Opening a checkpoint of any kind refold reads: a torch.save zip archive
 * (.pth, .pt, .bin, whatever the extension), a safetensors file, or a folder
 * of safetensors shards with `model.safetensors.index.json`. The format is
 * told by content, the extension only breaks ties.
 */
import { RefoldError } from "../../ir/mod.ts";
import { parseSafetensors } from "../safetensors.ts";
import { bytesSource, fileSource } from "../torch/bytes.ts";
import { openTorchArchive } from "../torch/read.ts";
import { looksLikeZip } from "../torch/zip.ts";
import {
  checkpointOver,
  openSafetensorsCheckpoint,
  openShardedCheckpoint,
  SHARD_INDEX,
} from "./safetensors.ts";
import type { Checkpoint } from "./types.ts";

type Kind = "torch" | "safetensors";

/** What the first bytes say, or a RefoldError naming what the file is not. */
function sniff(head: Uint8Array, file: string, name = file): Kind {
  if (looksLikeZip(head)) return "torch";
  // Before PyTorch 1.6 (or with _use_new_zipfile_serialization=False): pickle protocol 2,
  // then the magic number as a 10-byte LONG1.
  if (head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a && head[3] === 0x0a) {
    throw new RefoldError(
      "a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current PyTorch: " +
        "torch.save(torch.load(path), path2)",
      { file },
    );
  }
  // safetensors: an 8-byte little-endian header length, then the JSON header.
  if (head.length > 8 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) return "safetensors";
  if (name.toLowerCase().endsWith(".safetensors")) return "safetensors";
  throw new RefoldError(
    "not a checkpoint refold reads: expected a torch.save zip archive (.pth, .pt) or a " +
      "safetensors file",
    { file },
  );
}

/**
 * Reads a checkpoint from bytes in memory: a torch.save archive or a
 * safetensors file. Tensors are views of `bytes` where the dtype allows.
 */
export async function loadCheckpoint(
  bytes: Uint8Array,
  options: { file?: string } = {},
): Promise<Checkpoint> {
  const file = options.file ?? "checkpoint";
  if (sniff(bytes.subarray(0, 16), file) === "torch") {
    return await openTorchArchive(bytesSource(bytes, file));
  }
  const reader = parseSafetensors(bytes, { file });
  const shardOf = new Map([...reader.tensors.keys()].map((key) => [key, reader]));
  return checkpointOver(file, "safetensors", [reader], shardOf);
}

async function statOf(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new RefoldError("file not found", { file: path });
    }
    throw new RefoldError(`cannot read: ${(error as Error).message}`, { file: path });
  }
}

/** The checkpoint a folder holds: shards with an index, or a single safetensors file. */
async function openFolder(folder: string): Promise<Checkpoint> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(folder)) names.push(entry.name);
  if (names.includes(SHARD_INDEX)) return await openShardedCheckpoint(folder);
  const single = names.filter((name) => name.endsWith(".safetensors"));
  if (single.length === 1) return await openSafetensorsCheckpoint(`${folder}/${single[0]}`);
  throw new RefoldError(
    `a checkpoint folder must hold ${SHARD_INDEX} (sharded safetensors) or exactly one ` +
      `.safetensors file; it holds ${single.length} .safetensors files and no index`,
    { file: folder },
  );
}

/** Opens a checkpoint file or folder; read its tensors with `read`, then `close` it. */
export async function openCheckpoint(path: string): Promise<Checkpoint> {
  const info = await statOf(path);
  if (info.isDirectory) return await openFolder(path);
  if (path.endsWith(`/${SHARD_INDEX}`) || path === SHARD_INDEX) {
    return await openShardedCheckpoint(path.slice(0, -SHARD_INDEX.length - 1) || ".");
  }
  const source = await fileSource(path);
  try {
    const head = await source.read(0, Math.min(16, source.size));
    if (sniff(head, path) === "safetensors") {
      source.close();
      return await openSafetensorsCheckpoint(path);
    }
    return await openTorchArchive(source);
  } catch (error) {
    source.close();
    throw error;
  }
}
