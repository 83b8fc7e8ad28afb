/**
 * conv2d as GEMM, NCHW: the weight (packed at load into [group][MR
 * channels][k][MR]) is the splat side, output pixels the vector side.
 * Four ways to feed the pixels, chosen from the static shape:
 * - flat: a 1x1 stride-1 unpadded conv reads its input rows in place;
 * - wrapped: a stride-1 conv as wide as its input, with rows not a multiple
 *   of 8, reads one flat run of pixels from column-masked copies
 *   (wrapped.ts), so tiles cross row ends and waste no lanes;
 * - rows: other convs with a constant weight (and strides up to 2 across)
 *   walk output rows 8 pixels at a time and read each tap as the input row
 *   shifted by (ky, kx): no im2col. A padded or strided conv first copies the
 *   image into a zero-bordered scratch split into stride phases. Every tap
 *   runs inside each input-channel step, weights packed (channel, tap).
 * - im2col: the rest gather 8 pixels x (c, ky, kx) per tile.
 * Depthwise convs have their own kernel (depthwise.ts).
 * The plan gives this target conv inputs as plain loads with one stride per
 * axis (no conv prologue, TargetCaps.stridedWindows).
 */
import type { WindowGeometry } from "../../../ir/mod.ts";
import type { GemmKernel } from "../../plan/mod.ts";
import { addr, i32, mul, type Sx, sx } from "../wat.ts";
import { accessOf } from "./access.ts";
import type { GenContext } from "./context.ts";
import { splitExpr } from "./epilogue.ts";
import { depthwiseFits, emitDepthwise } from "./depthwise.ts";
import { gatherPack } from "./gather.ts";
import { emitGemm, gemmBlocking, type GemmPlan } from "./gemm.ts";
import { gemmEpilogue } from "./gemm_epilogue.ts";
import { im2colPack, type ImageWindow, padCopy } from "./image.ts";
import { NR } from "./microkernel.ts";
import { wrappedFits, wrappedPixels } from "./wrapped.ts";

type Mode = "flat" | "wrapped" | "rows" | "im2col";

/** The vector side and what else it needs: pixel addressing, a padded copy. */
export interface PixelSide {
  readonly v: GemmPlan["v"];
  readonly n0: GemmPlan["n0"];
  readonly partial: GemmPlan["partial"];
  readonly partialLanes: number;
  readonly prologue?: GemmPlan["prologue"];
  /** Scratch bytes for the padded copy, and how to emit it once its address is known. */
  readonly pad?: { readonly bytes: number; readonly emit: (scratch: number) => void };
}

/** The conv's input image: its window geometry, base address and strides. */
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

function chooseMode(image: ImageWindow, kernel: GemmKernel): Mode {
  const { kernel: [kh, kw], stride, pads } = image.window;
  const [, , sh, sw] = image.strides;
  const unit = stride[0] === 1 && stride[1] === 1;
  const unpadded = pads.every((pad) => pad === 0);
  if (kh * kw === 1 && unit && unpadded && sw === 1 && sh === image.width) return "flat";
  if (wrappedFits(image, kernel)) return "wrapped";
  if (unit && kh * kw === 1) return "rows";
  // A strided 1x1 conv would copy every phase to read one; im2col gathers only what it reads.
  const phases = stride[1] <= 2 && kh * kw > 1;
  return (unit || phases) && kernel.w.kind === "constant" ? "rows" : "im2col";
}

/**
 * The splat side: the weight, [group][tile][k][MR]; in rows mode each k step
 * (an input channel) spans its `taps` taps, (channel, tap) as stored.
 */
function weightSide(kernel: GemmKernel, ctx: GenContext, name: string, taps = 1) {
  const { res, variant, mod } = ctx;
  const { n: og, k, groups, w } = kernel;
  const mr = variant.mr, mTiles = Math.ceil(og / mr), tileBytes = k * mr * 4;
  const side = { tiles: mTiles, tileBytes, rows: og, rowBytes: 4, step: taps * mr * 4 };
  if (w.kind === "constant") {
    const base = res.packed({ value: w.value, groups, rows: og, k, panel: mr });
    return {
      ...side,
      pointer: (tile: Sx, _b: Sx, g: Sx) =>
        addr(addr(i32(base), mul(g, mTiles * tileBytes)), mul(tile, tileBytes)),
    };
  }
  const fn = `${name}_pack_w`;
  const a = splitExpr({ kind: "load", operand: w.operand }, [groups * og, k], res);
  mod.add(
    gatherPack(fn, { a, rowsPerGroup: og, rowGrouped: true, kGrouped: false, k, panel: mr }, res),
  );
  return { ...side, pack: { fn, batched: false } };
}

/** Pixels read in place: a 1x1 stride-1 conv over rows of the input. */
function flatPixels(image: ImageWindow, k: number): PixelSide {
  const pixels = image.outHeight * image.outWidth, tiles = Math.ceil(pixels / NR);
  const [sb, sc] = image.strides, cg = image.channels / image.groups;
  return {
    v: {
      tiles,
      tileBytes: k * NR * 4,
      step: sc * 4,
      shifts: [0],
      pointer: (tile, b, g) =>
        addr(addr(addr(i32(image.base), mul(b, sb * 4)), mul(g, cg * sc * 4)), mul(tile, NR * 4)),
    },
    n0: (nt) => mul(nt, NR),
    partial: pixels % NR ? (nt) => sx("i32.eq", nt, i32(tiles - 1)) : undefined,
    partialLanes: pixels % NR,
  };
}

/** Floats a rows-mode tile may read past the padded copy (lanes it discards). */
const COPY_SLACK = 64;

/** Where a rows-mode conv reads: the input in place, or its padded (phase-split) copy. */
function rowSource(image: ImageWindow) {
  const { pads, stride: [strideY, strideX] } = image.window;
  const [sb, sc, sh, sw] = image.strides;
  const copy = !(pads.every((pad) => pad === 0) && sw === 1 && strideY === 1 && strideX === 1);
  if (!copy) return { copy, rowStride: sh, phaseStride: 0, planeStride: sc, imageStride: sb };
  const paddedWidth = image.width + pads[1] + pads[3];
  const paddedHeight = image.height + pads[0] + pads[2];
  const rowStride = strideX === 1 ? paddedWidth : 4 * Math.ceil(paddedWidth / 8);
  const phaseStride = Math.ceil(paddedHeight / strideY) * rowStride;
  return {
    copy,
    rowStride,
    phaseStride,
    planeStride: strideY * strideX * phaseStride,
    imageStride: 0,
  };
}

/**
 * Pixels as shifted input rows, 8 output pixels of one row per tile: no
 * im2col. A padded or strided conv first copies the image into a
 * zero-bordered scratch, split into stride phases, so that tap (ky, kx)
 * reads phase (ky*dh mod sy, kx*dw mod sx) shifted by (ky*dh div sy,
 * kx*dw div sx) at 8 consecutive floats.
 */
function rowPixels(image: ImageWindow, k: number, ctx: GenContext, name: string): PixelSide {
  const { kernel: [kh, kw], dilation, stride: [strideY, strideX] } = image.window;
  const { copy, rowStride, phaseStride, planeStride, imageStride } = rowSource(image);
  const cg = image.channels / image.groups;
  let sourceBase = image.base;
  const oxTiles = Math.ceil(image.outWidth / NR);
  const oy = (nt: Sx) => sx("i32.div_u", nt, i32(oxTiles));
  const ox = (nt: Sx) => sx("i32.rem_u", nt, i32(oxTiles));
  const partialLanes = image.outWidth % NR;
  const shift = (t: number) => {
    const dy = Math.floor(t / kw) * dilation[0], dx = (t % kw) * dilation[1];
    const phase = (dy % strideY) * strideX + (dx % strideX);
    return (phase * phaseStride + Math.floor(dy / strideY) * rowStride + Math.floor(dx / strideX)) *
      4;
  };
  const copyBytes = image.channels * planeStride * 4 + COPY_SLACK * 4;
  return {
    v: {
      tiles: image.outHeight * oxTiles,
      tileBytes: k * NR * 4,
      step: planeStride * 4,
      shifts: Array.from({ length: kh * kw }, (_, t) => shift(t)),
      pointer: (tile, b, g) =>
        addr(
          addr(
            addr(addr(i32(sourceBase), mul(b, imageStride * 4)), mul(g, cg * planeStride * 4)),
            mul(oy(tile), rowStride * 4),
          ),
          mul(ox(tile), NR * 4),
        ),
    },
    n0: (nt) => addr(mul(oy(nt), image.outWidth), mul(ox(nt), NR)),
    partial: partialLanes ? (nt) => sx("i32.eq", ox(nt), i32(oxTiles - 1)) : undefined,
    partialLanes,
    ...(copy
      ? {
        prologue: (b: Sx) => [sx("call", `$${name}_pad`, b)],
        pad: {
          bytes: copyBytes + (strideX === 1 ? 0 : 2 * rowStride * 4),
          emit: (scratch: number) => {
            sourceBase = scratch;
            ctx.mod.add(padCopy(`${name}_pad`, {
              image,
              dst: scratch,
              rowStride,
              phaseStride,
              planeStride,
              bytes: copyBytes,
              rowBuffer: strideX === 1 ? undefined : scratch + copyBytes,
            }));
          },
        },
      }
      : {}),
  };
}

/** Pixels of a strided conv, gathered 8 at a time by im2col. */
function im2colPixels(image: ImageWindow, k: number, ctx: GenContext, name: string): PixelSide {
  const fn = `${name}_im2col`;
  ctx.mod.add(im2colPack(fn, image));
  const side = flatPixels(image, k);
  return {
    ...side,
    v: {
      tiles: side.v.tiles,
      tileBytes: k * NR * 4,
      step: NR * 4,
      shifts: [0],
      pack: { fn, batched: true },
    },
  };
}

/** Emits a conv kernel; returns the function to call. */
export function emitConv(kernel: GemmKernel, ctx: GenContext): string {
  if (kernel.shape.op !== "conv") throw new Error(`internal: ${kernel.label} is not a conv`);
  const { res, variant, mod, index } = ctx;
  const name = `k${index}_conv`;
  const image = imageOf(kernel as GemmKernel & { shape: { op: "conv" } }, ctx);
  if (depthwiseFits(image, kernel)) return emitDepthwise(kernel, image, ctx);
  const mode = chooseMode(image, kernel);
  const [kh, kw] = image.window.kernel;
  const taps = kh * kw;
  const s = weightSide(kernel, ctx, name, mode === "rows" || mode === "wrapped" ? taps : 1);
  const pixels = mode === "flat"
    ? flatPixels(image, kernel.k)
    : mode === "wrapped"
    ? wrappedPixels(image, kernel.k, ctx, name)
    : mode === "rows"
    ? rowPixels(image, kernel.k, ctx, name)
    : im2colPixels(image, kernel.k, ctx, name);
  const epilogue = `${name}_epi`;
  mod.add(gemmEpilogue(epilogue, {
    epilogue: splitExpr(kernel.epilogue, kernel.space, res),
    out: accessOf(kernel.out, kernel.space, res),
    batched: true,
    partialLanes: pixels.partialLanes,
  }, res));
  const blocking = gemmBlocking(s, pixels.v);
  const total = blocking.bytes + (pixels.pad?.bytes ?? 0);
  const scratch = total > 0 ? res.scratchFor(index, total) : 0;
  pixels.pad?.emit(scratch + blocking.bytes);
  const og = kernel.n;
  const plan: GemmPlan = {
    name,
    batch: image.batch,
    groups: kernel.groups,
    k: mode === "rows" || mode === "wrapped" ? image.channels / image.groups : kernel.k,
    s,
    v: pixels.v,
    m0: (mt, g) => addr(mul(g, og), mul(mt, variant.mr)),
    n0: pixels.n0,
    partial: pixels.partial,
    prologue: pixels.prologue,
  };
  return emitGemm(plan, blocking, { scratch, variant, mod, epilogue, threads: ctx.threads, index });
}
