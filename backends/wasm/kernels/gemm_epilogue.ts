/**
 * The per-tile GEMM epilogue shared by linear and conv: the accumulator
 * tile the microkernel wrote goes row by row through the kernel's epilogue
 * expression to the output view, 8 lanes at a time (fewer for the partial
 * tile at the end of a row).
 */
import type { Resources } from "../resources.ts";
import { addr, forLoop, FuncBuilder, get, ifElse, mul, set, type Sx, sx } from "../wat.ts";
import { type Access, loadVector, rowAddress, storeVector } from "./access.ts";
import { emitExpr, rowLocals, type SplitExpr } from "./epilogue.ts";
import { NR } from "./microkernel.ts";

/**
 * The per-tile epilogue `(b, m0, n0, rows, partial, tile)`: for each of `rows`
 * rows, the 8 accumulators (or `partialLanes` of them) go through the
 * epilogue expression to the output. `batched` says whether views have a
 * leading batch part.
 */
export function gemmEpilogue(
  name: string,
  spec: {
    epilogue: SplitExpr;
    out: Access;
    batched: boolean;
    partialLanes: number;
  },
  res: Resources,
): FuncBuilder {
  const fb = new FuncBuilder(name);
  const b = fb.param("b", "i32"), m0 = fb.param("m0", "i32"), n0 = fb.param("n0", "i32");
  const rowsParam = fb.param("rows", "i32"), partial = fb.param("partial", "i32");
  const tile = fb.param("tile", "i32");
  const i = fb.local("i", "i32"), m = fb.local("m", "i32"), v = fb.local("v", "v128");
  const outRow = fb.local("out_row", "i32");
  const indices = spec.batched ? [get(b), get(m)] : [get(m)];
  const { statements, rows } = rowLocals(fb, spec.epilogue.accesses, indices, res, "row");
  const vector = (vec: number, lanes: number): Sx[] => {
    const n = addr(get(n0), vec * 4);
    return [
      set(
        v,
        sx("v128.load", vec > 0 && `offset=${vec * 16}`, addr(get(tile), mul(get(i), NR * 4))),
      ),
      ...emitExpr(fb, spec.epilogue, {
        acc: v,
        load: (i) => loadVector(spec.epilogue.accesses[i], get(rows[i]), n, lanes, res),
      }, v),
      ...storeVector(spec.out, get(outRow), n, get(v), lanes, res),
    ];
  };
  const full = [...vector(0, 4), ...vector(1, 4)];
  const lanes = spec.partialLanes;
  const part = lanes > 4 ? [...vector(0, 4), ...vector(1, lanes - 4)] : vector(0, lanes);
  fb.emit(forLoop(i, { start: 0, end: get(rowsParam) }, [
    set(m, sx("i32.add", get(m0), get(i))),
    set(outRow, rowAddress(spec.out, indices, res)),
    ...statements,
    ...(lanes > 0 ? [ifElse(get(partial), part, full)] : full),
  ]));
  return fb;
}

/**
 * The epilogue of a whole output row `(b, m, n0, src)`: `tiles` runs of 8
 * accumulators at src (the last one `partialLanes` wide when nonzero) go
 * through the epilogue expression to columns n0.. of row m. The row's
 * addresses are computed once, not once per 8 lanes (the depthwise kernel,
 * whose tiles are a few multiply-adds each).
 */
export function rowEpilogue(
  name: string,
  spec: { epilogue: SplitExpr; out: Access; tiles: number; partialLanes: number },
  res: Resources,
): FuncBuilder {
  const fb = new FuncBuilder(name);
  const b = fb.param("b", "i32"), m = fb.param("m", "i32"), n0 = fb.param("n0", "i32");
  const src = fb.param("src", "i32");
  const j = fb.local("j", "i32"), n = fb.local("n", "i32"), v = fb.local("v", "v128");
  const outRow = fb.local("out_row", "i32");
  const indices = [get(b), get(m)];
  const { statements, rows } = rowLocals(fb, spec.epilogue.accesses, indices, res, "row");
  const vector = (vec: number, lanes: number): Sx[] => {
    const at = addr(get(n), vec * 4);
    return [
      set(v, sx("v128.load", vec > 0 && `offset=${vec * 16}`, get(src))),
      ...emitExpr(fb, spec.epilogue, {
        acc: v,
        load: (i) => loadVector(spec.epilogue.accesses[i], get(rows[i]), at, lanes, res),
      }, v),
      ...storeVector(spec.out, get(outRow), at, get(v), lanes, res),
    ];
  };
  const step = [set(n, addr(get(n), NR)), set(src, addr(get(src), NR * 4))];
  const lanes = spec.partialLanes;
  const full = lanes > 0 ? spec.tiles - 1 : spec.tiles;
  fb.emit(
    set(outRow, rowAddress(spec.out, indices, res)),
    ...statements,
    set(n, get(n0)),
    full > 0
      ? forLoop(j, { start: 0, end: full }, [...vector(0, 4), ...vector(1, 4), ...step])
      : [],
    lanes > 4 ? [...vector(0, 4), ...vector(1, lanes - 4)] : lanes > 0 ? vector(0, lanes) : [],
  );
  return fb;
}
