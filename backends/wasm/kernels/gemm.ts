/**
 * The GEMM driver shared by linear and conv: C[m][n] = sum_k S[m][k] V[k][n]
 * in MR x 8 tiles. S is the splat side (rows of A), V the vector side.
 *
 * Blocking: the operand with the smaller footprint is "inner": its tiles are
 * visited in chunks that fit half the L2 cache, while each tile of the other
 * ("outer") operand is read once from memory and reused across the chunk
 * from L1. At batch 1 the FC weights are outer and stream once; activations
 * stay cached. Operands packed at run time are packed per chunk (inner) or
 * per tile (outer) into this kernel's scratch.
 *
 * The epilogue (gemm_epilogue.ts) runs per tile: it reads the accumulator
 * tile, applies the epilogue expression and stores through the output view.
 */
import { TILE } from "../resources.ts";
import { addr, forLoop, FuncBuilder, get, i32, ifElse, mul, set, type Sx, sx } from "../wat.ts";
import { microkernel, microkernelName, NR, type Variant } from "./microkernel.ts";
import type { ModuleBuilder } from "../wat.ts";
import type { ThreadGen } from "./context.ts";

/** Half of this machine's 1 MiB L2, per core. */
const CHUNK_BUDGET = 512 * 1024;

/** One GEMM operand. */
export interface GemmSide {
  /** Tiles per group (per image for a conv's pixels). */
  readonly tiles: number;
  /** Bytes one tile occupies in cache: k * rows * 4. */
  readonly tileBytes: number;
  /** Pointer advance per k, bytes. */
  readonly step: number;
  /** Tile address for operands read in place or packed at load. */
  readonly pointer?: (tile: Sx, b: Sx, g: Sx) => Sx;
  /** A run-time packer `(tile, b, g, dst)` (or `(tile, g, dst)` when `batched` is false). */
  readonly pack?: { readonly fn: string; readonly batched: boolean };
}

/** Everything the driver needs about one GEMM kernel. */
export interface GemmPlan {
  readonly name: string;
  readonly batch: number;
  readonly groups: number;
  /** Microkernel trip count (per tap). */
  readonly k: number;
  readonly s: GemmSide & { readonly rows: number; readonly rowBytes: number };
  readonly v: GemmSide & { readonly shifts: readonly number[] };
  /** The first global row (epilogue index) of S tile `mt` in group g. */
  readonly m0: (mt: Sx, g: Sx) => Sx;
  /** The first global column of V tile `nt` in group g. */
  readonly n0: (nt: Sx, g: Sx) => Sx;
  /** Nonzero when V tile `nt` is the partial one (undefined: never partial). */
  readonly partial?: (nt: Sx) => Sx;
  /** Per-image preparation (the padded copy). */
  readonly prologue?: (b: Sx) => Sx[];
}

/** Loop order and scratch use chosen for a plan. */
export interface Blocking {
  readonly innerIsS: boolean;
  readonly chunkTiles: number;
  /** Scratch bytes the driver needs for run-time packing. */
  readonly bytes: number;
}

/** Chooses the inner operand and its chunk size. */
export function gemmBlocking(s: GemmSide, v: GemmSide): Blocking {
  const innerIsS = s.tiles * s.tileBytes <= v.tiles * v.tileBytes;
  const inner = innerIsS ? s : v, outer = innerIsS ? v : s;
  const chunkTiles = Math.max(1, Math.min(inner.tiles, Math.floor(CHUNK_BUDGET / inner.tileBytes)));
  const bytes = (inner.pack ? chunkTiles * inner.tileBytes : 0) +
    (outer.pack ? outer.tileBytes : 0);
  return { innerIsS, chunkTiles, bytes };
}

/** Where a driver's tile and packed operands live. */
interface Scratch {
  /** An address in this kernel's scratch (a split driver's: this thread's private region). */
  readonly at: (offset: number) => Sx;
  /** Offsets of the inner operand's packed chunk and the outer operand's packed tile. */
  readonly inner: number;
  readonly outer: number;
  /** The accumulator tile. */
  readonly tile: Sx;
}

/** The driver's loop variables and pointers. */
interface DriverLocals {
  readonly b: string;
  readonly g: string;
  readonly chunk: string;
  readonly end: string;
  readonly o: string;
  readonly t: string;
  readonly pa: string;
  readonly pb: string;
}

/**
 * The statements for one pair of tiles (S tile mt, V tile nt): point at both
 * operands (in place or packed), run the microkernel for the tile's rows,
 * then the epilogue. Registers the microkernels it calls.
 */
function tileProduct(
  plan: GemmPlan,
  blocking: Blocking,
  context: { variant: Variant; mod: ModuleBuilder; epilogue: string; scratch: Scratch },
  l: DriverLocals,
): Sx[] {
  const { variant, scratch } = context;
  const { innerIsS } = blocking;
  const mr = variant.mr;
  const lastRows = plan.s.rows - (plan.s.tiles - 1) * mr;
  const kernels = plan.s.tiles === 1 || lastRows === mr ? [lastRows] : [mr, lastRows];
  const spec = (rows: number) => ({
    rows,
    rowBytes: plan.s.rowBytes,
    aStep: plan.s.step,
    bStep: plan.v.step,
    shifts: plan.v.shifts,
  });
  for (const rows of kernels) context.mod.add(microkernel(variant, spec(rows)));
  const pointer = (side: GemmSide, tile: Sx, slot: Sx, offset: number) =>
    side.pack
      ? addr(scratch.at(offset), mul(slot, side.tileBytes))
      : side.pointer!(tile, get(l.b), get(l.g));
  const [mt, nt] = innerIsS ? [get(l.t), get(l.o)] : [get(l.o), get(l.t)];
  const slotInner = sx("i32.sub", get(l.t), get(l.chunk));
  const sPtr = innerIsS
    ? pointer(plan.s, mt, slotInner, scratch.inner)
    : pointer(plan.s, mt, i32(0), scratch.outer);
  const vPtr = innerIsS
    ? pointer(plan.v, nt, i32(0), scratch.outer)
    : pointer(plan.v, nt, slotInner, scratch.inner);
  const call = (rows: number) =>
    sx("call", `$${microkernelName(spec(rows))}`, get(l.pa), get(l.pb), i32(plan.k), scratch.tile);
  const isLastRows = sx("i32.eq", mt, i32(plan.s.tiles - 1));
  const uniform = kernels.length === 1;
  const rows = uniform ? i32(lastRows) : sx("select", i32(lastRows), i32(mr), isLastRows);
  return [
    set(l.pa, sPtr),
    set(l.pb, vPtr),
    uniform ? call(lastRows) : ifElse(isLastRows, [call(lastRows)], [call(mr)]),
    sx(
      "call",
      `$${context.epilogue}`,
      get(l.b),
      plan.m0(mt, get(l.g)),
      plan.n0(nt, get(l.g)),
      rows,
      plan.partial ? plan.partial(nt) : i32(0),
      scratch.tile,
    ),
  ];
}

/** Emits the driver function for `plan`, with packing scratch at `scratch`; returns its name. */
export function emitGemm(
  plan: GemmPlan,
  blocking: Blocking,
  context: {
    scratch: number;
    variant: Variant;
    mod: ModuleBuilder;
    epilogue: string;
    threads?: ThreadGen;
    index?: number;
  },
): string {
  const fb = new FuncBuilder(plan.name);
  const split = splitTiles(plan, blocking, context.threads);
  if (split > 0) context.threads!.split.set(context.index!, split);
  const lo = split > 0 ? fb.param("lo", "i32") : "", hi = split > 0 ? fb.param("hi", "i32") : "";
  const l: DriverLocals = {
    b: fb.local("b", "i32"),
    g: fb.local("g", "i32"),
    chunk: fb.local("chunk", "i32"),
    end: fb.local("end", "i32"),
    o: fb.local("o", "i32"),
    t: fb.local("t", "i32"),
    pa: fb.local("pa", "i32"),
    pb: fb.local("pb", "i32"),
  };
  const { innerIsS, chunkTiles } = blocking;
  const inner = innerIsS ? plan.s : plan.v, outer = innerIsS ? plan.v : plan.s;
  // A split driver keeps its tile and packing scratch in this thread's private region.
  const at = (offset: number): Sx =>
    split > 0 ? addr(sx("global.get", "$tbase"), offset) : i32(offset);
  const innerScratch = split > 0 ? TILE_BYTES : context.scratch;
  const scratch: Scratch = {
    at,
    inner: innerScratch,
    outer: innerScratch + (inner.pack ? chunkTiles * inner.tileBytes : 0),
    tile: split > 0 ? at(0) : i32(TILE),
  };
  const product = tileProduct(plan, blocking, { ...context, scratch }, l);
  const packCall = (side: GemmSide, tile: Sx, dst: Sx) =>
    sx("call", `$${side.pack!.fn}`, tile, side.pack!.batched && get(l.b), get(l.g), dst);
  const slotInner = sx("i32.sub", get(l.t), get(l.chunk));
  const chunkEnd = set(
    l.end,
    inner.tiles % chunkTiles === 0 ? addr(get(l.chunk), chunkTiles) : sx(
      "select",
      i32(inner.tiles),
      addr(get(l.chunk), chunkTiles),
      sx("i32.gt_u", addr(get(l.chunk), chunkTiles), i32(inner.tiles)),
    ),
  );
  const innerPack = inner.pack
    ? forLoop(l.t, { start: get(l.chunk), end: get(l.end) }, [
      packCall(inner, get(l.t), addr(at(scratch.inner), mul(slotInner, inner.tileBytes))),
    ])
    : [];
  const outerPack = outer.pack ? [packCall(outer, get(l.o), at(scratch.outer))] : [];
  const outerRange = split > 0 ? { start: get(lo), end: get(hi) } : { start: 0, end: outer.tiles };
  const perGroup = forLoop(l.chunk, { start: 0, end: inner.tiles, step: chunkTiles }, [
    chunkEnd,
    ...innerPack,
    ...forLoop(l.o, outerRange, [
      ...outerPack,
      ...forLoop(l.t, { start: get(l.chunk), end: get(l.end) }, product),
    ]),
  ]);
  const body = forLoop(l.b, { start: 0, end: plan.batch }, [
    ...(plan.prologue ? plan.prologue(get(l.b)) : []),
    ...forLoop(l.g, { start: 0, end: plan.groups }, perGroup),
  ]);
  // Loops run at least once, so a thread given no tiles must skip the whole body.
  fb.emit(split > 0 ? [ifElse(sx("i32.lt_u", get(lo), get(hi)), body)] : body);
  context.mod.add(fb);
  return plan.name;
}

/** Bytes of the accumulator tile at the start of a thread's private scratch. */
export const TILE_BYTES = 256;

/**
 * How many outer tiles a threaded driver splits across threads (0: it runs
 * on one). Splitting the outer loop gives each thread whole output tiles, so
 * every element keeps the single-thread summation order; a driver with a
 * per-image prologue (the padded copy, at one shared address) stays whole.
 */
function splitTiles(plan: GemmPlan, blocking: Blocking, threads?: ThreadGen): number {
  if (!threads || plan.prologue) return 0;
  const outer = blocking.innerIsS ? plan.v : plan.s;
  const flops = 2 * plan.batch * plan.groups * plan.s.rows * plan.k * plan.v.tiles * NR *
    plan.v.shifts.length;
  if (outer.tiles < 2 || flops < threads.minFlops) return 0;
  const bytes = TILE_BYTES + blocking.bytes;
  threads.scratch = Math.max(threads.scratch, Math.ceil(bytes / 64) * 64);
  return outer.tiles;
}
