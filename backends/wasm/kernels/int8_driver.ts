/**
 * The loops of an int8 GEMM over its tiles, per group: the microkernel
 * (int8_microkernel.ts) on each pair of tiles, then the f32 epilogue.
 * Blocking: the side with the smaller footprint is inner and is visited in
 * chunks of at most half the L2 cache, so the other side streams once (at
 * batch 1 the FC weights stream, the activation codes stay cached).
 */
import { TILE } from "../resources.ts";
import { addr, forLoop, type FuncBuilder, get, i32, ifElse, set, type Sx, sx } from "../wat.ts";
import type { GenContext } from "./context.ts";
import { int8KernelName, int8Microkernel, int8Rows } from "./int8_microkernel.ts";

/** Half of this machine's 1 MiB L2, per core (as gemm.ts). */
const CHUNK_BUDGET = 512 * 1024;

/** One int8 GEMM's two sides, per group. */
export interface Int8Plan {
  readonly quads: number;
  readonly activations: "s" | "v";
  readonly sTiles: number;
  /** Rows of S (for the last tile's row count). */
  readonly sRows: number;
  readonly vTiles: number;
  /** Bytes of one S tile and one V tile (for the blocking). */
  readonly sTileBytes: number;
  readonly vTileBytes: number;
  /** Microkernel arguments (pa, pp, pb) of tiles (st, vt) in group g. */
  readonly pointers: (st: Sx, vt: Sx, g: Sx) => [Sx, Sx, Sx];
  /** Epilogue arguments (b, m0, n0) and the partial flag. */
  readonly place: (st: Sx, vt: Sx, g: Sx) => [Sx, Sx, Sx];
  readonly partial?: (st: Sx, vt: Sx) => Sx;
}

/** The loops of one group: chunks of the inner side, the outer side streamed once per chunk. */
export function groupLoops(
  fb: FuncBuilder,
  plan: Int8Plan,
  ctx: GenContext,
  g: Sx,
  epilogue: string,
): Sx[] {
  const { variant, mod } = ctx;
  const mr = int8Rows(variant);
  const lastRows = plan.sRows - (plan.sTiles - 1) * mr;
  const kinds = plan.sTiles === 1 || lastRows === mr ? [lastRows] : [mr, lastRows];
  const spec = (rows: number) => ({
    rows,
    rowBytes: plan.quads * 4,
    activations: plan.activations,
  });
  for (const rows of kinds) mod.add(int8Microkernel(variant, spec(rows)));
  const st = fb.local("st", "i32"), vt = fb.local("vt", "i32");
  const chunk = fb.local("chunk", "i32"), end = fb.local("end", "i32");
  const [pa, pp, pb] = plan.pointers(get(st), get(vt), g);
  const call = (rows: number) =>
    sx("call", `$${int8KernelName(variant, spec(rows))}`, pa, pp, pb, i32(plan.quads), i32(TILE));
  const isLast = sx("i32.eq", get(st), i32(plan.sTiles - 1));
  const uniform = kinds.length === 1;
  const product = [
    uniform ? call(lastRows) : ifElse(isLast, [call(lastRows)], [call(mr)]),
    sx(
      "call",
      `$${epilogue}`,
      ...plan.place(get(st), get(vt), g),
      uniform ? i32(lastRows) : sx("select", i32(lastRows), i32(mr), isLast),
      plan.partial ? plan.partial(get(st), get(vt)) : i32(0),
      i32(TILE),
    ),
  ];
  const innerIsS = plan.sTiles * plan.sTileBytes <= plan.vTiles * plan.vTileBytes;
  const [inner, innerTiles, innerBytes, outer, outerTiles] = innerIsS
    ? [st, plan.sTiles, plan.sTileBytes, vt, plan.vTiles]
    : [vt, plan.vTiles, plan.vTileBytes, st, plan.sTiles];
  const chunkTiles = Math.max(1, Math.min(innerTiles, Math.floor(CHUNK_BUDGET / innerBytes)));
  const chunkEnd = set(
    end,
    innerTiles % chunkTiles === 0 ? addr(get(chunk), chunkTiles) : sx(
      "select",
      i32(innerTiles),
      addr(get(chunk), chunkTiles),
      sx("i32.gt_u", addr(get(chunk), chunkTiles), i32(innerTiles)),
    ),
  );
  return forLoop(chunk, { start: 0, end: innerTiles, step: chunkTiles }, [
    chunkEnd,
    ...forLoop(outer, { start: 0, end: outerTiles }, [
      ...forLoop(inner, { start: get(chunk), end: get(end) }, product),
    ]),
  ]);
}
