/**
 * Grouped fully-connected layers (fc1, fc2, fc3, share-set FCs, heads) as
 * GEMMs: rows of A are the splat side, the weight is packed at load into
 * [group][8-feature panel][k][8] and is the vector side. A is read in place
 * when it is a plain load with affine rows and features (row stride,
 * feature stride); a permuted input (the RepMLP partition) or a fused
 * prologue (the global perceptron's add) is gathered per tile instead, so no
 * transpose or add kernel ever runs.
 */
import type { GemmKernel } from "../../plan/mod.ts";
import { addr, i32, mul, type Sx, sx } from "../wat.ts";
import { accessOf } from "./access.ts";
import type { GenContext } from "./context.ts";
import { splitExpr } from "./epilogue.ts";
import { gatherPack } from "./gather.ts";
import { emitGemm, gemmBlocking, type GemmPlan } from "./gemm.ts";
import { gemmEpilogue } from "./gemm_epilogue.ts";
import { NR } from "./microkernel.ts";

/** Weight panels that must reuse a row tile before packing it pays off. */
const REUSE_TO_PACK = 4;

/** The splat side: A's rows, in place or gathered (with any prologue) per tile. */
function rowSide(kernel: GemmKernel, ctx: GenContext, name: string): GemmPlan["s"] {
  const { res, variant, mod } = ctx;
  const { m, k, n, groups } = kernel;
  const mr = variant.mr;
  const mTiles = Math.ceil(m / mr), nTiles = Math.ceil(n / NR);
  const counts = [m, groups * k];
  // Rows are read in place only when few weight panels reuse them: a packed A is
  // one stream of `panel` floats per k (measured 15% faster on fc3 at batch 1).
  if (kernel.a.kind === "load" && nTiles < REUSE_TO_PACK) {
    const x = accessOf(kernel.a.operand, counts, res);
    const [rowPart, kPart] = x.parts;
    if (rowPart.kind === "affine" && kPart.kind === "affine") {
      const rowBytes = rowPart.stride * 4, kBytes = kPart.stride * 4;
      return {
        tiles: mTiles,
        tileBytes: k * mr * 4,
        rows: m,
        rowBytes,
        step: kBytes,
        pointer: (tile, _b, g) =>
          addr(addr(i32(x.base), mul(tile, mr * rowBytes)), mul(g, k * kBytes)),
      };
    }
  }
  const fn = `${name}_pack_x`;
  const panel = Math.min(mr, m);
  const a = splitExpr(kernel.a, counts, res);
  mod.add(gatherPack(fn, { a, rowsPerGroup: m, rowGrouped: false, kGrouped: true, k, panel }, res));
  return {
    tiles: mTiles,
    tileBytes: k * panel * 4,
    rows: m,
    rowBytes: 4,
    step: panel * 4,
    pack: { fn, batched: false },
  };
}

/** The vector side: weight panels packed at load, or gathered per tile when computed. */
function weightSide(kernel: GemmKernel, ctx: GenContext, name: string): GemmPlan["v"] {
  const { res, mod } = ctx;
  const { k, n, groups, w } = kernel;
  const nTiles = Math.ceil(n / NR);
  const panelBytes = k * NR * 4;
  if (w.kind === "constant") {
    const base = res.packed({ value: w.value, groups, rows: n, k, panel: NR });
    return {
      tiles: nTiles,
      tileBytes: panelBytes,
      step: NR * 4,
      shifts: [0],
      pointer: (tile, _b, g) =>
        addr(addr(i32(base), mul(g, nTiles * panelBytes)), mul(tile, panelBytes)),
    };
  }
  const fn = `${name}_pack_w`;
  const a = splitExpr({ kind: "load", operand: w.operand }, [groups * n, k], res);
  mod.add(
    gatherPack(fn, { a, rowsPerGroup: n, rowGrouped: true, kGrouped: false, k, panel: NR }, res),
  );
  return {
    tiles: nTiles,
    tileBytes: panelBytes,
    step: NR * 4,
    shifts: [0],
    pack: { fn, batched: false },
  };
}

/** Emits a linear kernel; returns the function to call. */
export function emitLinear(kernel: GemmKernel, ctx: GenContext): string {
  const { res, variant, mod, index } = ctx;
  const name = `k${index}_linear`;
  const { m, k, n, groups } = kernel;
  const mr = variant.mr, nTiles = Math.ceil(n / NR);
  const s = rowSide(kernel, ctx, name);
  const v = weightSide(kernel, ctx, name);
  const counts = [m, groups * n];
  const epilogue = `${name}_epi`;
  mod.add(gemmEpilogue(epilogue, {
    epilogue: splitExpr(kernel.epilogue, counts, res),
    out: accessOf(kernel.out, counts, res),
    batched: false,
    partialLanes: n % NR,
  }, res));
  const blocking = gemmBlocking(s, v);
  const scratch = blocking.bytes > 0 ? res.scratchFor(index, blocking.bytes) : 0;
  const plan: GemmPlan = {
    name,
    batch: 1,
    groups,
    k,
    s,
    v,
    m0: (mt: Sx) => mul(mt, mr),
    n0: (nt: Sx, g: Sx) => addr(mul(g, n), mul(nt, NR)),
    partial: n % NR ? (nt: Sx) => sx("i32.eq", nt, i32(nTiles - 1)) : undefined,
  };
  return emitGemm(plan, blocking, { scratch, variant, mod, epilogue, threads: ctx.threads, index });
}
