/**
 * Run-time packing of a GEMM operand that cannot be read in place: rows of
 * a matrix view (tables allowed: a partition permute, a computed weight)
 * gathered into a [k][panel] tile, zero rows past the end. The operand is an
 * expression: a plain load copies, a fused prologue (the RepMLP global
 * perceptron's add) is computed element by element while packing, with the
 * same vector math as the epilogues.
 */
import type { Resources } from "../resources.ts";
import {
  addr,
  f32,
  forLoop,
  FuncBuilder,
  get,
  i32,
  ifElse,
  mul,
  set,
  type Sx,
  sx,
} from "../wat.ts";
import { partOffset } from "./access.ts";
import { emitExpr, type SplitExpr } from "./epilogue.ts";

/** A matrix expression split into [row, k] parts, and how groups offset it. */
export interface GatherSpec {
  readonly a: SplitExpr;
  readonly rowsPerGroup: number;
  /** True when group g starts at row g * rowsPerGroup (else every group reads all rows). */
  readonly rowGrouped: boolean;
  /** True when group g starts at k = g * k. */
  readonly kGrouped: boolean;
  readonly k: number;
  readonly panel: number;
}

/** One operand's pointer: set per row, stepped per k when its k part is affine. */
interface Cursor {
  readonly start: Sx;
  readonly element: Sx;
  readonly step: Sx[];
}

/** `(tile, g, dst)`: gathers `panel` rows x k into dst[k][panel]. */
export function gatherPack(name: string, spec: GatherSpec, res: Resources): FuncBuilder {
  const fb = new FuncBuilder(name);
  const tile = fb.param("tile", "i32"), g = fb.param("g", "i32"), dst = fb.param("dst", "i32");
  const i = fb.local("i", "i32"), row = fb.local("row", "i32");
  const d = fb.local("d", "i32"), k = fb.local("k", "i32");
  const kBase = spec.kGrouped ? mul(get(g), spec.k) : i32(0);
  const globalRow = spec.rowGrouped
    ? sx("i32.add", mul(get(g), spec.rowsPerGroup), get(row))
    : get(row);
  const { accesses } = spec.a;
  const cursors: Cursor[] = accesses.map((access, j) => {
    const src = fb.local(accesses.length === 1 ? "src" : `src${j}`, "i32");
    const [rowPart, kPart] = access.parts;
    const rowAddress = addr(i32(access.base), partOffset(rowPart, globalRow, res));
    if (kPart.kind !== "affine") {
      const element = addr(get(src), partOffset(kPart, sx("i32.add", kBase, get(k)), res));
      return { start: set(src, rowAddress), element, step: [] };
    }
    return {
      start: set(src, addr(rowAddress, mul(kBase, kPart.stride * 4))),
      element: get(src),
      step: [set(src, addr(get(src), kPart.stride * 4))],
    };
  });
  let store: Sx[];
  if (spec.a.expr.kind === "load") {
    store = [sx("f32.store", get(d), sx("f32.load", cursors[0].element))];
  } else {
    const p = fb.local("p", "v128");
    const load = (j: number) => sx("f32x4.splat", sx("f32.load", cursors[j].element));
    store = [
      ...emitExpr(fb, spec.a, { acc: p, load }, p),
      sx("f32.store", get(d), sx("f32x4.extract_lane", "0", get(p))),
    ];
  }
  const copy = forLoop(k, { start: 0, end: spec.k }, [
    ...store,
    set(d, addr(get(d), spec.panel * 4)),
    ...cursors.flatMap((cursor) => cursor.step),
  ]);
  const zero = forLoop(k, { start: 0, end: spec.k }, [
    sx("f32.store", get(d), f32(0)),
    set(d, addr(get(d), spec.panel * 4)),
  ]);
  fb.emit(forLoop(i, { start: 0, end: spec.panel }, [
    set(row, sx("i32.add", mul(get(tile), spec.panel), get(i))),
    set(d, sx("i32.add", get(dst), mul(get(i), 4))),
    ifElse(
      sx("i32.lt_u", get(row), i32(spec.rowsPerGroup)),
      [...cursors.map((cursor) => cursor.start), ...copy],
      zero,
    ),
  ]));
  return fb;
}
