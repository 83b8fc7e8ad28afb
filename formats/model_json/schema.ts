/**
 * A validator for the subset of JSON Schema (draft 2020-12) that
 * formats/model.schema.json uses. Hand-written rather than ajv: the subset is
 * small, it needs no dependency, and its messages are ours (`must be an
 * integer >= 1, got 0` at `$.nodes[3].attrs.groups`). A schema keyword
 * outside the subset throws at construction, so the schema cannot silently
 * outgrow the validator.
 */
import schemaDocument from "../model.schema.json" with { type: "json" };
import { formatPath, type PathStep } from "./problems.ts";

/** A JSON Schema object (booleans are not used by our schema). */
export type Schema = { readonly [keyword: string]: unknown };

/** One violation: where and what. */
export interface SchemaProblem {
  readonly path: readonly PathStep[];
  readonly message: string;
}

const ANNOTATIONS = new Set(["$schema", "$id", "title", "description", "default", "$defs"]);
const APPLICATORS = new Set([
  "$ref",
  "type",
  "const",
  "enum",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  "minimum",
  "maximum",
  "exclusiveMaximum",
  "minLength",
  "anyOf",
  "allOf",
  "if",
  "then",
]);
/** Keywords whose failure is reported as one "must be <description>" message. */
const LEAF = ["type", "const", "enum", "minimum", "maximum", "exclusiveMaximum", "minLength"];

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** A short rendering of a value for messages. */
export function showValue(value: unknown): string {
  // JSON reads 1e400 as Infinity, which JSON.stringify would show as null.
  const finite = typeof value !== "number" || Number.isFinite(value);
  const text = (finite ? JSON.stringify(value) : undefined) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Validates JSON values against one root schema. */
export class SchemaValidator {
  constructor(readonly root: Schema) {
    this.#checkKeywords(root, "#");
  }

  /** Every violation of `value`, in document order. */
  validate(value: unknown): SchemaProblem[] {
    const out: SchemaProblem[] = [];
    this.#validate(this.root, value, [], out);
    // Overlapping rules (a base schema and an op's then-branch) may say the same thing twice.
    const seen = new Set<string>();
    return out.filter(({ path, message }) => {
      const key = `${formatPath(path)}\0${message}`;
      return !seen.has(key) && seen.add(key) !== undefined;
    });
  }

  /** Resolves a local `#/$defs/...` reference. */
  resolve(ref: string): Schema {
    let target: unknown = this.root;
    for (const part of ref.replace(/^#\/?/, "").split("/").filter((p) => p)) {
      target = isObject(target) ? target[part] : undefined;
    }
    if (!isObject(target)) throw new Error(`schema: unresolved $ref ${ref}`);
    return target;
  }

  /** `an integer >= 1`, `"N"`, `an array of 2 items, each ...`: what a value must be. */
  describe(schema: Schema): string {
    if (typeof schema.$ref === "string" && !LEAF.some((k) => k in schema) && !schema.anyOf) {
      return this.describe(this.resolve(schema.$ref));
    }
    if ("const" in schema) return JSON.stringify(schema.const);
    if (Array.isArray(schema.enum)) {
      return `one of ${schema.enum.map((item) => JSON.stringify(item)).join(", ")}`;
    }
    if (Array.isArray(schema.anyOf)) {
      return schema.anyOf.map((branch) => this.describe(branch as Schema)).join(" or ");
    }
    switch (schema.type) {
      case "integer":
      case "number": {
        const bounds = [
          schema.minimum !== undefined ? `>= ${schema.minimum}` : "",
          schema.maximum !== undefined ? `<= ${schema.maximum}` : "",
          schema.exclusiveMaximum !== undefined ? `< ${schema.exclusiveMaximum}` : "",
        ].filter((b) => b);
        const noun = schema.type === "integer" ? "an integer" : "a number";
        return [noun, bounds.join(" and ")].filter((part) => part).join(" ");
      }
      case "string":
        return schema.minLength === 1 ? "a non-empty string" : "a string";
      case "boolean":
        return "true or false";
      case "array": {
        const count = schema.minItems !== undefined && schema.minItems === schema.maxItems
          ? ` of ${schema.minItems} items`
          : "";
        const each = isObject(schema.items) ? `, each ${this.describe(schema.items)}` : "";
        return `an array${count}${each}`;
      }
      case "object":
        return "an object";
      default:
        return "valid";
    }
  }

  #validate(schema: Schema, value: unknown, path: PathStep[], out: SchemaProblem[]): void {
    if (typeof schema.$ref === "string") {
      this.#validate(this.resolve(schema.$ref), value, path, out);
    }
    if (!this.#leafOk(schema, value)) {
      out.push({ path, message: `must be ${this.describe(schema)}, got ${showValue(value)}` });
      return;
    }
    if (Array.isArray(schema.anyOf)) {
      this.#anyOf(schema, schema.anyOf as Schema[], value, path, out);
    }
    for (const branch of (schema.allOf ?? []) as Schema[]) this.#validate(branch, value, path, out);
    if (isObject(schema.if) && isObject(schema.then)) {
      const test: SchemaProblem[] = [];
      this.#validate(schema.if, value, path, test);
      if (test.length === 0) this.#validate(schema.then, value, path, out);
    }
    if (isObject(value)) this.#object(schema, value, path, out);
    if (Array.isArray(value)) this.#array(schema, value, path, out);
  }

  #leafOk(schema: Schema, value: unknown): boolean {
    const type = jsonType(value);
    if (typeof schema.type === "string") {
      const fits = schema.type === type || (schema.type === "number" && type === "integer");
      if (!fits) return false;
    }
    if ("const" in schema && schema.const !== value) return false;
    if (Array.isArray(schema.enum) && !schema.enum.includes(value)) return false;
    if (typeof value === "number") {
      if (typeof schema.minimum === "number" && !(value >= schema.minimum)) return false;
      if (typeof schema.maximum === "number" && !(value <= schema.maximum)) return false;
      if (typeof schema.exclusiveMaximum === "number" && !(value < schema.exclusiveMaximum)) {
        return false;
      }
    }
    if (typeof value === "string" && typeof schema.minLength === "number") {
      return [...value].length >= schema.minLength;
    }
    return true;
  }

  #anyOf(
    schema: Schema,
    branches: readonly Schema[],
    value: unknown,
    path: PathStep[],
    out: SchemaProblem[],
  ): void {
    const results = branches.map((branch) => {
      const problems: SchemaProblem[] = [];
      this.#validate(branch, value, path, problems);
      return problems;
    });
    if (results.some((problems) => problems.length === 0)) return;
    // When exactly one branch is the array or object form that the value has,
    // its own problems say more than "must be A or B".
    const structural = branches.map((branch) => this.#structuralType(branch));
    const type = jsonType(value);
    const matching = structural.flatMap((t, i) => (t === type ? [i] : []));
    if ((type === "array" || type === "object") && matching.length === 1) {
      out.push(...results[matching[0]]);
    } else {
      out.push({
        path,
        message: `must be ${this.describe({ anyOf: schema.anyOf })}, got ${showValue(value)}`,
      });
    }
  }

  #structuralType(schema: Schema): unknown {
    if (schema.type !== undefined) return schema.type;
    return typeof schema.$ref === "string"
      ? this.#structuralType(this.resolve(schema.$ref))
      : undefined;
  }

  #object(schema: Schema, value: Record<string, unknown>, path: PathStep[], out: SchemaProblem[]) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!Object.hasOwn(value, key)) {
        out.push({ path, message: `missing required property "${key}"` });
      }
    }
    for (const [key, item] of Object.entries(value)) {
      const at = [...path, key];
      if (Object.hasOwn(properties, key)) this.#validate(properties[key], item, at, out);
      else if (schema.additionalProperties === false) {
        const known = Object.keys(properties);
        const hint = known.length > 0 ? ` (expected ${known.join(", ")})` : " (takes none)";
        out.push({ path: at, message: `unknown property${hint}` });
      } else if (isObject(schema.additionalProperties)) {
        this.#validate(schema.additionalProperties, item, at, out);
      }
    }
  }

  #array(schema: Schema, value: unknown[], path: PathStep[], out: SchemaProblem[]) {
    const { minItems, maxItems } = schema as { minItems?: number; maxItems?: number };
    const tooFew = minItems !== undefined && value.length < minItems;
    const tooMany = maxItems !== undefined && value.length > maxItems;
    if (tooFew || tooMany) {
      const count = minItems === maxItems
        ? `exactly ${minItems}`
        : minItems !== undefined && maxItems !== undefined
        ? `${minItems} to ${maxItems}`
        : tooFew
        ? `at least ${minItems}`
        : `at most ${maxItems}`;
      const noun = count.endsWith(" 1") ? "item" : "items";
      out.push({ path, message: `must have ${count} ${noun}, got ${value.length}` });
      if (tooMany) return;
    }
    const prefix = (schema.prefixItems ?? []) as Schema[];
    value.forEach((item, index) => {
      const itemSchema = index < prefix.length ? prefix[index] : schema.items;
      if (isObject(itemSchema)) this.#validate(itemSchema, item, [...path, index], out);
    });
  }

  #checkKeywords(schema: unknown, where: string): void {
    if (!isObject(schema)) throw new Error(`schema: ${where} is not an object`);
    for (const [keyword, sub] of Object.entries(schema)) {
      if (!ANNOTATIONS.has(keyword) && !APPLICATORS.has(keyword)) {
        throw new Error(`schema: ${where} uses "${keyword}", which the validator does not support`);
      }
      const nested = keyword === "$defs" || keyword === "properties"
        ? Object.entries(sub as object)
        : keyword === "prefixItems" || keyword === "anyOf" || keyword === "allOf"
        ? (sub as unknown[]).map((item, i) => [String(i), item] as const)
        : ["items", "if", "then"].includes(keyword) ||
            (keyword === "additionalProperties" && sub !== false)
        ? [["", sub] as const]
        : [];
      for (const [key, item] of nested) {
        this.#checkKeywords(item, `${where}/${keyword}${key ? "/" + key : ""}`);
      }
    }
  }
}

/** The model.json schema, as shipped in formats/model.schema.json. */
export const MODEL_SCHEMA: Schema = schemaDocument as Schema;

/** A validator for MODEL_SCHEMA. */
export const modelValidator: SchemaValidator = new SchemaValidator(MODEL_SCHEMA);

/** Validates a parsed model.json document; problems carry JSON paths. */
export function validateModel(value: unknown): { where: string; message: string }[] {
  return modelValidator.validate(value).map(({ path, message }) => ({
    where: formatPath(path),
    message,
  }));
}

/** The attrs schema of one op (with `properties` and their defaults), from the node's if/then. */
export function attrsSchema(op: string): Schema | undefined {
  const node = modelValidator.resolve("#/$defs/node");
  for (const entry of node.allOf as Schema[]) {
    const rule = modelValidator.resolve(entry.$ref as string);
    const test = ((rule.if as Schema).properties as Record<string, Schema>).op;
    const matches = test.const === op || (Array.isArray(test.enum) && test.enum.includes(op));
    if (!matches) continue;
    const attrs = ((rule.then as Schema).properties as Record<string, Schema>).attrs;
    return typeof attrs.$ref === "string" ? modelValidator.resolve(attrs.$ref) : attrs;
  }
  return undefined;
}
