/** What every kernel generator receives. */
import type { Resources } from "../resources.ts";
import type { ModuleBuilder } from "../wat.ts";
import type { Variant } from "./microkernel.ts";

/** The state shared by the kernel generators of one module variant. */
export interface GenContext {
  readonly res: Resources;
  readonly variant: Variant;
  readonly mod: ModuleBuilder;
  /** The kernel's position in the program (names its functions and scratch). */
  readonly index: number;
  /** Set when generating the threaded module: GEMMs record here the kernels they split. */
  readonly threads?: ThreadGen;
}

/** What the threaded module's GEMM drivers record while generating. */
export interface ThreadGen {
  /** GEMMs below this many flops run on one thread. */
  readonly minFlops: number;
  /** Kernel index -> outer tiles its driver splits as `(lo, hi)`. */
  readonly split: Map<number, number>;
  /** Largest per-thread scratch (tile plus packing) a split driver needs, bytes. */
  scratch: number;
}
