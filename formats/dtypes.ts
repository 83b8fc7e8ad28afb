/**
 * Float formats that checkpoints store and refold widens to float32: IEEE
 * half (f16), bfloat16 (the top half of a float32) and float64. Shared by the
 * safetensors and torch.save readers.
 */

/** The machine's byte order; checkpoints are little-endian unless they say otherwise. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the bytes of each `width`-byte element in place. */
export function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) {
    bytes.subarray(i, i + width).reverse();
  }
}

let halfTable: Float32Array | undefined;

/** All 65536 half-precision values, built once: a lookup beats bit twiddling per element. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    halfTable[bits] = exponent === 0
      ? sign * fraction * 2 ** -24
      : exponent === 31
      ? (fraction ? NaN : sign * Infinity)
      : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return halfTable;
}

/** f16 bit patterns as float32 (exact: every half is a float). */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** bfloat16 bit patterns as float32 (exact). */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return out;
}
