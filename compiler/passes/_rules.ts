/**
 * Rewrite rules looked up by op (tinygrad's PatternMatcher, typed): a rule
 * names the ops it matches and holds one identity. Rule lists compose by
 * concatenation, `indexRules` turns a list into the table the driver reads,
 * and no rule keeps state between calls: what it needs comes in `RuleEnv`.
 */
import type { Node, OpAttrs, OpName } from "../../ir/mod.ts";
import type { NameTable } from "./_names.ts";
import type { Uses } from "./_rewrite.ts";

/** Builds a node and canonicalizes it at once, so rules return canonical nodes. */
export type Make = <O extends OpName>(op: O, inputs: readonly Node[], attrs: OpAttrs[O]) => Node;

/** What a rule may use: canonical node construction, weight names, the input graph's uses. */
export interface RuleEnv {
  readonly make: Make;
  readonly names: NameTable;
  readonly uses: Uses;
}

/** One identity over nodes of some ops; returns the replacement or undefined. */
export interface Rule {
  readonly ops: readonly OpName[];
  readonly rewrite: (node: Node, env: RuleEnv) => Node | undefined;
}

/** A rule over `ops`: `rewrite` sees the node narrowed to those ops. */
export function rule<O extends OpName>(
  ops: O | readonly O[],
  rewrite: (node: Node<O>, env: RuleEnv) => Node | undefined,
): Rule {
  const list: readonly OpName[] = typeof ops === "string" ? [ops] : ops;
  const matches = (node: Node): node is Node<O> => list.includes(node.op);
  return { ops: list, rewrite: (node, env) => matches(node) ? rewrite(node, env) : undefined };
}

/** Rules by the op they match, each list in the order the rules were given. */
export type RuleTable = ReadonlyMap<OpName, readonly Rule[]>;

/** The table of `rules`: a node is offered to its op's rules in list order. */
export function indexRules(rules: readonly Rule[]): RuleTable {
  const table = new Map<OpName, Rule[]>();
  for (const each of rules) {
    for (const op of each.ops) table.set(op, [...(table.get(op) ?? []), each]);
  }
  return table;
}

/** The first replacement `table`'s rules give for `node`, or undefined. */
export function applyRules(table: RuleTable, node: Node, env: RuleEnv): Node | undefined {
  for (const each of table.get(node.op) ?? []) {
    const replacement = each.rewrite(node, env);
    if (replacement) return replacement;
  }
  return undefined;
}
