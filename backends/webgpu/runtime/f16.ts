/**
 * IEEE half-precision conversion for weight files written as f16: encoding
 * at compile time and decoding at load on devices without shader-f16. The
 * one definition is ir/half.ts (round to nearest even, subnormals kept,
 * overflow to infinity); this module names it for the WebGPU runtime.
 */
export { decodeHalves, encodeHalves, fromHalf, toHalf } from "../../../ir/half.ts";
