/**
 * Opening a torch.save archive: `<name>/data.pkl` (the pickled object),
 * `<name>/data/<key>` (one record per storage), `<name>/byteorder` (absent
 * before PyTorch 2.1: little-endian) and `<name>/version`. Opening reads the
 * directory and the pickle and checks every tensor against its storage
 * record; values are read later, each record once.
 */
import { RefoldError } from "../../ir/mod.ts";
import type { Checkpoint, CheckpointTensor } from "../checkpoint/types.ts";
import { stripWrapperPrefixes } from "../checkpoint/prefixes.ts";
import type { ByteSource } from "./bytes.ts";
import { stateDictHooks } from "./globals.ts";
import { MAX_PICKLE_BYTES, unpickle } from "./pickle.ts";
import { findStateDict } from "./state_dict.ts";
import { tensorValues } from "./tensor_data.ts";
import { DTYPE_BYTES, type TorchTensor } from "./values.ts";
import { openZip, type ZipArchive, type ZipEntry } from "./zip.ts";

/** The archive's folder: the one whose `data.pkl` is at the top. */
function archivePrefix(archive: ZipArchive, file: string): string {
  const pickles = [...archive.entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw new RefoldError(
      pickles.length === 0
        ? "a zip archive without <name>/data.pkl is not a torch.save file"
        : `the archive holds ${pickles.length} data.pkl records (${pickles.join(", ")})`,
      { file },
    );
  }
  return pickles[0].slice(0, -"data.pkl".length);
}

async function readText(archive: ZipArchive, entry: ZipEntry | undefined): Promise<string> {
  if (!entry) return "";
  if (entry.size > 64) return "(too long)";
  return new TextDecoder().decode(await archive.read(entry)).trim();
}

/** Checks each tensor's storage record and returns it, by storage key. */
function storageRecords(
  tensors: ReadonlyMap<string, TorchTensor>,
  archive: ZipArchive,
  prefix: string,
  file: string,
): Map<string, ZipEntry> {
  const records = new Map<string, ZipEntry>();
  for (const [name, tensor] of tensors) {
    const { key, dtype, numel } = tensor.storage;
    const entry = archive.entries.get(`${prefix}data/${key}`);
    if (!entry) {
      throw new RefoldError(`tensor "${name}": its storage record data/${key} is missing`, {
        file,
      });
    }
    if (entry.size !== numel * DTYPE_BYTES[dtype]) {
      throw new RefoldError(
        `tensor "${name}": storage data/${key} holds ${entry.size} bytes, not the ` +
          `${numel * DTYPE_BYTES[dtype]} of ${numel} ${dtype} elements`,
        { file },
      );
    }
    records.set(key, entry);
  }
  return records;
}

/** Opens a torch.save zip archive as a Checkpoint; `source` is closed by `close()`. */
export async function openTorchArchive(source: ByteSource): Promise<Checkpoint> {
  const file = source.file;
  const archive = await openZip(source);
  const prefix = archivePrefix(archive, file);
  const byteorder = await readText(archive, archive.entries.get(`${prefix}byteorder`)) ||
    "little";
  if (byteorder !== "little" && byteorder !== "big") {
    throw new RefoldError(`byteorder record says "${byteorder}", not little or big`, { file });
  }
  const pickleEntry = archive.entries.get(`${prefix}data.pkl`)!;
  if (pickleEntry.size > MAX_PICKLE_BYTES) {
    throw new RefoldError(
      `data.pkl of ${pickleEntry.size} bytes is over the ${MAX_PICKLE_BYTES} limit`,
      { file },
    );
  }
  const pickle = await archive.read(pickleEntry);
  const root = unpickle(pickle, stateDictHooks(), `${file}: data.pkl`);
  const found = findStateDict(root, file);
  const { entries: tensors, note } = stripWrapperPrefixes(found.tensors);
  const records = storageRecords(tensors, archive, prefix, file);
  const described = new Map<string, CheckpointTensor>();
  for (const [name, tensor] of tensors) {
    described.set(name, { dtype: tensor.storage.dtype, shape: tensor.shape });
  }
  let closed = false;
  return {
    file,
    format: "torch.save zip archive",
    wrapper: note ? `${found.where}; ${note}` : found.where,
    tensors: described,
    async read(names) {
      if (closed) throw new RefoldError("read after close", { file });
      const wanted = new Map<string, TorchTensor[]>();
      const order: string[] = [];
      for (const name of names) {
        const tensor = tensors.get(name);
        if (!tensor) throw new RefoldError(`no tensor "${name}"`, { file });
        order.push(name);
        const sharing = wanted.get(tensor.storage.key) ?? [];
        sharing.push(tensor);
        wanted.set(tensor.storage.key, sharing);
      }
      const values = new Map<TorchTensor, Float32Array>();
      // One storage at a time: its record is dropped once its tensors hold their values.
      for (const [key, sharing] of wanted) {
        const record = await archive.read(records.get(key)!);
        for (const tensor of sharing) {
          try {
            values.set(tensor, tensorValues(record, tensor, byteorder === "little"));
          } catch (error) {
            if (!(error instanceof RefoldError)) throw error;
            const name = order.find((each) => tensors.get(each) === tensor);
            throw new RefoldError(`tensor "${name}": ${error.message}`, { file });
          }
        }
      }
      return new Map(order.map((name) => [name, values.get(tensors.get(name)!)!]));
    },
    close() {
      closed = true;
      source.close();
    },
  };
}
