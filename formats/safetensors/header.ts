/**
 * The safetensors header: dtypes, the length prefix and the JSON header,
 * validated in full before any tensor data is allocated. Sizes are checked
 * arithmetically, so an absurd header costs nothing but its own bytes.
 */
import { MAX_TENSOR_ELEMENTS, RefoldError } from "../../ir/mod.ts";
import { lineColumn, locateJsonError } from "../model_json/json_text.ts";

/** Largest header the reader accepts; real headers are kilobytes. */
export const MAX_HEADER_BYTES = 100 * 2 ** 20;

/** Bytes per element of every dtype the format defines. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
};

/** The dtypes whose values refold reads (converted to float32). */
export const READABLE_DTYPES: readonly string[] = ["F32", "F16", "BF16", "F64"];

/** One header entry; offsets are relative to the start of the data section. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

// The format is little-endian; typed arrays use the machine's order.
export { LITTLE_ENDIAN, swapBytes } from "../dtypes.ts";

/** The header length from the first 8 bytes, refused when past the file or over the limit. */
export function checkHeaderLength(prefix: Uint8Array, size: number, file: string): number {
  if (size < 8) {
    throw new RefoldError(
      `file is ${size} bytes; a safetensors file starts with an 8-byte header length`,
      { file },
    );
  }
  // The length is the file's first 8 bytes: messages never print it, since for a file that is
  // no safetensors at all (a text file, a key) the number would spell those bytes out.
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(size - 8)) {
    throw new RefoldError(
      `header length prefix exceeds the ${size - 8} bytes after it ` +
        `(truncated or not a safetensors file)`,
      { file },
    );
  }
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new RefoldError(`header length is over the ${MAX_HEADER_BYTES} byte limit`, { file });
  }
  return Number(length);
}

/** Parses and validates the JSON header; throws one RefoldError listing every bad entry. */
export function parseHeader(
  headerBytes: Uint8Array,
  dataSize: number,
  file: string,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new RefoldError("header is not valid UTF-8", { file });
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    const found = locateJsonError(text) ?? { offset: text.length, problem: "" };
    const { line, column } = lineColumn(text, found.offset);
    // Where, and the kind of problem, but no character of the file.
    const problem = found.problem.replace(/, found .*$/, "");
    throw new RefoldError(
      `header is not valid JSON (line ${line}, column ${column})${problem ? `: ${problem}` : ""}`,
      { file },
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new RefoldError("header must be a JSON object", { file });
  }
  const problems: string[] = [];
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      const valid = typeof entry === "object" && entry !== null && !Array.isArray(entry) &&
        Object.values(entry).every((value) => typeof value === "string");
      if (valid) metadata = entry as Record<string, string>;
      else problems.push("__metadata__ must map strings to strings");
      continue;
    }
    const info = checkEntry(name, entry, dataSize, problems);
    if (info) tensors.set(name, info);
  }
  // Overlap check on sorted ranges: O(n log n), and names both tensors.
  const ranges = [...tensors.values()].filter((t) => t.end > t.begin)
    .sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    const [a, b] = [ranges[i - 1], ranges[i]];
    if (b.begin < a.end) {
      problems.push(
        `tensors "${a.name}" and "${b.name}" overlap (bytes [${a.begin},${a.end}) and ` +
          `[${b.begin},${b.end}))`,
      );
    }
  }
  if (problems.length > 0) throw new RefoldError(summarize(problems), { file });
  return { tensors, metadata };
}

function checkEntry(
  name: string,
  entry: unknown,
  dataSize: number,
  problems: string[],
): TensorInfo | undefined {
  const bad = (problem: string) => void problems.push(`tensor "${name}": ${problem}`);
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    return bad("entry must be an object {dtype, shape, data_offsets}");
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== "string") return bad("dtype must be a string");
  if (!Object.hasOwn(DTYPE_BYTES, dtype)) return bad(`unknown dtype ${JSON.stringify(dtype)}`);
  const width = DTYPE_BYTES[dtype];
  const isCount = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    return bad("shape must be an array of integers >= 0");
  }
  const count = shape.reduce((a: number, d: number) => a * d, 1);
  if (count > MAX_TENSOR_ELEMENTS) {
    return bad(`shape [${shape}] has ${count} elements, more than 2^30`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    return bad("data_offsets must be two integers [begin, end] >= 0");
  }
  const [begin, end] = offsets as number[];
  if (begin > end) return bad(`data_offsets [${begin},${end}] end before they begin`);
  if (end > dataSize) {
    return bad(
      `data_offsets [${begin},${end}] reach past the end of the data (${dataSize} bytes); ` +
        `the file is truncated`,
    );
  }
  if (end - begin !== count * width) {
    return bad(`holds ${end - begin} bytes, but ${dtype}[${shape}] needs ${count * width}`);
  }
  return { name, dtype, shape, begin, end };
}

/** One line for many problems: the first few, then a count. */
function summarize(problems: readonly string[]): string {
  const shown = problems.slice(0, 5).join("; ");
  return problems.length > 5 ? `${shown}; and ${problems.length - 5} more` : shown;
}
