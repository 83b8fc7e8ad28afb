/**
 * Names of the weights a pass creates. A derived name keeps the stem of the
 * weight it came from and says what was done: `fc3.weight` folded with its
 * BatchNorm becomes `fc3.bnfold.weight`, then `fc3.local.weight` once the
 * conv branches are injected. Earlier tags are dropped so names stay short,
 * and a counter keeps every name unique within the graph.
 */
import { type Graph, topoOrder } from "../../ir/mod.ts";

/** The tags that passes add; a stem never keeps one of them. */
export const TAGS = ["bnfold", "merged", "local", "grouped", "affine", "const"] as const;

/** What a derived weight is to the op that reads it. */
export type Role = "weight" | "bias" | "scale" | "shift" | "running_mean" | "running_var";

const ROLES: readonly string[] = [
  "weight",
  "bias",
  "scale",
  "shift",
  "running_mean",
  "running_var",
];
const TAG_PATTERN = new RegExp(`^(?:${TAGS.join("|")})[0-9]*$`);

/** `layer1.0.conv1.bnfold.weight` -> `layer1.0.conv1`. */
export function stemOf(name: string): string {
  const parts = name.split(".");
  if (parts.length > 1 && ROLES.includes(parts[parts.length - 1])) parts.pop();
  while (parts.length > 1 && TAG_PATTERN.test(parts[parts.length - 1])) parts.pop();
  return parts.join(".");
}

const isRole = (part: string): part is Role => ROLES.includes(part);

/** The role a name ends with, when it ends with one. */
export function roleOf(name: string): Role | undefined {
  const last = name.slice(name.lastIndexOf(".") + 1);
  return isRole(last) ? last : undefined;
}

/** Hands out names that no weight of the graph (or earlier call) holds. */
export class NameTable {
  readonly #taken = new Set<string>();

  /** Reserves the names of every weight reachable in `graph`. */
  constructor(graph: Graph) {
    for (const node of topoOrder(graph)) {
      if (node.op === "weight") this.#taken.add(node.attrs.name);
    }
  }

  /** `${stem(source)}.${tag}.${role}`, numbered `tag2`, `tag3`... when taken. */
  derive(source: string, tag: (typeof TAGS)[number], role?: Role): string {
    const stem = stemOf(source);
    const suffix = role ?? roleOf(source);
    for (let n = 1;; n++) {
      const name = [stem, n === 1 ? tag : `${tag}${n}`, suffix].filter((p) => p).join(".");
      if (!this.#taken.has(name)) {
        this.#taken.add(name);
        return name;
      }
    }
  }
}
