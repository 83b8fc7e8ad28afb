/**
 * The tensor IR: immutable typed nodes, the op table, a builder, the text
 * form, the verifier and the reference interpreter. Nothing here imports
 * anything above ir/.
 */
export * from "./errors.ts";
export * from "./types.ts";
export * from "./tensor.ts";
export * from "./attrs.ts";
export * from "./ops/mod.ts";
export * from "./node.ts";
export * from "./traverse.ts";
export * from "./builder.ts";
export * from "./printer.ts";
export * from "./parser.ts";
export * from "./verify.ts";
export * from "./interpret.ts";
export * from "./fold.ts";
export * from "./window.ts";
export * from "./random.ts";
export * from "./summary.ts";
