/**
 * A pickle reader for the subset torch.save writes for state_dicts:
 * protocols 2 to 5, plain containers, ints, floats, strings, bytes, and
 * GLOBAL / REDUCE / BINPERSID / BUILD routed through hooks that decide which
 * names exist and what "calling" them builds. It is a data parser, not a
 * virtual machine: no opcode can run code, import a module or look a name
 * up anywhere; an unknown global is refused the moment it is read.
 *
 * Hostile input is bounded by the bytes themselves: the reader is iterative
 * (nesting cannot exhaust the call stack), every length is checked against
 * what is left, memo reads must name an earlier write, and integers longer
 * than 64 bytes are refused before any arithmetic.
 */
import { RefoldError } from "../../ir/mod.ts";
import {
  type DictKey,
  PickleDict,
  PickleGlobal,
  PickleTuple,
  type PickleValue,
  typeName,
} from "./values.ts";

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

/** Bigger pickles are no state_dict's (RepMLPNet-L256's data.pkl is about 100 KB). */
export const MAX_PICKLE_BYTES = 256 * 2 ** 20;
const MAX_LONG_BYTES = 64;

const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

/** Opcodes refused by name: torch never writes them for a state_dict, and some run code. */
const REFUSED: Readonly<Record<number, string>> = {
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x69: "INST",
  0x6f: "OBJ",
  0x50: "PERSID",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x49: "INT (protocol 0)",
  0x4c: "LONG (protocol 0)",
  0x53: "STRING (protocol 0)",
  0x56: "UNICODE (protocol 0)",
  0x46: "FLOAT (protocol 0)",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x67: "GET (protocol 0)",
  0x70: "PUT (protocol 0)",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/** Reads one pickle; `file` names it in errors (e.g. "model.pth: data.pkl"). */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, file: string): PickleValue {
  if (bytes.length > MAX_PICKLE_BYTES) {
    throw new RefoldError(`pickle of ${bytes.length} bytes is over the ${MAX_PICKLE_BYTES} limit`, {
      file,
    });
  }
  return new Unpickler(bytes, hooks, file).run();
}

class Unpickler {
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

  fail(problem: string): never {
    throw new RefoldError(`byte ${this.#opcodeAt}: ${problem}`, { file: this.#file });
  }

  run(): PickleValue {
    try {
      return this.#loop();
    } catch (error) {
      // Our own failures carry the file already; a hook's refusal gets the position here.
      if (error instanceof RefoldError && error.location.file) throw error;
      this.fail(error instanceof Error ? error.message : String(error));
    }
  }

  #loop(): PickleValue {
    while (this.#at < this.#bytes.length) {
      this.#opcodeAt = this.#at;
      const opcode = this.#bytes[this.#at++];
      if (opcode === 0x2e) return this.#finish(); // STOP
      const handler = OPCODES[opcode];
      if (handler) handler(this);
      else if (REFUSED[opcode]) {
        this.fail(`opcode ${REFUSED[opcode]} is not allowed in a checkpoint`);
      } else this.fail(`unknown opcode 0x${opcode.toString(16).padStart(2, "0")}`);
    }
    this.#opcodeAt = this.#at;
    return this.fail("the pickle ends without STOP (truncated?)");
  }

  #finish(): PickleValue {
    if (this.#marks.length > 0 || this.#stack.length !== 1) {
      this.fail(`STOP with ${this.#stack.length} items on the stack, expected 1`);
    }
    return this.pop();
  }

  // Reading operands.
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

  // The stack.
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

function dictOf(vm: Unpickler, value: PickleValue, op: string): PickleDict {
  if (!(value instanceof PickleDict)) vm.fail(`${op} on a ${typeName(value)}, not a dict`);
  return value;
}

function listOf(vm: Unpickler, value: PickleValue, op: string): PickleValue[] {
  if (!Array.isArray(value)) vm.fail(`${op} on a ${typeName(value)}, not a list`);
  return value;
}

function setItems(vm: Unpickler, dict: PickleDict, items: readonly PickleValue[]): void {
  if (items.length % 2 !== 0) vm.fail("SETITEMS with an odd number of items");
  for (let i = 0; i < items.length; i += 2) {
    const key = items[i];
    const keyOk = key === null || ["string", "number", "bigint", "boolean"].includes(typeof key);
    if (!keyOk) vm.fail(`a dict key of type ${typeName(key)}`);
    dict.entries.set(key as DictKey, items[i + 1]);
  }
}

function tuple(vm: Unpickler, count: number): void {
  const items: PickleValue[] = [];
  for (let i = 0; i < count; i++) items.unshift(vm.pop());
  vm.push(new PickleTuple(items));
}

function stackGlobal(vm: Unpickler): void {
  const name = vm.pop(), module = vm.pop();
  if (typeof module !== "string" || typeof name !== "string") {
    vm.fail("STACK_GLOBAL needs two strings");
  }
  vm.push(vm.hooks.global(module, name));
}

function reduce(vm: Unpickler): void {
  const args = vm.pop(), callable = vm.pop();
  if (!(args instanceof PickleTuple)) vm.fail(`REDUCE with ${typeName(args)} arguments`);
  vm.push(vm.hooks.reduce(callable, args));
}

function build(vm: Unpickler): void {
  const state = vm.pop();
  vm.hooks.build(vm.top(), state);
}

function proto(vm: Unpickler): void {
  const version = vm.u8();
  if (version < 2 || version > 5) vm.fail(`pickle protocol ${version} (torch writes 2 to 5)`);
}

function frame(vm: Unpickler): void {
  vm.length64(); // A framing hint: the frame's bytes follow and are read as usual.
}

type Handler = (vm: Unpickler) => void;

/** The opcodes read, by byte. */
const OPCODES: Readonly<Record<number, Handler>> = {
  0x80: proto,
  0x95: frame,
  0x63: (vm) => vm.push(vm.hooks.global(vm.line(), vm.line())), // GLOBAL
  0x93: stackGlobal,
  0x28: (vm) => vm.mark(), // MARK
  0x7d: (vm) => vm.push(new PickleDict(false)), // EMPTY_DICT
  0x5d: (vm) => vm.push([]), // EMPTY_LIST
  0x29: (vm) => vm.push(new PickleTuple([])), // EMPTY_TUPLE
  0x4e: (vm) => vm.push(null), // NONE
  0x88: (vm) => vm.push(true), // NEWTRUE
  0x89: (vm) => vm.push(false), // NEWFALSE
  0x4b: (vm) => vm.push(vm.u8()), // BININT1
  0x4d: (vm) => vm.push(vm.u16()), // BININT2
  0x4a: (vm) => vm.push(vm.i32()), // BININT
  0x8a: (vm) => vm.push(vm.long(vm.u8())), // LONG1
  0x8b: (vm) => vm.push(vm.long(vm.u32())), // LONG4
  0x47: (vm) => vm.push(vm.f64()), // BINFLOAT
  0x8c: (vm) => vm.push(vm.text(vm.u8())), // SHORT_BINUNICODE
  0x58: (vm) => vm.push(vm.text(vm.u32())), // BINUNICODE
  0x8d: (vm) => vm.push(vm.text(vm.length64())), // BINUNICODE8
  0x43: (vm) => vm.push(vm.take(vm.u8()).slice()), // SHORT_BINBYTES
  0x42: (vm) => vm.push(vm.take(vm.u32()).slice()), // BINBYTES
  0x8e: (vm) => vm.push(vm.take(vm.length64()).slice()), // BINBYTES8
  0x71: (vm) => vm.memoPut(vm.u8()), // BINPUT
  0x72: (vm) => vm.memoPut(vm.u32()), // LONG_BINPUT
  0x94: (vm) => vm.memoPutNext(), // MEMOIZE
  0x68: (vm) => vm.memoGet(vm.u8()), // BINGET
  0x6a: (vm) => vm.memoGet(vm.u32()), // LONG_BINGET
  0x74: (vm) => vm.push(new PickleTuple(vm.popMark())), // TUPLE
  0x85: (vm) => tuple(vm, 1), // TUPLE1
  0x86: (vm) => tuple(vm, 2), // TUPLE2
  0x87: (vm) => tuple(vm, 3), // TUPLE3
  0x6c: (vm) => vm.push(vm.popMark()), // LIST
  0x64: (vm) => { // DICT
    const dict = new PickleDict(false);
    setItems(vm, dict, vm.popMark());
    vm.push(dict);
  },
  0x61: (vm) => { // APPEND
    const value = vm.pop();
    listOf(vm, vm.top(), "APPEND").push(value);
  },
  0x65: (vm) => { // APPENDS
    const items = vm.popMark();
    const list = listOf(vm, vm.top(), "APPENDS");
    for (const item of items) list.push(item);
  },
  0x73: (vm) => { // SETITEM
    const value = vm.pop(), key = vm.pop();
    setItems(vm, dictOf(vm, vm.top(), "SETITEM"), [key, value]);
  },
  0x75: (vm) => { // SETITEMS
    const items = vm.popMark();
    setItems(vm, dictOf(vm, vm.top(), "SETITEMS"), items);
  },
  0x52: reduce, // REDUCE
  0x51: (vm) => vm.push(vm.hooks.persistentLoad(vm.pop())), // BINPERSID
  0x62: build, // BUILD
  0x30: (vm) => void vm.pop(), // POP
  0x32: (vm) => vm.push(vm.top()), // DUP
  0x31: (vm) => void vm.popMark(), // POP_MARK
};
