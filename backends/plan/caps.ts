/**
 * What a target can do, as data: the plan makes every fusion and
 * materialization decision once, from these, for every target.
 */

/** A target's capabilities. */
export interface TargetCaps {
  /** The target's name, for error messages. */
  readonly name: string;
  /**
   * Most distinct buffers one kernel may bind, its output included
   * (WebGPU: maxStorageBuffersPerShaderStage). Fusion stops before a kernel
   * would need more.
   */
  readonly maxBindings: number;
  /**
   * The GEMM kinds that may compute an elementwise producer of their A
   * operand while loading it (prologue fusion), instead of reading a buffer
   * another kernel wrote.
   */
  readonly prologue: ReadonlySet<"linear" | "conv">;
  /**
   * How many view layers a kernel can address (see view.ts). Reads through
   * more are peeled into copies; stores through more end the fusion chain.
   */
  readonly viewLayers: number;
  /**
   * True when convolutions and pools need one stride per NCHW axis of their
   * input (no index tables inside a window); other inputs are copied first.
   */
  readonly stridedWindows: boolean;
}
