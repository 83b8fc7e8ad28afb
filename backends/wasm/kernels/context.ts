/** What every kernel generator receives. */
import type { Resources } from "../resources.ts";
import type { ModuleBuilder } from "../wat.ts";
import type { Variant } from "./microkernel.ts";

/** The state shared by the kernel generators of one module variant. */
export interface GenContext {
  readonly res: Resources;
  readonly variant: Variant;
  readonly mod: ModuleBuilder;
  /** The kernel's position in the schedule (names its functions and scratch). */
  readonly index: number;
}
