/**
 * Grouped fully-connected layers (fc1, fc2, fc3, share-set FCs, heads) as
 * GEMMs: rows of the input are the splat side, the weight is packed at load
 * into [group][8-feature panel][k][8] and is the vector side. The input is
 * read in place when its rows and features are affine (row stride, feature
 * stride); a permuted input (the RepMLP partition) is gathered per tile
 * through its tables instead, so no transpose kernel ever runs.
 */
import type { LinearKernel } from "../schedule.ts";
import { addr, i32, mul, type Sx, sx } from "../wat.ts";
import { accessOf } from "./access.ts";
import type { GenContext } from "./context.ts";
import { chainSteps } from "./epilogue.ts";
import { emitGemm, gemmBlocking, gemmEpilogue, type GemmPlan } from "./gemm.ts";
import { NR } from "./microkernel.ts";
import { gatherPack } from "./pack.ts";

/** Weight panels that must reuse a row tile before packing it pays off. */
const REUSE_TO_PACK = 4;

/** Emits a linear kernel; returns the function to call. */
export function emitLinear(kernel: LinearKernel, ctx: GenContext): string {
  const { res, variant, mod, index } = ctx;
  const name = `k${index}_linear`;
  const { m, k, n, groups } = kernel;
  const mr = variant.mr;
  const mTiles = Math.ceil(m / mr), nTiles = Math.ceil(n / NR);
  const x = accessOf(kernel.x, [m, groups * k], res);
  const [rowPart, kPart] = x.parts;
  let s: GemmPlan["s"];
  // Rows are read in place only when few weight panels reuse them: a packed A is
  // one stream of `panel` floats per k (measured 15% faster on fc3 at batch 1).
  const inPlace = rowPart.kind === "affine" && kPart.kind === "affine" && nTiles < REUSE_TO_PACK;
  const panel = Math.min(mr, m);
  if (inPlace) {
    const rowBytes = rowPart.stride * 4, kBytes = kPart.stride * 4;
    s = {
      tiles: mTiles,
      tileBytes: k * mr * 4,
      rows: m,
      rowBytes,
      step: kBytes,
      pointer: (tile, _b, g) =>
        addr(addr(i32(x.base), mul(tile, mr * rowBytes)), mul(g, k * kBytes)),
    };
  } else {
    const fn = `${name}_pack_x`;
    mod.add(
      gatherPack(fn, {
        access: x,
        rowsPerGroup: m,
        rowGrouped: false,
        kGrouped: true,
        k,
        panel,
      }, res),
    );
    s = {
      tiles: mTiles,
      tileBytes: k * panel * 4,
      rows: m,
      rowBytes: 4,
      step: panel * 4,
      pack: { fn, batched: false },
    };
  }
  let v: GemmPlan["v"];
  const panelBytes = k * NR * 4;
  if (kernel.weight.kind === "constant") {
    const base = res.packed({ value: kernel.weight.value, groups, rows: n, k, panel: NR });
    v = {
      tiles: nTiles,
      tileBytes: panelBytes,
      step: NR * 4,
      shifts: [0],
      pointer: (tile, _b, g) =>
        addr(addr(i32(base), mul(g, nTiles * panelBytes)), mul(tile, panelBytes)),
    };
  } else {
    const fn = `${name}_pack_w`;
    const access = accessOf(kernel.weight.operand, [groups * n, k], res);
    mod.add(
      gatherPack(
        fn,
        { access, rowsPerGroup: n, rowGrouped: true, kGrouped: false, k, panel: NR },
        res,
      ),
    );
    v = {
      tiles: nTiles,
      tileBytes: panelBytes,
      step: NR * 4,
      shifts: [0],
      pack: { fn, batched: false },
    };
  }
  const counts = [m, groups * n];
  const epilogue = `${name}_epi`;
  mod.add(gemmEpilogue(epilogue, {
    steps: chainSteps(kernel.epilogue.ops, counts, res),
    out: accessOf(kernel.epilogue.out, counts, res),
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
