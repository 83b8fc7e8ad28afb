/**
 * int8 GEMMs (`arithmetic: "int8"`, see plan/quantize.ts): the drivers of
 * linear layers and convs over the int8 microkernel, with the same
 * per-tile f32 epilogue (gemm_epilogue.ts) as the f32 GEMMs.
 *
 * - linear: each row of A (per group) is gathered (any view, any fused
 *   prologue, as the f32 kernel gathers it), quantized to 7-bit codes with
 *   its own scale and zero point, and is the splat side; the weight,
 *   quantized and packed at compile time (int8_pack.ts), is the vector side.
 * - conv: the weight rows are the splat side; each image's output pixels are
 *   quantized 8 at a time, each over its contraction (its group's channels
 *   for a 1x1 conv read in place, its im2col column otherwise), into vector
 *   panels.
 *
 * The loops over tiles are int8_driver.ts's.
 */
import type { WindowGeometry } from "../../../ir/mod.ts";
import type { GemmKernel } from "../../plan/mod.ts";
import { packWeightPanels, packWeightRows, paddedK, panelBytes } from "../int8_pack.ts";
import { addr, f32, forLoop, FuncBuilder, get, i32, mul, type Sx, sx } from "../wat.ts";
import { accessOf } from "./access.ts";
import type { GenContext } from "./context.ts";
import { splitExpr } from "./epilogue.ts";
import { gatherPack } from "./gather.ts";
import { gemmEpilogue } from "./gemm_epilogue.ts";
import { im2colPack, type ImageWindow } from "./image.ts";
import { groupLoops, type Int8Plan } from "./int8_driver.ts";
import { INT8_NR, int8Rows } from "./int8_microkernel.ts";
import { QUANTIZE_ROW, quantizePixelsFunction, quantizeRowFunction } from "./int8_quantize.ts";

/** Shorter contractions stay f32: a row's quantization costs more than its few products. */
export const MIN_INT8_K = 16;

/**
 * Why the wasm target cannot compute `kernel` in int8 (undefined: it can):
 * contractions under MIN_INT8_K (depthwise convs) or over MAX_INT8_K.
 */
export function int8Unsupported(kernel: GemmKernel): string | undefined {
  // 127 * 127 * k must stay below 2^31 for the i32 sums to be exact.
  if (kernel.k > MAX_INT8_K) return `its contraction of ${kernel.k} exceeds ${MAX_INT8_K}`;
  if (kernel.k < MIN_INT8_K) return `its contraction of ${kernel.k} is under ${MIN_INT8_K}`;
  return undefined;
}

/** True when a conv is 1x1, stride 1, unpadded, over whole planes: pixels read in place. */
function isFlat(kernel: GemmKernel & { shape: { op: "conv" } }, image: ImageWindow): boolean {
  const { window, height, width } = kernel.shape.geometry;
  const { kernel: [kh, kw], stride, pads } = window;
  if (kh * kw !== 1 || stride[0] !== 1 || stride[1] !== 1 || pads.some((pad) => pad !== 0)) {
    return false;
  }
  // Pixel (y, x) must sit at y * width + x of its plane.
  const [, , sh, sw] = image.strides;
  return (width === 1 || sw === 1) && (height === 1 || sh === width);
}

/** The conv's input image: window geometry, base address and strides. */
function imageOf(kernel: GemmKernel & { shape: { op: "conv" } }, ctx: GenContext): ImageWindow {
  const geometry: WindowGeometry = kernel.shape.geometry;
  if (kernel.a.kind !== "load") throw new Error(`internal: ${kernel.label} has a prologue`);
  const { batch, channels, height, width } = geometry;
  const x = accessOf(kernel.a.operand, [batch, channels, height, width], ctx.res);
  const strides = x.parts.map((part) => {
    if (part.kind !== "affine") throw new Error(`internal: ${kernel.label} reads a table`);
    return part.stride;
  }) as unknown as ImageWindow["strides"];
  return { ...geometry, base: x.base, strides };
}

/** The longest contraction whose i32 sums cannot overflow (127 * 127 * k < 2^31). */
export const MAX_INT8_K = 133_000;

/** Compile-time packings, shared by the two module variants (keyed by weight and layout). */
const packings = new WeakMap<object, Map<string, Uint8Array>>();

function packed(value: object, key: string, make: () => Uint8Array): Uint8Array {
  let byKey = packings.get(value);
  if (!byKey) packings.set(value, byKey = new Map());
  let bytes = byKey.get(key);
  if (!bytes) byKey.set(key, bytes = make());
  return bytes;
}

/** Emits an int8 linear kernel; returns the function to call. */
export function emitInt8Linear(kernel: GemmKernel, ctx: GenContext): string {
  const { res, variant, mod, index } = ctx;
  const name = `k${index}_linear8`;
  const { m, k, n, groups, w } = kernel;
  if (w.kind !== "constant") {
    throw new Error(`internal: ${kernel.label} int8 with a computed weight`);
  }
  const kp = paddedK(k), quads = kp / 4, mr = int8Rows(variant);
  const nTiles = Math.ceil(n / INT8_NR), bytes = panelBytes(k);
  const weights = res.blob(
    `linear8/${w.value.id}/${groups}/${n}/${k}`,
    () =>
      packed(
        w.value,
        `linear/${groups}/${n}/${k}`,
        () => packWeightPanels(w.value.data!, groups, n, k),
      ),
  );
  // Scratch: one f32 row, then the codes [g][m][kp], then {scale, zero} per row.
  const codesAt = kp * 4, paramsAt = codesAt + groups * m * kp;
  const scratch = res.scratchFor(index, paramsAt + groups * m * 8);
  const counts = [m, groups * k];
  mod.add(gatherPack(`${name}_row`, {
    a: splitExpr(kernel.a, counts, res),
    rowsPerGroup: m,
    rowGrouped: false,
    kGrouped: true,
    k,
    panel: 1,
  }, res));
  mod.add(quantizeRowFunction());
  const epilogue = `${name}_epi`;
  mod.add(gemmEpilogue(epilogue, {
    epilogue: splitExpr(kernel.epilogue, [m, groups * n], res),
    out: accessOf(kernel.out, [m, groups * n], res),
    batched: false,
    partialLanes: n % INT8_NR,
  }, res));
  const fb = new FuncBuilder(name);
  const g = fb.local("g", "i32"), r = fb.local("r", "i32");
  const row = (rr: Sx) => sx("i32.add", mul(get(g), m), rr);
  const quantize = forLoop(r, { start: 0, end: m }, [
    sx("call", `$${name}_row`, get(r), get(g), i32(scratch)),
    // The padding of k must read as zero (the range holds 0, so it is exact).
    ...Array.from(
      { length: kp - k },
      (_, i) => sx("f32.store", i32(scratch + 4 * (k + i)), f32(0)),
    ),
    sx(
      "call",
      `$${QUANTIZE_ROW}`,
      i32(scratch),
      i32(quads),
      addr(i32(scratch + codesAt), mul(row(get(r)), kp)),
      addr(i32(scratch + paramsAt), mul(row(get(r)), 8)),
    ),
  ]);
  const plan: Int8Plan = {
    quads,
    activations: "s",
    sTiles: Math.ceil(m / mr),
    sRows: m,
    vTiles: nTiles,
    sTileBytes: mr * kp,
    vTileBytes: bytes,
    pointers: (st, vt, gg) => [
      addr(i32(scratch + codesAt), mul(sx("i32.add", mul(gg, m), mul(st, mr)), kp)),
      addr(i32(scratch + paramsAt), mul(sx("i32.add", mul(gg, m), mul(st, mr)), 8)),
      addr(i32(weights), mul(sx("i32.add", mul(gg, nTiles), vt), bytes)),
    ],
    place: (st, vt, gg) => [i32(0), mul(st, mr), addr(mul(gg, n), mul(vt, INT8_NR))],
    partial: n % INT8_NR ? (_st, vt) => sx("i32.eq", vt, i32(nTiles - 1)) : undefined,
  };
  fb.emit(forLoop(g, { start: 0, end: groups }, [
    ...quantize,
    ...groupLoops(fb, plan, ctx, get(g), epilogue),
  ]));
  mod.add(fb);
  return name;
}

/**
 * Emits an int8 conv kernel; returns the function to call. Pixels are
 * quantized 8 at a time over their contraction: a flat 1x1 conv reads them
 * in place; any other conv gathers them first with the f32 kernels' im2col.
 */
export function emitInt8Conv(kernel: GemmKernel, ctx: GenContext): string {
  if (kernel.shape.op !== "conv" || kernel.a.kind !== "load" || kernel.w.kind !== "constant") {
    throw new Error(`internal: ${kernel.label} is not an int8 conv`);
  }
  const { res, variant, mod, index } = ctx;
  const name = `k${index}_conv8`;
  const geometry: WindowGeometry = kernel.shape.geometry;
  const { batch, channels, groups, outChannels } = geometry;
  const value = kernel.w.value;
  const image = imageOf(kernel as GemmKernel & { shape: { op: "conv" } }, ctx);
  const flat = isFlat(kernel as GemmKernel & { shape: { op: "conv" } }, image);
  const cg = channels / groups, og = outChannels / groups, k = kernel.k;
  const kp = paddedK(k), quads = kp / 4, mr = int8Rows(variant);
  const pixels = geometry.outHeight * geometry.outWidth;
  const pTiles = Math.ceil(pixels / INT8_NR), bytes = panelBytes(k);
  const weights = res.blob(
    `conv8/${value.id}/${outChannels}/${k}`,
    () =>
      packed(value, `rows/${outChannels}/${k}`, () => packWeightRows(value.data!, outChannels, k)),
  );
  const [sb, sc] = image.strides;
  // im2col's f32 panel [k][8] follows the quantized panels in scratch.
  const scratch = res.scratchFor(index, pTiles * bytes + (flat ? 0 : k * INT8_NR * 4));
  const panel = scratch + pTiles * bytes;
  const source = flat ? { planeBytes: sc * 4, channels: cg } : { planeBytes: 32, channels: k };
  mod.add(quantizePixelsFunction(`${name}_quant`, source));
  if (!flat) mod.add(im2colPack(`${name}_im2col`, image));
  const epilogue = `${name}_epi`;
  mod.add(gemmEpilogue(epilogue, {
    epilogue: splitExpr(kernel.epilogue, kernel.space, res),
    out: accessOf(kernel.out, kernel.space, res),
    batched: true,
    partialLanes: pixels % INT8_NR,
  }, res));
  const fb = new FuncBuilder(name);
  const b = fb.local("b", "i32"), g = fb.local("g", "i32"), t = fb.local("t", "i32");
  const dst = addr(i32(scratch), mul(get(t), bytes));
  const quantize = forLoop(
    t,
    { start: 0, end: pTiles },
    flat
      ? [
        sx(
          "call",
          `$${name}_quant`,
          addr(
            addr(addr(i32(image.base), mul(get(b), sb * 4)), mul(get(g), cg * sc * 4)),
            mul(get(t), 32),
          ),
          dst,
        ),
      ]
      : [
        sx("call", `$${name}_im2col`, get(t), get(b), get(g), i32(panel)),
        sx("call", `$${name}_quant`, i32(panel), dst),
      ],
  );
  const plan: Int8Plan = {
    quads,
    activations: "v",
    sTiles: Math.ceil(og / mr),
    sRows: og,
    vTiles: pTiles,
    sTileBytes: mr * kp,
    vTileBytes: bytes,
    pointers: (st, vt, gg) => [
      addr(i32(weights), mul(sx("i32.add", mul(gg, og), mul(st, mr)), kp)),
      addr(i32(weights + outChannels * kp), mul(sx("i32.add", mul(gg, og), mul(st, mr)), 8)),
      addr(i32(scratch), mul(vt, bytes)),
    ],
    place: (st, vt, gg) => [get(b), addr(mul(gg, og), mul(st, mr)), mul(vt, INT8_NR)],
    partial: pixels % INT8_NR ? (_st, vt) => sx("i32.eq", vt, i32(pTiles - 1)) : undefined,
  };
  fb.emit(forLoop(b, { start: 0, end: batch }, [
    ...forLoop(g, { start: 0, end: groups }, [
      ...quantize,
      ...groupLoops(fb, plan, ctx, get(g), epilogue),
    ]),
  ]));
  mod.add(fb);
  return name;
}
