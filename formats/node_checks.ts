/**
 * What both model readers check on every node they build, beyond the op's
 * shape rule: that its output is a tensor refold can hold (an absurd pad,
 * broadcast or concat is refused at load time, before any backend allocates
 * it), and that a BatchNorm's constant running variance can be normalized by
 * (a negative variance would turn into NaN weights when the BN is folded).
 */
import { MAX_TENSOR_ELEMENTS, type Node, sizeOf } from "../ir/mod.ts";

/** The problem with a freshly built node, or undefined when there is none. */
export function builtNodeProblem(node: Node): string | undefined {
  const size = sizeOf(node.type.shape);
  if (!(size <= MAX_TENSOR_ELEMENTS)) {
    return `its output f32[${node.type.shape}] would have ${size} elements, more than 2^30`;
  }
  if (node.op === "batchnorm") return varianceProblem(node);
  return undefined;
}

function varianceProblem(node: Node<"batchnorm">): string | undefined {
  const variance = node.inputs[4];
  if (variance.op !== "weight") return undefined;
  const { epsilon } = node.attrs;
  const data = variance.data!;
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (value >= 0 && value + epsilon > 0) continue;
    const why = value < 0
      ? "a variance is never negative"
      : value === 0
      ? "with epsilon 0 that divides by zero"
      : "not a number";
    const name = variance.attrs.name;
    return `running variance "${name}" is ${value} at index ${i}; ${why}`;
  }
  return undefined;
}
