/**
 * How many inputs each mapped ONNX op takes, from the operator specs for
 * opsets 11-18 (optional trailing inputs included). The importer checks a
 * node against this before mapping it, so that `Relu(x, a, b)` is an error
 * rather than a Relu that silently ignores two inputs.
 */

/** [fewest, most] inputs per op type. */
export const INPUT_ARITY: Readonly<Record<string, readonly [number, number]>> = {
  Identity: [1, 1],
  Dropout: [1, 3],
  Constant: [0, 0],
  Shape: [1, 1],
  Reshape: [2, 2],
  Flatten: [1, 1],
  Transpose: [1, 1],
  Concat: [1, Infinity],
  Squeeze: [1, 2],
  Unsqueeze: [1, 2],
  Cast: [1, 1],
  Gather: [2, 2],
  Slice: [1, 5],
  ConstantOfShape: [1, 1],
  Range: [3, 3],
  Expand: [2, 2],
  Where: [3, 3],
  Add: [2, 2],
  Sub: [2, 2],
  Mul: [2, 2],
  Div: [2, 2],
  Relu: [1, 1],
  Sigmoid: [1, 1],
  Erf: [1, 1],
  Gelu: [1, 1],
  Equal: [2, 2],
  Less: [2, 2],
  Greater: [2, 2],
  Min: [1, Infinity],
  Max: [1, Infinity],
  Neg: [1, 1],
  Abs: [1, 1],
  Floor: [1, 1],
  Ceil: [1, 1],
  Sqrt: [1, 1],
  Conv: [2, 3],
  BatchNormalization: [5, 5],
  AveragePool: [1, 1],
  MaxPool: [1, 1],
  GlobalAveragePool: [1, 1],
  ReduceMean: [1, 2],
  Pad: [1, 4],
  Gemm: [2, 3],
  MatMul: [2, 2],
};

/** The problem with a node's input count, or undefined when it fits. */
export function arityProblem(op: string, count: number): string | undefined {
  const [min, max] = INPUT_ARITY[op] ?? [0, Infinity];
  if (count >= min && count <= max) return undefined;
  const expected = min === max
    ? `${min}`
    : max === Infinity
    ? `at least ${min}`
    : `${min} to ${max}`;
  return `takes ${expected} inputs, got ${count}`;
}
