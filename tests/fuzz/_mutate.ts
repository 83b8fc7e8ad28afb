/**
 * Seeded mutations for fuzzing the readers: of raw bytes (flips, cuts,
 * splices), and of decoded structures (a protobuf message or a JSON value),
 * where a leaf or a list changes in place: numbers to edge values, strings
 * to other names of the same file or to hostile ones, lists shortened,
 * repeated or reordered, fields dropped. Every mutation says what it did, so
 * that a failure can be reproduced from its seed and read from its log.
 */
import { seededRandom } from "../../ir/mod.ts";

/** A seeded source of choices. */
export class Chooser {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.#next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/** Byte-level damage: what a truncated download or a bit flip does. */
export function mutateBytes(
  bytes: Uint8Array,
  choose: Chooser,
): { bytes: Uint8Array; what: string } {
  const at = choose.below(Math.max(1, bytes.length));
  switch (choose.below(5)) {
    case 0: {
      const out = bytes.slice();
      for (let i = 0; i < 1 + choose.below(4); i++) {
        out[choose.below(out.length)] = choose.below(256);
      }
      return { bytes: out, what: "flipped bytes" };
    }
    case 1:
      return { bytes: bytes.slice(0, at), what: `cut at byte ${at}` };
    case 2: {
      const extra = Uint8Array.from({ length: 1 + choose.below(16) }, () => choose.below(256));
      return {
        bytes: concat(bytes.subarray(0, at), extra, bytes.subarray(at)),
        what: `inserted at ${at}`,
      };
    }
    case 3: {
      const from = choose.below(bytes.length), length = choose.below(64);
      const slice = bytes.subarray(from, from + length);
      return {
        bytes: concat(bytes.subarray(0, at), slice, bytes.subarray(at)),
        what: `spliced at ${at}`,
      };
    }
    default: {
      const out = bytes.slice();
      out[at] = choose.pick([0x00, 0xff, 0x7f, 0x80]);
      return { bytes: out, what: `edge byte at ${at}` };
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Numbers a mutated field may take: zero, signs, off-by-one, powers near every limit. */
const NUMBERS = [
  0,
  1,
  -1,
  2,
  3,
  7,
  64,
  255,
  65535,
  65536,
  2 ** 20,
  2 ** 30,
  2 ** 31 - 1,
  -(2 ** 31),
];

/** Strings a mutated field may take, besides names already in the file. */
const STRINGS = ["", "x", "../../etc/passwd", "/etc/passwd", "a\nb", "toString", "__proto__", "N"];

type Container = Record<string, unknown> | unknown[];

/** Every place in a tree holding a value: (container, key). */
function places(root: unknown): { parent: Container; key: string | number }[] {
  const out: { parent: Container; key: string | number }[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        out.push({ parent: value, key: i });
        visit(item);
      });
    } else if (value && typeof value === "object" && !ArrayBuffer.isView(value)) {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        if (record[key] === undefined || record[key] === null) continue;
        out.push({ parent: record, key });
        visit(record[key]);
      }
    }
  };
  visit(root);
  return out;
}

/** The strings of a tree, so that mutations can swap one name for another. */
function strings(root: unknown): string[] {
  return places(root).map(({ parent, key }) => (parent as Record<string, unknown>)[key])
    .filter((value): value is string => typeof value === "string");
}

function isLong(value: unknown): value is { toNumber(): number } {
  return !!value && typeof value === "object" && "toNumber" in value && "high" in value;
}

/** Mutates one value of `root` in place (a protobuf message or JSON); says what it did. */
export function mutateTree(root: unknown, choose: Chooser): string {
  const all = places(root);
  if (all.length === 0) return "nothing to mutate";
  const { parent, key } = choose.pick(all);
  const get = () => (parent as Record<string, unknown>)[key];
  const set = (value: unknown) => ((parent as Record<string, unknown>)[key] = value);
  const value = get();
  const where = `[${JSON.stringify(key)}]`;
  if (Array.isArray(value) && value.length > 0 && choose.below(2) === 0) {
    const i = choose.below(value.length), j = choose.below(value.length);
    switch (choose.below(3)) {
      case 0:
        value.splice(i, 1);
        return `${where}: dropped item ${i}`;
      case 1:
        value.splice(i, 0, value[j]);
        return `${where}: repeated item ${j} at ${i}`;
      default:
        [value[i], value[j]] = [value[j], value[i]];
        return `${where}: swapped items ${i} and ${j}`;
    }
  }
  if (typeof value === "number" || isLong(value)) {
    const old = isLong(value) ? value.toNumber() : value;
    const next = choose.below(3) === 0 ? old + choose.pick([1, -1]) : choose.pick(NUMBERS);
    set(Number.isInteger(old) ? next : choose.pick([next, next + 0.5, -old, old * 1e30]));
    return `${where}: ${old} -> ${get()}`;
  }
  if (typeof value === "string") {
    const names = strings(root);
    set(choose.below(2) === 0 && names.length > 0 ? choose.pick(names) : choose.pick(STRINGS));
    return `${where}: ${JSON.stringify(value)} -> ${JSON.stringify(get())}`;
  }
  if (value instanceof Uint8Array) {
    const { bytes, what } = mutateBytes(value, choose);
    set(bytes);
    return `${where}: ${what}`;
  }
  if (typeof value === "boolean") {
    set(!value);
    return `${where}: ${value} -> ${!value}`;
  }
  if (!Array.isArray(parent) && choose.below(2) === 0) {
    delete (parent as Record<string, unknown>)[key as string];
    return `${where}: removed`;
  }
  set(choose.pick([[], {}, 0, "", null]));
  return `${where}: replaced by ${JSON.stringify(get())}`;
}
