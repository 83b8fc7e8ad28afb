/**
 * conv2d as GEMM, NCHW: the weight (packed at load into [group][MR
 * channels][k][MR]) is the splat side, output pixels the vector side.
 * Three ways to feed the pixels, chosen from the static shape:
 * - flat: a 1x1 stride-1 unpadded conv reads its input rows in place;
 * - rows: any stride-1 conv walks output rows 8 pixels at a time and reads
 *   each tap as the input row shifted by (ky, kx): no im2col. A padded conv
 *   first copies the image into a zero-bordered scratch. Weights are packed
 *   tap-major to match.
 * - im2col: strided convs gather 8 pixels x (c, ky, kx) per tile.
 */
import type { ConvKernel } from "../schedule.ts";
import { addr, i32, mul, type Sx, sx } from "../wat.ts";
import { accessOf } from "./access.ts";
import type { GenContext } from "./context.ts";
import { chainSteps } from "./epilogue.ts";
import { emitGemm, gemmBlocking, gemmEpilogue, type GemmPlan } from "./gemm.ts";
import { NR } from "./microkernel.ts";
import { type ConvGeometry, gatherPack, im2colPack, padCopy } from "./pack.ts";

type Mode = "flat" | "rows" | "im2col";

/** Emits a conv kernel; returns the function to call. */
export function emitConv(kernel: ConvKernel, ctx: GenContext): string {
  const { res, variant, mod, index } = ctx;
  const name = `k${index}_conv`;
  const [batch, channels, inH, inW] = kernel.inShape;
  const [, outC, outH, outW] = kernel.outShape;
  const [kh, kw] = kernel.kernel;
  const { groups, stride, pads, dilation } = kernel;
  const cg = channels / groups, og = outC / groups, pixels = outH * outW, taps = kh * kw;
  const k = cg * taps;
  const mr = variant.mr;
  const x = accessOf(kernel.x, kernel.inShape, res);
  const strides = x.parts.map((part) => (part.kind === "affine" ? part.stride : NaN)) as [
    number,
    number,
    number,
    number,
  ];
  const [sb, sc, sh, sw] = strides;
  const unit = stride[0] === 1 && stride[1] === 1;
  const unpadded = pads.every((pad) => pad === 0);
  const mode: Mode = taps === 1 && unit && unpadded && sw === 1 && sh === inW
    ? "flat"
    : unit && (taps === 1 || kernel.weight.kind === "constant")
    ? "rows"
    : "im2col";
  const geo: ConvGeometry = {
    x,
    strides,
    channels: cg,
    inH,
    inW,
    outW,
    pixels,
    kernel: kernel.kernel,
    stride,
    pads,
    dilation,
  };

  // Splat side: the weight, [group][tile][k][MR], tap-major in rows mode.
  const mTiles = Math.ceil(og / mr);
  const tileBytes = k * mr * 4;
  const tapMajor = mode === "rows" && taps > 1;
  let s: GemmPlan["s"];
  if (kernel.weight.kind === "constant") {
    const base = res.packed({
      value: kernel.weight.value,
      groups,
      rows: og,
      k,
      panel: mr,
      taps: tapMajor ? taps : undefined,
    });
    s = {
      tiles: mTiles,
      tileBytes,
      rows: og,
      rowBytes: 4,
      step: mr * 4,
      pointer: (tile, _b, g) =>
        addr(addr(i32(base), mul(g, mTiles * tileBytes)), mul(tile, tileBytes)),
    };
  } else {
    const fn = `${name}_pack_w`;
    const access = accessOf(kernel.weight.operand, [outC, k], res);
    mod.add(
      gatherPack(
        fn,
        { access, rowsPerGroup: og, rowGrouped: true, kGrouped: false, k, panel: mr },
        res,
      ),
    );
    s = {
      tiles: mTiles,
      tileBytes,
      rows: og,
      rowBytes: 4,
      step: mr * 4,
      pack: { fn, batched: false },
    };
  }

  // Vector side: output pixels.
  const flatTiles = Math.ceil(pixels / NR);
  let v: GemmPlan["v"];
  let n0: GemmPlan["n0"] = (nt) => mul(nt, NR);
  let partial: GemmPlan["partial"] = pixels % NR
    ? (nt) => sx("i32.eq", nt, i32(flatTiles - 1))
    : undefined;
  let partialLanes = pixels % NR;
  let prologue: GemmPlan["prologue"];
  let padBytes = 0;
  let finishPad: ((scratch: number) => void) | undefined;
  if (mode === "flat") {
    v = {
      tiles: flatTiles,
      tileBytes: k * NR * 4,
      step: sc * 4,
      shifts: [0],
      pointer: (tile, b, g) =>
        addr(addr(addr(i32(x.base), mul(b, sb * 4)), mul(g, cg * sc * 4)), mul(tile, NR * 4)),
    };
  } else if (mode === "rows") {
    const copy = !(unpadded && sw === 1);
    const rowStride = copy ? inW + pads[1] + pads[3] : sh;
    const planeStride = copy ? (inH + pads[0] + pads[2]) * rowStride : sc;
    const imageStride = copy ? 0 : sb;
    const source = (scratch: number) => (copy ? scratch : x.base);
    let sourceBase = x.base;
    if (copy) {
      padBytes = channels * planeStride * 4;
      prologue = (b) => [sx("call", `$${name}_pad`, b)];
      finishPad = (scratch) => {
        sourceBase = source(scratch);
        mod.add(padCopy(`${name}_pad`, { geo, channels, dst: scratch, rowStride, planeStride }));
      };
    }
    const oxTiles = Math.ceil(outW / NR);
    const oy = (nt: Sx) => sx("i32.div_u", nt, i32(oxTiles));
    const ox = (nt: Sx) => sx("i32.rem_u", nt, i32(oxTiles));
    v = {
      tiles: outH * oxTiles,
      tileBytes: k * NR * 4,
      step: planeStride * 4,
      shifts: Array.from(
        { length: taps },
        (_, t) => (Math.floor(t / kw) * dilation[0] * rowStride + (t % kw) * dilation[1]) * 4,
      ),
      pointer: (tile, b, g) =>
        addr(
          addr(
            addr(addr(i32(sourceBase), mul(b, imageStride * 4)), mul(g, cg * planeStride * 4)),
            mul(oy(tile), rowStride * 4),
          ),
          mul(ox(tile), NR * 4),
        ),
    };
    n0 = (nt) => addr(mul(oy(nt), outW), mul(ox(nt), NR));
    partialLanes = outW % NR;
    partial = partialLanes ? (nt) => sx("i32.eq", ox(nt), i32(oxTiles - 1)) : undefined;
  } else {
    const fn = `${name}_im2col`;
    mod.add(im2colPack(fn, geo));
    v = {
      tiles: flatTiles,
      tileBytes: k * NR * 4,
      step: NR * 4,
      shifts: [0],
      pack: { fn, batched: true },
    };
  }

  const counts = [batch, outC, pixels];
  const epilogue = `${name}_epi`;
  mod.add(gemmEpilogue(epilogue, {
    steps: chainSteps(kernel.epilogue.ops, counts, res),
    out: accessOf(kernel.epilogue.out, counts, res),
    batched: true,
    partialLanes,
  }, res));
  const blocking = gemmBlocking(s, v);
  const total = blocking.bytes + padBytes;
  const scratch = total > 0 ? res.scratchFor(index, total) : 0;
  finishPad?.(scratch + blocking.bytes);
  const plan: GemmPlan = {
    name,
    batch,
    groups,
    k: mode === "rows" ? cg : k,
    s,
    v,
    m0: (mt, g) => addr(mul(g, og), mul(mt, mr)),
    n0,
    partial,
    prologue,
  };
  return emitGemm(plan, blocking, { scratch, variant, mod, epilogue, threads: ctx.threads, index });
}
