/**
 * The machine a pickle's opcodes drive: the operand reader (every length
 * checked against the bytes left), the stack with its marks, and the memo.
 * It knows no opcode itself (./pickle_opcodes.ts) and calls nothing but the
 * hooks it is given.
 */
import { RefoldError } from "../../ir/mod.ts";
import type { PickleGlobal, PickleTuple, PickleValue } from "./values.ts";

/** What a pickle's opcodes may do beyond building plain data; each hook may refuse. */
export interface PickleHooks {
  /** GLOBAL / STACK_GLOBAL: the named object, or a refusal. */
  global(module: string, name: string): PickleGlobal;
  /** REDUCE: the result of "calling" `callable` (a value from `global`) with `args`. */
  reduce(callable: PickleValue, args: PickleTuple): PickleValue;
  /** BINPERSID: the object a persistent id stands for. */
  persistentLoad(pid: PickleValue): PickleValue;
  /** BUILD: set `state` on `target`. */
  build(target: PickleValue, state: PickleValue): void;
}

const MAX_LONG_BYTES = 64;

const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

/** The stack, the memo and the operand reader of one pickle; opcodes drive it. */
export class PickleMachine {
  readonly #bytes: Uint8Array;
  readonly #data: DataView;
  readonly #hooks: PickleHooks;
  readonly #file: string;
  #at = 0;
  #opcodeAt = 0;
  readonly #stack: StackItem[] = [];
  readonly #marks: number[] = [];
  readonly #memo = new Map<number, PickleValue>();
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(bytes: Uint8Array, hooks: PickleHooks, file: string) {
    this.#bytes = bytes;
    this.#data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#hooks = hooks;
    this.#file = file;
  }

  /** Throws a RefoldError naming the file and the offset of the current opcode. */
  fail(problem: string): never {
    throw new RefoldError(`byte ${this.#opcodeAt}: ${problem}`, { file: this.#file });
  }

  /** The next opcode, or undefined at the end of the bytes (its position is remembered). */
  next(): number | undefined {
    this.#opcodeAt = this.#at;
    return this.#at < this.#bytes.length ? this.#bytes[this.#at++] : undefined;
  }

  /** STOP: the one object left on the stack. */
  finish(): PickleValue {
    if (this.#marks.length > 0 || this.#stack.length !== 1) {
      this.fail(`STOP with ${this.#stack.length} items on the stack, expected 1`);
    }
    return this.pop();
  }

  // Reading operands: each checks the bytes left before it reads.

  /** The next `length` bytes (a view). */
  take(length: number): Uint8Array {
    if (length > this.#bytes.length - this.#at) {
      this.fail(`needs ${length} bytes, ${this.#bytes.length - this.#at} are left (truncated?)`);
    }
    const out = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }
  u8(): number {
    return this.take(1)[0];
  }
  u16(): number {
    return this.#data.getUint16(this.#advance(2), true);
  }
  u32(): number {
    return this.#data.getUint32(this.#advance(4), true);
  }
  i32(): number {
    return this.#data.getInt32(this.#advance(4), true);
  }
  /** A u64 length, refused when more than the bytes left (so it is a safe integer). */
  length64(): number {
    const value = this.#data.getBigUint64(this.#advance(8), true);
    const left = this.#bytes.length - this.#at;
    if (value > BigInt(left)) this.fail(`needs ${value} bytes, ${left} are left (truncated?)`);
    return Number(value);
  }
  f64(): number {
    return this.#data.getFloat64(this.#advance(8), false); // BINFLOAT is big-endian
  }
  #advance(length: number): number {
    const at = this.#at;
    this.take(length);
    return at;
  }
  text(length: number): string {
    try {
      return this.#decoder.decode(this.take(length));
    } catch (error) {
      if (error instanceof RefoldError) throw error;
      return this.fail("a string is not valid UTF-8");
    }
  }
  line(): string {
    const end = this.#bytes.indexOf(0x0a, this.#at);
    if (end < 0 || end - this.#at > 1024) this.fail("GLOBAL operand without a newline");
    const text = this.text(end - this.#at);
    this.#at++;
    return text;
  }
  /** LONG1 / LONG4: little-endian two's complement of `length` bytes. */
  long(length: number): number | bigint {
    if (length > MAX_LONG_BYTES) this.fail(`an integer of ${length} bytes is too long`);
    const bytes = this.take(length);
    let value = 0n;
    for (let i = length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    if (length > 0 && bytes[length - 1] & 0x80) value -= 1n << BigInt(8 * length);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }

  // The stack, whose marks delimit what TUPLE, APPENDS and SETITEMS take.

  /** Pushes a value. */
  push(value: PickleValue): void {
    this.#stack.push(value);
  }
  mark(): void {
    this.#marks.push(this.#stack.length);
  }
  pop(): PickleValue {
    const floor = this.#marks.length > 0 ? this.#marks[this.#marks.length - 1] : 0;
    if (this.#stack.length <= floor) this.fail("pops an empty stack");
    return this.#stack.pop() as PickleValue;
  }
  top(): PickleValue {
    const value = this.pop();
    this.push(value);
    return value;
  }
  /** Everything pushed since the last MARK, removing the mark. */
  popMark(): PickleValue[] {
    const start = this.#marks.pop();
    if (start === undefined) this.fail("no MARK to pop to");
    return this.#stack.splice(start) as PickleValue[];
  }
  memoPut(index: number): void {
    if (!Number.isSafeInteger(index)) this.fail(`memo index ${index}`);
    this.#memo.set(index, this.top());
  }
  memoPutNext(): void {
    this.memoPut(this.#memo.size);
  }
  memoGet(index: number): void {
    const value = this.#memo.get(index);
    if (value === undefined) this.fail(`reads memo ${index}, which was never written`);
    this.push(value);
  }
  get hooks(): PickleHooks {
    return this.#hooks;
  }
}
