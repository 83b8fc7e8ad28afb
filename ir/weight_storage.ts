/**
 * Which weights `--weight-dtype` narrows, and what that costs in accuracy.
 * One rule for every target:
 *
 * - f16: every weight is stored as f16; a weight holding a value beyond
 *   f16's range is refused (it would read back as infinity).
 * - int8: every kernel (a weight read only as the kernel of linear or conv2d)
 *   is stored as int8 with one scale per output channel (quantize.ts); the
 *   other weights (biases, scales, shifts) are few and stay f32.
 *
 * The error of a weight is measured per output channel (per row for kernels,
 * over the whole tensor otherwise): max |w - stored(w)| / max |w|.
 */
import { RefoldError } from "./errors.ts";
import { F16_MAX } from "./half.ts";
import { type Graph, makeWeight, type Node } from "./node.ts";
import { roundTrip, rowError, type WeightDType } from "./quantize.ts";
import { rebuild, topoOrder } from "./traverse.ts";

/** How one weight is stored. */
export interface WeightStorage {
  readonly dtype: WeightDType;
  /** Output channels of a kernel (1 for other weights): int8 scales and errors are per channel. */
  readonly channels: number;
}

/** The worst relative error over the stored weights, and where it is. */
export interface StorageError {
  readonly error: number;
  readonly weight: string;
  /** The output channel (row) of the weight where it is, and how many it has. */
  readonly channel: number;
  readonly channels: number;
}

/** Weights read only as the kernel of linear or conv2d, with their output channels. */
export function kernelChannels(graph: Graph): Map<Node<"weight">, number> {
  const kernels = new Map<Node<"weight">, number>();
  const other = new Set<Node>();
  for (const node of topoOrder(graph)) {
    node.inputs.forEach((input, index) => {
      if (input.op !== "weight") return;
      const asKernel = index === 1 && (node.op === "linear" || node.op === "conv2d");
      if (asKernel) kernels.set(input, input.type.shape[0]);
      else other.add(input);
    });
  }
  for (const { node } of graph.outputs) other.add(node);
  for (const node of other) kernels.delete(node as Node<"weight">);
  return kernels;
}

/** Refuses a weight that f16 cannot hold: it would read back as infinity. */
function checkHalfRange(node: Node<"weight">): void {
  const data = node.data!;
  for (let i = 0; i < data.length; i++) {
    if (Math.abs(data[i]) > F16_MAX) {
      throw new RefoldError(
        `--weight-dtype f16: weight "${node.attrs.name}" holds ${
          data[i].toPrecision(6)
        } (flat index ${i}), beyond f16's range of ±${F16_MAX}; store weights as f32 or int8`,
      );
    }
  }
}

/** How every weight of `graph` is stored under `dtype` (the rule above). */
export function planWeightStorage(
  graph: Graph,
  dtype: WeightDType,
): Map<Node<"weight">, WeightStorage> {
  const kernels = kernelChannels(graph);
  const plan = new Map<Node<"weight">, WeightStorage>();
  for (const node of topoOrder(graph)) {
    if (node.op !== "weight") continue;
    if (dtype === "f16") checkHalfRange(node);
    const channels = kernels.get(node);
    const stored = dtype === "int8" && channels === undefined ? "f32" : dtype;
    plan.set(node, { dtype: stored, channels: channels ?? 1 });
  }
  return plan;
}

/** The worst per-channel relative error of storing each weight as `storage` says. */
export function worstStorageError(
  storage: ReadonlyMap<Node<"weight">, WeightStorage>,
): StorageError {
  let worst: StorageError = { error: 0, weight: "", channel: 0, channels: 1 };
  for (const [node, { dtype, channels }] of storage) {
    if (dtype === "f32") continue;
    const data = node.data!;
    const measured = rowError(data, roundTrip(data, dtype, channels), channels);
    if (measured.error > worst.error || worst.weight === "") {
      worst = { error: measured.error, weight: node.attrs.name, channel: measured.row, channels };
    }
  }
  return worst;
}

/** `graph` with every weight replaced by what its storage reads back (for error estimates). */
export function withStoredWeights(
  graph: Graph,
  storage: ReadonlyMap<Node<"weight">, WeightStorage>,
): Graph {
  return rebuild(graph, (node) => {
    const stored = node.op === "weight" ? storage.get(node) : undefined;
    if (!stored || stored.dtype === "f32") return undefined;
    const { name, shape } = (node as Node<"weight">).attrs;
    return makeWeight(name, shape, roundTrip(node.data!, stored.dtype, stored.channels));
  });
}

/** The dtypes in `storage`, most bytes first. */
export function storedDTypes(storage: ReadonlyMap<Node<"weight">, WeightStorage>): WeightDType[] {
  const bytes = new Map<WeightDType, number>();
  for (const [node, stored] of storage) {
    bytes.set(stored.dtype, (bytes.get(stored.dtype) ?? 0) + storedBytes(node, stored));
  }
  return [...bytes].sort((a, b) => b[1] - a[1]).map(([dtype]) => dtype);
}

/** Bytes of one weight stored as `storage` says (int8 rows carry an f32 scale each). */
export function storedBytes(node: Node<"weight">, storage: WeightStorage): number {
  const count = node.data!.length;
  if (storage.dtype === "int8") return count + 4 * storage.channels;
  return count * (storage.dtype === "f16" ? 2 : 4);
}
