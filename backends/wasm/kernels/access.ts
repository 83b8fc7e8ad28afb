/**
 * Reading and writing operands through their views. A kernel splits every
 * view at its loop boundaries; the outer parts give a row address, the last
 * part the column offset of each vector lane. A contiguous column is one
 * v128 load or store, a broadcast column one splat, anything else (strides,
 * tables: the RepMLP partition permutes) goes lane by lane.
 */
import type { Operand } from "../../plan/mod.ts";
import { type PartMap, partsOf } from "../parts.ts";
import type { Resources } from "../resources.ts";
import { addr, i32, mul, type Sx, sx } from "../wat.ts";

/** An operand split into loop parts, ready for address arithmetic. */
export interface Access {
  /** Byte address of the view's element 0. */
  readonly base: number;
  readonly parts: readonly PartMap[];
}

/** Splits an operand at `counts`; throws if the lowering let an unsplittable view through. */
export function accessOf(operand: Operand, counts: readonly number[], res: Resources): Access {
  const split = partsOf(operand.view, counts);
  if (!split) throw new Error(`internal: ${operand.value.label} does not split at [${counts}]`);
  for (const part of split.parts) if (part.kind === "table") res.table(part.dims);
  return { base: res.value(operand.value) + split.offset * 4, parts: split.parts };
}

/** Byte offset of loop index `index` in one part. */
export function partOffset(part: PartMap, index: Sx, res: Resources): Sx {
  if (part.kind === "affine") return mul(index, part.stride * 4);
  return sx("i32.load", addr(i32(res.table(part.dims)), mul(index, 4)));
}

/** Byte address of a row: the base plus the offsets of every part but the last. */
export function rowAddress(access: Access, indices: readonly Sx[], res: Resources): Sx {
  let address: Sx = i32(access.base);
  indices.forEach((index, i) => {
    const part = access.parts[i];
    if (part.kind === "affine" && part.stride === 0) return;
    address = addr(address, partOffset(part, index, res));
  });
  return address;
}

function column(access: Access): PartMap {
  return access.parts[access.parts.length - 1];
}

/** True when the last part is contiguous, so vectors load and store whole. */
export function isDense(access: Access): boolean {
  const col = column(access);
  return col.kind === "affine" && col.stride === 1;
}

/** The address of lane column `n` (an i32 expression) from a row address. */
function laneAddress(access: Access, row: Sx, n: Sx, res: Resources): Sx {
  return addr(row, partOffset(column(access), n, res));
}

/** Loads lanes n..n+lanes-1 of a row as an f32x4 (missing lanes repeat lane 0). */
export function loadVector(access: Access, row: Sx, n: Sx, lanes: number, res: Resources): Sx {
  const col = column(access);
  if (col.kind === "affine" && col.stride === 0) return sx("v128.load32_splat", row);
  if (lanes === 4 && isDense(access)) return sx("v128.load", laneAddress(access, row, n, res));
  let vector = sx("f32x4.splat", sx("f32.load", laneAddress(access, row, n, res)));
  for (let lane = 1; lane < lanes; lane++) {
    const at = laneAddress(access, row, addr(n, lane), res);
    vector = sx("f32x4.replace_lane", String(lane), vector, sx("f32.load", at));
  }
  return vector;
}

/** Stores the first `lanes` lanes of `value` (an f32x4 expression without side effects). */
export function storeVector(
  access: Access,
  row: Sx,
  n: Sx,
  value: Sx,
  lanes: number,
  res: Resources,
): Sx[] {
  if (lanes === 4 && isDense(access)) {
    return [sx("v128.store", laneAddress(access, row, n, res), value)];
  }
  const stores: Sx[] = [];
  for (let lane = 0; lane < lanes; lane++) {
    const at = laneAddress(access, row, addr(n, lane), res);
    stores.push(sx("f32.store", at, sx("f32x4.extract_lane", String(lane), value)));
  }
  return stores;
}
