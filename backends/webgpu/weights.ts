/**
 * The weight table: every constant a kernel reads, in the layout that
 * kernel wants. GEMM weights are packed per chunk as [group][k][column]
 * (columns contiguous, so a workgroup's loads coalesce); other weights
 * (biases, scales) are bound as they are. Pages (weight buffers) are laid
 * out by `layoutPages`, each under maxBufferSize and each entry aligned for
 * binding offsets.
 */
import { RefoldError } from "../../ir/mod.ts";
import type { Value, View } from "../plan/mod.ts";
import { ELEMENT_ALIGN, type GpuLimits, PLAN_ELEMENT_BYTES, roundUp } from "./limits.ts";
import type { Ref } from "./spec.ts";

/** One constant in the weight file. */
export interface WeightEntry {
  readonly id: number;
  readonly label: string;
  readonly data: Float32Array;
  /** The plan's value it holds (as it is, or a packed chunk of it). */
  readonly value: Value;
  /** A packed GEMM chunk: blocks of [k][columns], one output channel per column. */
  readonly columns?: number;
}

/** A chunk of a GEMM: groups [g0, g0 + gc), columns [nb, nb + nc) of each. */
export interface GemmChunk {
  readonly g0: number;
  readonly gc: number;
  readonly nb: number;
  readonly nc: number;
}

/** Where each entry lives: page index and element offset. */
export interface PageLayout {
  readonly pages: readonly { readonly elements: number }[];
  readonly placement: readonly { readonly page: number; readonly offset: number }[];
}

/** Collects weight entries, deduplicated by what they hold. */
export class WeightTable {
  readonly entries: WeightEntry[] = [];
  readonly #keys = new Map<string, number>();
  readonly #limits: GpuLimits;

  constructor(limits: GpuLimits) {
    this.#limits = limits;
  }

  #add(key: string, label: string, data: Float32Array, value: Value, columns?: number): Ref {
    const known = this.#keys.get(key);
    if (known !== undefined) return { kind: "weight", id: known };
    const limit = Math.min(this.#limits.maxStorageBufferBindingSize, this.#limits.maxBufferSize);
    if (data.length * PLAN_ELEMENT_BYTES > limit) {
      throw new RefoldError(
        `webgpu: ${label}: ${data.length * PLAN_ELEMENT_BYTES} bytes of weights in one binding ` +
          `exceed the limit of ${limit} bytes, and this use of them cannot be split`,
      );
    }
    const id = this.entries.length;
    this.entries.push({ id, label, data, value, ...(columns ? { columns } : {}) });
    this.#keys.set(key, id);
    return { kind: "weight", id };
  }

  /** A weight value as it is (row-major). */
  raw(value: Value): Ref {
    return this.#add(`${value.id}/raw`, value.label, value.data!, value);
  }

  /**
   * Splits a constant GEMM weight (logical [groups * n, k], rows of group g
   * at [g * n, (g + 1) * n)) into chunks that each fit one binding: whole
   * groups when possible, else column ranges of one group.
   */
  gemmChunks(value: Value, n: number, k: number, groups: number): GemmChunk[] {
    const limit = Math.floor(this.#limits.maxStorageBufferBindingSize / PLAN_ELEMENT_BYTES);
    if (groups * n * k <= limit) return [{ g0: 0, gc: groups, nb: 0, nc: n }];
    const chunks: GemmChunk[] = [];
    if (n * k <= limit) {
      const gc = Math.floor(limit / (n * k));
      for (let g0 = 0; g0 < groups; g0 += gc) {
        chunks.push({ g0, gc: Math.min(gc, groups - g0), nb: 0, nc: n });
      }
      return chunks;
    }
    let nc = Math.floor(limit / k);
    if (nc >= 64) nc -= nc % 64;
    if (nc < 1) {
      throw new RefoldError(
        `webgpu: ${value.label}: one output column's ${k} weights exceed ` +
          `maxStorageBufferBindingSize; the layer cannot fit`,
      );
    }
    for (let g0 = 0; g0 < groups; g0++) {
      for (let nb = 0; nb < n; nb += nc) chunks.push({ g0, gc: 1, nb, nc: Math.min(nc, n - nb) });
    }
    return chunks;
  }

  /** One chunk of a constant GEMM weight, packed [group][k][column]. */
  gemmChunk(value: Value, n: number, k: number, chunk: GemmChunk): Ref {
    const { g0, gc, nb, nc } = chunk;
    const data = value.data!;
    const key = `${value.id}/gemm/${n}x${k}/${g0}+${gc}/${nb}+${nc}`;
    const packed = new Float32Array(gc * k * nc);
    for (let gl = 0; gl < gc; gl++) {
      for (let j = 0; j < nc; j++) {
        const row = ((g0 + gl) * n + nb + j) * k;
        for (let i = 0; i < k; i++) packed[(gl * k + i) * nc + j] = data[row + i];
      }
    }
    const part = gc === 1 && nc === n ? "" : ` (groups ${g0}+${gc}, columns ${nb}+${nc})`;
    return this.#add(key, `${value.label} packed${part}`, packed, value, nc);
  }
}

/** The view of a packed chunk in local coordinates (row (g - g0) * nc + j, i). */
export function packedView(chunk: GemmChunk, k: number): View {
  return {
    layers: [{
      axes: [[{ size: chunk.gc, stride: k * chunk.nc }, { size: chunk.nc, stride: 1 }], [{
        size: k,
        stride: chunk.nc,
      }]],
      offset: 0,
    }],
  };
}

/** Lays entries out in pages of at most maxBufferSize bytes (planned at f32 size). */
export function layoutPages(entries: readonly WeightEntry[], limits: GpuLimits): PageLayout {
  const pageLimit = Math.floor(limits.maxBufferSize / PLAN_ELEMENT_BYTES);
  const pages: { elements: number }[] = [];
  const placement: { page: number; offset: number }[] = [];
  for (const entry of entries) {
    const size = roundUp(Math.max(entry.data.length, 1), ELEMENT_ALIGN);
    let page = pages.length - 1;
    if (page < 0 || pages[page].elements + size > pageLimit) {
      pages.push({ elements: 0 });
      page++;
    }
    placement.push({ page, offset: pages[page].elements });
    pages[page].elements += size;
  }
  return { pages, placement };
}
