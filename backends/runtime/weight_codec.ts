/**
 * Runtime glue bundled into model.js when its weights are stored narrower
 * than f32 (`--weight-dtype f16|int8`): the weight file's layout, and the
 * decoder that widens it at load into the f32 weights the target computes
 * with. The layout is described by model.js, not by the file:
 *
 * - the decoded weights are `floats` f32 values; each segment fills
 *   [at, at + length) of them, and values no segment covers are zero
 *   (alignment padding);
 * - a segment's bytes start at `offset` in the file, 4-byte aligned:
 *   f32 and f16 values little-endian; int8 as `rows` f32 scales followed by
 *   `length` int8 values, value = q * scale of its row (output channel). The
 *   values are row-major, or, with `columns`, blocks of [k][columns] (a
 *   GEMM weight packed columns-contiguous): block b holds channels
 *   b * columns + j, column j.
 *
 * The arithmetic is ir/half.ts's and ir/quantize.ts's, so the decoded values
 * are exactly those the compile report measured.
 */
import { decodeHalves } from "../../ir/half.ts";
import { dequantizeRows } from "../../ir/quantize.ts";
import { type ReadOptions, readWeights } from "./files.ts";

/** How one stretch of the decoded weights is stored. */
export interface WeightSegment {
  readonly dtype: "f32" | "f16" | "int8";
  /** First decoded value (an f32 index). */
  readonly at: number;
  /** Decoded values. */
  readonly length: number;
  /** Byte offset in the file, a multiple of 4. */
  readonly offset: number;
  /** int8: the rows, each with its own scale. */
  readonly rows?: number;
  /** int8: stored as blocks of [k][columns], one channel per column (see the header). */
  readonly columns?: number;
}

/** The layout of a weight file stored narrower than f32. */
export interface WeightEncoding {
  /** f32 values once decoded. */
  readonly floats: number;
  /** Bytes of the file. */
  readonly bytes: number;
  readonly segments: readonly WeightSegment[];
}

/** Bytes a segment takes in the file, before padding to 4. */
export function segmentBytes(segment: WeightSegment): number {
  if (segment.dtype === "int8") return 4 * segment.rows! + segment.length;
  return segment.length * (segment.dtype === "f16" ? 2 : 4);
}

/** Widens a weight file into its f32 weights (as little-endian bytes, what every target reads). */
export function decodeWeightFile(file: Uint8Array, encoding: WeightEncoding): Uint8Array {
  if (file.byteLength !== encoding.bytes) {
    throw new Error(
      `refold: weights hold ${file.byteLength} bytes, this model needs ${encoding.bytes}`,
    );
  }
  // Typed views need aligned offsets; bytes handed to load() may start anywhere.
  const aligned = file.byteOffset % 4 === 0 ? file : file.slice();
  const buffer = aligned.buffer, base = aligned.byteOffset;
  const out = new Float32Array(encoding.floats);
  for (const segment of encoding.segments) {
    const { at, length, offset } = segment;
    if (segment.dtype === "f32") {
      out.set(new Float32Array(buffer, base + offset, length), at);
    } else if (segment.dtype === "f16") {
      out.set(decodeHalves(new Uint16Array(buffer, base + offset, length)), at);
    } else {
      const rows = segment.rows!;
      const scales = new Float32Array(buffer, base + offset, rows);
      const values = new Int8Array(buffer, base + offset + 4 * rows, length);
      if (segment.columns) {
        const columns = segment.columns, block = (length / rows) * columns;
        for (let i = 0; i < length; i++) {
          const channel = Math.floor(i / block) * columns + (i % columns);
          out[at + i] = values[i] * scales[channel];
        }
      } else out.set(dequantizeRows({ values, scales }), at);
    }
  }
  return new Uint8Array(out.buffer);
}

/** Where model.js finds narrow weights: embedded (base64) or in a file beside it. */
export interface StoredWeights {
  readonly encoding: WeightEncoding;
  readonly embedded: string | null;
  readonly file: string;
}

/**
 * load()'s options with `weights` replaced by the decoded f32 bytes: the
 * stored ones given to load() or read from where they point, else the
 * embedded ones, else the file beside model.js. `onProgress` sees the stored
 * bytes arrive and is then dropped, so that it never hears of the f32 size.
 */
export async function withDecodedWeights<O extends ReadOptions>(
  base: string,
  options: O | undefined,
  stored: StoredWeights,
): Promise<O> {
  const file = await readWeights(base, options ?? {}, {
    embedded: stored.embedded,
    file: stored.file,
    byteLength: stored.encoding.bytes,
  });
  const decoded = decodeWeightFile(file, stored.encoding);
  return { ...options, weights: decoded, onProgress: undefined } as O;
}
