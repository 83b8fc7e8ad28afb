/**
 * The weight table: every constant a kernel reads, in the layout that
 * kernel wants. GEMM weights are packed per chunk as [group][k][column]
 * (columns contiguous, so a workgroup's loads coalesce); BatchNorm with
 * constant parameters becomes one scale and one shift vector computed in
 * float64. Pages (weight buffers) are laid out by `layoutPages`, each under
 * maxBufferSize and each entry aligned for binding offsets.
 */
import { batchnormScaleShift, evaluateNode, type Node, RefoldError } from "../../ir/mod.ts";
import { type Access, contiguous } from "./access.ts";
import { describe } from "./frame.ts";
import { ELEMENT_ALIGN, type GpuLimits, PLAN_ELEMENT_BYTES, roundUp } from "./limits.ts";
import type { Ref } from "./spec.ts";

/** One constant in the weight file. */
export interface WeightEntry {
  readonly id: number;
  readonly label: string;
  readonly data: Float32Array;
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
  readonly #nodeIds = new Map<Node, number>();
  readonly #limits: GpuLimits;

  constructor(limits: GpuLimits) {
    this.#limits = limits;
  }

  #key(node: Node, what: string): string {
    let id = this.#nodeIds.get(node);
    if (id === undefined) this.#nodeIds.set(node, id = this.#nodeIds.size);
    return `${id}/${what}`;
  }

  #add(key: string, label: string, data: Float32Array): Ref {
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
    this.entries.push({ id, label, data });
    this.#keys.set(key, id);
    return { kind: "weight", id };
  }

  /** A weight node as it is (row-major). */
  raw(node: Node): Ref {
    return this.#add(this.#key(node, "raw"), describe(node), node.data!);
  }

  /** The values of a weight, or of movement ops over weights; undefined for computed tensors. */
  constantData(node: Node): Float32Array | undefined {
    if (node.op === "weight") return node.data!;
    if (node.op !== "reshape" && node.op !== "flatten" && node.op !== "transpose") return undefined;
    const input = this.constantData(node.inputs[0]);
    if (!input) return undefined;
    const value = evaluateNode(node, [{ shape: node.inputs[0].type.shape, data: input }]);
    return Float32Array.from(value);
  }

  /** Scale and shift of a BatchNorm whose parameters are all constant. */
  batchnormScaleShift(
    node: Node<"batchnorm">,
  ): { scale: Ref; shift: Ref; access: Access } | undefined {
    const params = node.inputs.slice(1).map((param) => this.constantData(param));
    if (params.some((param) => !param)) return undefined;
    const [gamma, beta, mean, variance] = params as Float32Array[];
    const affine = batchnormScaleShift(node.attrs.epsilon, gamma, beta, mean, variance);
    const scale = Float32Array.from(affine.scale), shift = Float32Array.from(affine.shift);
    const label = describe(node);
    return {
      scale: this.#add(this.#key(node, "bn.scale"), `${label} scale`, scale),
      shift: this.#add(this.#key(node, "bn.shift"), `${label} shift`, shift),
      access: contiguous([gamma.length]),
    };
  }

  /**
   * Splits a constant GEMM weight (logical [groups * n, k], rows of group g
   * at [g * n, (g + 1) * n)) into chunks that each fit one binding: whole
   * groups when possible, else column ranges of one group.
   */
  gemmChunks(node: Node, n: number, k: number, groups: number): GemmChunk[] {
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
        `webgpu: ${describe(node)}: one output column's ${k} weights exceed ` +
          `maxStorageBufferBindingSize; the layer cannot fit`,
      );
    }
    for (let g0 = 0; g0 < groups; g0++) {
      for (let nb = 0; nb < n; nb += nc) chunks.push({ g0, gc: 1, nb, nc: Math.min(nc, n - nb) });
    }
    return chunks;
  }

  /** One chunk of a constant GEMM weight, packed [group][k][column]. */
  gemmChunk(node: Node, data: Float32Array, n: number, k: number, chunk: GemmChunk): Ref {
    const { g0, gc, nb, nc } = chunk;
    const key = this.#key(node, `gemm/${n}x${k}/${g0}+${gc}/${nb}+${nc}`);
    const packed = new Float32Array(gc * k * nc);
    for (let gl = 0; gl < gc; gl++) {
      for (let j = 0; j < nc; j++) {
        const row = ((g0 + gl) * n + nb + j) * k;
        for (let i = 0; i < k; i++) packed[(gl * k + i) * nc + j] = data[row + i];
      }
    }
    const part = gc === 1 && nc === n ? "" : ` (groups ${g0}+${gc}, columns ${nb}+${nc})`;
    return this.#add(key, `${describe(node)} packed${part}`, packed);
  }
}

/** The access of a packed chunk in local coordinates (row (g - g0) * nc + j, i). */
export function packedAccess(chunk: GemmChunk, k: number): Access {
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
