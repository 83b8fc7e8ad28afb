/**
 * A checked model document plus weight values to an IR graph. Weight
 * references are matched against the available tensors first (with a "did
 * you mean" for typos), values are checked finite, then nodes are built in
 * order through makeNode, whose shape rules catch tensors of the wrong shape.
 */
import {
  type Graph,
  makeNode,
  makeWeight,
  type Node,
  type OpAttrs,
  RefoldError,
} from "../../ir/mod.ts";
import { builtNodeProblem } from "../node_checks.ts";
import type { ModelDocument } from "./document.ts";
import { formatPath, type PathStep, Problems } from "./problems.ts";

/** A float32 tensor supplied for a weight name. */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Where weights that are not inline come from. */
export interface ExternalTensors {
  /** The file they live in, for messages ("model.safetensors"). */
  readonly label: string;
  /** Every tensor name there (for checks and suggestions). */
  readonly names: Iterable<string>;
}

/**
 * Checks every weight reference against inline tensors and `external`, and
 * that no external tensor shadows an input or node. Returns the external
 * names the graph uses; throws a ModelError listing all problems.
 */
export function resolveWeights(doc: ModelDocument, external?: ExternalTensors): string[] {
  const problems = new Problems(doc.file);
  const names = new Set(external?.names ?? []);
  for (const name of names) {
    const path = doc.declared.get(name);
    if (path) {
      const what = path[0] === "weights" ? "inline tensor" : "name";
      problems.add(path, `${what} "${name}" is also a tensor in ${external!.label}`);
    }
  }
  const used: string[] = [];
  const suggester = new Suggester();
  let candidates: string[] | undefined;
  for (const [name, path] of doc.weightRefs) {
    if (names.has(name)) {
      used.push(name);
      continue;
    }
    const where = external
      ? `, nor a tensor in ${external.label}`
      : ", and the model has no weights file";
    candidates ??= [...doc.declared.keys(), ...names];
    const guess = suggester.closest(name, candidates);
    const hint = guess ? ` (did you mean "${guess}"?)` : "";
    problems.add(
      path,
      `unknown name "${name}": not an input, a node or an inline tensor${where}${hint}`,
    );
  }
  problems.throwIfAny();
  return used;
}

/** Throws `file: tensor "name": value at [i,j] (flat index k) is NaN` for the first non-finite value. */
export function checkFinite(name: string, tensor: WeightTensor, file: string): void {
  const { data, shape } = tensor;
  for (let flat = 0; flat < data.length; flat++) {
    if (Number.isFinite(data[flat])) continue;
    const index = new Array<number>(shape.length);
    for (let axis = shape.length - 1, rest = flat; axis >= 0; axis--) {
      index[axis] = rest % shape[axis];
      rest = Math.floor(rest / shape[axis]);
    }
    throw new RefoldError(
      `tensor "${name}": value at [${index}] (flat index ${flat}) is ${data[flat]}`,
      {
        file,
      },
    );
  }
}

/** Refuses a batch size that is not a positive integer. */
export function checkBatch(batch: number, file: string): void {
  if (!Number.isSafeInteger(batch) || batch < 1) {
    throw new RefoldError(`batch must be a positive integer, got ${batch}`, { file });
  }
}

/** Options of buildGraph. */
export interface BuildOptions {
  /** The value of "N". */
  batch: number;
  /** Values of the external tensors resolveWeights returned. */
  weights: ReadonlyMap<string, WeightTensor>;
  /** Their file, for messages. */
  weightsLabel: string;
}

/** Builds the graph; a shape error names the file and the node. */
export function buildGraph(doc: ModelDocument, options: BuildOptions): Graph {
  const { batch } = options;
  checkBatch(batch, doc.file);
  const values = new Map<string, Node>();
  const attempt = (path: readonly PathStep[], label: string | undefined, make: () => Node) => {
    try {
      return make();
    } catch (error) {
      if (!(error instanceof RefoldError)) throw error;
      const where = label ? `${label} (${formatPath(path)})` : formatPath(path);
      throw new RefoldError(error.message, { file: doc.file, node: where });
    }
  };
  const inputs = doc.inputs.map((input, i) => {
    const shape = input.shape.map((dim) => (dim === "N" ? batch : dim));
    const node = attempt(["inputs", i], `input "${input.name}"`, () => {
      return makeNode("input", [], { name: input.name, shape, dtype: input.dtype });
    }) as Node<"input">;
    values.set(input.name, node);
    return node;
  });
  for (const [name, tensor] of doc.inline) {
    const data = Float32Array.from(tensor.data);
    const where = ["weights", "inline", name];
    checkFinite(name, { shape: tensor.shape, data }, `${doc.file}: ${formatPath(where)}`);
    values.set(name, attempt(where, undefined, () => makeWeight(name, tensor.shape, data)));
  }
  for (const [name, tensor] of options.weights) {
    try {
      values.set(name, makeWeight(name, tensor.shape, tensor.data));
    } catch (error) {
      if (!(error instanceof RefoldError)) throw error;
      throw new RefoldError(`tensor "${name}": ${error.message}`, { file: options.weightsLabel });
    }
  }
  doc.nodes.forEach((node, i) => {
    const operands = node.inputs.map((name) => lookup(values, name, doc.file));
    const attrs = node.op === "reshape"
      ? { shape: (node.attrs.shape as (number | "N")[]).map((d) => (d === "N" ? batch : d)) }
      : node.attrs;
    values.set(
      node.name,
      attempt(["nodes", i], `node "${node.name}"`, () => {
        const built = makeNode(node.op, operands, attrs as unknown as OpAttrs[typeof node.op]);
        const problem = builtNodeProblem(built);
        if (problem) throw new RefoldError(problem);
        return built;
      }),
    );
  });
  const outputs = doc.outputs.map(({ name, node }) => ({
    name,
    node: lookup(values, node, doc.file),
  }));
  return { name: doc.name, inputs, outputs };
}

function lookup(values: ReadonlyMap<string, Node>, name: string, file: string): Node {
  const node = values.get(name);
  // resolveWeights has already reported unknown names; this guards a caller that skipped it.
  if (!node) throw new RefoldError(`unknown name "${name}"`, { file });
  return node;
}

/** "did you mean" looks at names up to this long; longer ones are no typos worth guessing. */
const MAX_SUGGESTED_NAME = 256;

/** Edit-distance cells "did you mean" may spend on one model: a few milliseconds at most. */
const SUGGESTION_BUDGET = 4_000_000;

/** Picks near names for typos within a fixed amount of work, however many or long the names. */
class Suggester {
  #budget = SUGGESTION_BUDGET;

  /** The candidate nearest to `name` by edit distance, if it is near enough to be a typo. */
  closest(name: string, candidates: readonly string[]): string | undefined {
    if (name.length > MAX_SUGGESTED_NAME) return undefined;
    let best: string | undefined, limit = Math.max(2, Math.floor(name.length / 4)) + 1;
    for (const candidate of candidates) {
      if (Math.abs(candidate.length - name.length) >= limit) continue;
      this.#budget -= name.length * (2 * limit + 1);
      if (this.#budget < 0) return best;
      const distance = boundedDistance(name, candidate, limit);
      if (distance < limit) [best, limit] = [candidate, distance];
    }
    return best;
  }
}

/**
 * Levenshtein distance of `a` and `b` when it is below `limit`, else `limit`:
 * only the diagonal band |i - j| < limit is computed, O(|a| * limit).
 */
function boundedDistance(a: string, b: string, limit: number): number {
  const far = limit;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => (j < limit ? j : far));
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(far);
    current[0] = i < limit ? i : far;
    let rowBest = current[0];
    for (let j = Math.max(1, i - limit + 1); j <= Math.min(b.length, i + limit - 1); j++) {
      const substitute = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitute, far);
      rowBest = Math.min(rowBest, current[j]);
    }
    if (rowBest >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length], limit);
}
