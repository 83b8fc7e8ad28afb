/**
 * Weight files stored narrower than f32 (`--weight-dtype f16|int8`), shared
 * by the module targets: the encoder of the layout runtime/weight_codec.ts
 * decodes, the report of what the storage costs (bytes, worst relative
 * weight error), and the load() of a generated entry that widens the file
 * before the target's own loader sees it. A target hands over its f32
 * weights as they are and says which stretches hold which weights; how it
 * lays them out and packs them stays its own business.
 */
import {
  encodeHalves,
  F16_MAX,
  type Graph,
  type Node,
  planWeightStorage,
  quantizeRows,
  RefoldError,
  storedDTypes,
  type WeightDType,
  type WeightStorage,
  worstStorageError,
} from "../ir/mod.ts";
import type { WeightReport } from "./backend.ts";
import { runtimeImport } from "./bundle.ts";
import {
  segmentBytes,
  type StoredWeights,
  type WeightEncoding,
  type WeightSegment,
} from "./runtime/weight_codec.ts";
import type { WeightPack } from "./weights.ts";

/** A stretch of the f32 weights, [at, at + length), and how to store it. */
export interface StoredRegion {
  readonly at: number;
  readonly length: number;
  readonly dtype: WeightDType;
  /** int8: rows with a scale each. */
  readonly rows: number;
  /** int8: the stretch is blocks of [k][columns], one row (channel) per column. */
  readonly columns?: number;
}

/** A weight file and the layout model.js needs to decode it. */
export interface EncodedWeights {
  readonly bytes: Uint8Array;
  readonly encoding: WeightEncoding;
}

/** A narrow weight file with its report. */
export interface StoredFile extends EncodedWeights {
  readonly report: WeightReport;
}

const align4 = (bytes: number) => Math.ceil(bytes / 4) * 4;

function checkHalfRange(values: Float32Array): void {
  const index = values.findIndex((value) => Math.abs(value) > F16_MAX);
  if (index >= 0) {
    throw new RefoldError(
      `--weight-dtype f16: a weight value of ${values[index]} is beyond f16's range of ` +
        `±${F16_MAX}; store weights as f32`,
    );
  }
}

/** Where element i of a column-blocked int8 stretch lies in its row-major [rows][k] form. */
function rowMajorIndex(i: number, k: number, columns: number): number {
  const block = k * columns, b = Math.floor(i / block), within = i % block;
  return (b * columns + (within % columns)) * k + Math.floor(within / columns);
}

/** A stretch as rows (channels) one after another. */
function byChannel(part: Float32Array, segment: WeightSegment): Float32Array {
  if (!segment.columns) return part;
  const k = part.length / segment.rows!, rows = new Float32Array(part.length);
  for (let i = 0; i < part.length; i++) rows[rowMajorIndex(i, k, segment.columns)] = part[i];
  return rows;
}

/** Row-major int8 values back in the stretch's own layout. */
function fromChannels(values: Int8Array, segment: WeightSegment): Int8Array {
  if (!segment.columns) return values;
  const k = values.length / segment.rows!, out = new Int8Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = values[rowMajorIndex(i, k, segment.columns)];
  return out;
}

/** Encodes `values` as `regions` say; values outside every region must be zero. */
export function encodeWeightFile(
  values: Float32Array,
  regions: readonly StoredRegion[],
): EncodedWeights {
  let offset = 0;
  const segments: WeightSegment[] = regions.map(({ at, length, dtype, rows, columns }) => {
    const segment: WeightSegment = dtype === "int8"
      ? { dtype, at, length, offset, rows, ...(columns ? { columns } : {}) }
      : { dtype, at, length, offset };
    offset += align4(segmentBytes(segment));
    return segment;
  });
  const bytes = new Uint8Array(offset);
  const covered = new Uint8Array(values.length);
  for (const segment of segments) {
    const { at, length } = segment;
    const part = values.subarray(at, at + length);
    covered.fill(1, at, at + length);
    if (segment.dtype === "f32") {
      new Float32Array(bytes.buffer, segment.offset, length).set(part);
    } else if (segment.dtype === "f16") {
      checkHalfRange(part);
      new Uint16Array(bytes.buffer, segment.offset, length).set(encodeHalves(part));
    } else {
      const { values: q, scales } = quantizeRows(byChannel(part, segment), segment.rows!);
      new Float32Array(bytes.buffer, segment.offset, scales.length).set(scales);
      new Int8Array(bytes.buffer, segment.offset + 4 * scales.length, length).set(
        fromChannels(q, segment),
      );
    }
  }
  const lost = values.findIndex((value, i) => covered[i] === 0 && value !== 0);
  if (lost >= 0) throw new Error(`internal: weight value ${lost} lies outside every stored region`);
  return { bytes, encoding: { floats: values.length, bytes: offset, segments } };
}

/** What a target reports about its weights, measured on the graph's weights as stored. */
export function weightReport(
  storage: ReadonlyMap<Node<"weight">, WeightStorage>,
  sizes: { bytes: number; f32Bytes: number },
): WeightReport {
  return { dtypes: storedDTypes(storage), ...sizes, error: worstStorageError(storage) };
}

/**
 * The weight file of a graph packed by weights.ts (one slot per weight node),
 * stored as `dtype` under ir/weight_storage.ts's rule. Neighbouring weights
 * of one dtype share a segment, so the layout stays short.
 */
export function storePackedWeights(graph: Graph, pack: WeightPack, dtype: WeightDType): StoredFile {
  const storage = planWeightStorage(graph, dtype);
  const regions: StoredRegion[] = [];
  for (const node of pack.order) {
    const { dtype: stored, channels } = storage.get(node as Node<"weight">)!;
    const at = pack.slots.get(node)!.offset / 4, length = node.data!.length;
    const last = regions[regions.length - 1];
    if (last && stored !== "int8" && last.dtype === stored) {
      regions[regions.length - 1] = { ...last, length: at + length - last.at };
    } else {
      regions.push({ at, length, dtype: stored, rows: channels });
    }
  }
  const floats = new Float32Array(pack.bytes.buffer, pack.bytes.byteOffset, pack.bytes.length / 4);
  const file = encodeWeightFile(floats, regions);
  const sizes = { bytes: file.bytes.byteLength, f32Bytes: pack.bytes.byteLength };
  return { ...file, report: weightReport(storage, sizes) };
}

/**
 * The f32 weights of a target that lays them out its own way, all stored as
 * f16 (f16 needs no knowledge of the layout; int8 needs the output channels
 * of each stretch, which only the target knows). The error is measured on
 * the graph's weights.
 */
export function storeAllAsHalves(graph: Graph, values: Float32Array): StoredFile {
  const storage = planWeightStorage(graph, "f16");
  const file = encodeWeightFile(values, [
    { at: 0, length: values.length, dtype: "f16", rows: 1 },
  ]);
  const sizes = { bytes: file.bytes.byteLength, f32Bytes: values.byteLength };
  return { ...file, report: weightReport(storage, sizes) };
}

/** What model.js needs to find and widen a stored file: embedded (base64) or weights.bin. */
export function storedWeights(file: EncodedWeights, embedded: string | undefined): StoredWeights {
  return { encoding: file.encoding, embedded: embedded ?? null, file: "weights.bin" };
}

/**
 * The load() of a generated entry, in lines: `call(options)` is the target's
 * own loader; with narrow weights, load() first reads and widens them and
 * hands the f32 bytes to that loader as `options.weights`.
 */
export function loadFunction(
  stored: StoredWeights | undefined,
  call: (options: string) => string,
  doc = "Loads the model (docs/module-contract.md).",
): string[] {
  const comment = `/** ${doc} */`;
  if (!stored) {
    return [
      comment,
      "export async function load(options) {",
      `  return await ${call("options")};`,
      "}",
    ];
  }
  return [
    `import { withDecodedWeights } from ${runtimeImport("./runtime/weight_codec.ts")};`,
    `const STORED_WEIGHTS = ${JSON.stringify(stored)};`,
    comment,
    "export async function load(options) {",
    `  const widened = await withDecodedWeights(import.meta.url, options, STORED_WEIGHTS);`,
    `  return await ${call("widened")};`,
    "}",
  ];
}
