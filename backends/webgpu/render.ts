/**
 * Renders one kernel specification to WGSL (a table from kernel kind to
 * renderer) and splits its workgroups into dispatches that respect
 * maxComputeWorkgroupsPerDimension: a linear workgroup index spread over x,
 * y and z, and when even that is too small, several dispatches of the same
 * shader whose pipelines differ in the `base` override constant.
 */
import type { DispatchPlan } from "./runtime/plan.ts";
import { chooseTiling, renderGemm, tilingStorage } from "./kernels/gemm.ts";
import { renderDirectConv } from "./kernels/direct_conv.ts";
import { GEMV_MAX_ROWS, renderGemv } from "./kernels/gemv.ts";
import { renderReduce } from "./kernels/split.ts";
import { renderMap } from "./kernels/map.ts";
import { renderPool } from "./kernels/pool.ts";
import { ShaderBuilder, type Storage, type StorageClass } from "./kernels/shader.ts";
import type { GemmSpec, KernelSpec, Ref } from "./spec.ts";

/** A rendered kernel. */
export interface RenderedKernel {
  readonly code: string;
  /** Read bindings in binding order; the output is bound after them. */
  readonly refs: readonly Ref[];
  readonly workgroups: number;
  readonly workgroupStorage: number;
}

type Renderer = (
  spec: never,
  shader: ShaderBuilder,
  outClass: StorageClass,
) => { body: string; workgroups: number };

const RENDERERS: Record<KernelSpec["kind"], Renderer> = {
  gemm:
    ((spec: GemmSpec, shader, outClass) =>
      spec.m <= GEMV_MAX_ROWS
        ? renderGemv(spec, shader, outClass)
        : renderGemm(spec, shader, outClass)) as Renderer,
  reduce: renderReduce as Renderer,
  direct_conv: renderDirectConv as Renderer,
  map: renderMap as Renderer,
  pool: renderPool as Renderer,
};

/** Renders a kernel whose output is stored as `outClass`. */
export function renderKernel(
  spec: KernelSpec,
  storage: Storage,
  outClass: StorageClass,
): RenderedKernel {
  const shader = new ShaderBuilder(storage);
  const { body, workgroups } = RENDERERS[spec.kind](spec as never, shader, outClass);
  const code = shader.render(`${spec.kind}: ${spec.label}`, outClass, body);
  const workgroupStorage = spec.kind === "gemm" && spec.m > GEMV_MAX_ROWS
    ? tilingStorage(chooseTiling(spec.m, spec.nc))
    : 0;
  return { code, refs: shader.refs, workgroups, workgroupStorage };
}

/** Dispatches covering `workgroups` linear workgroup indices, each dimension at most `limit`. */
export function planDispatches(workgroups: number, limit: number): DispatchPlan[] {
  const x = Math.min(workgroups, limit);
  const y = Math.min(Math.ceil(workgroups / x), limit);
  const z = Math.min(Math.ceil(workgroups / (x * y)), limit);
  const chunk = x * y * z;
  const dispatches: DispatchPlan[] = [];
  for (let base = 0; base < workgroups; base += chunk) {
    const count = Math.min(chunk, workgroups - base);
    const cx = Math.min(count, x);
    const cy = Math.min(Math.ceil(count / cx), y);
    const cz = Math.ceil(count / (cx * cy));
    dispatches.push({ base, size: [cx, cy, cz] });
  }
  return dispatches;
}
