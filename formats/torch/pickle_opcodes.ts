/**
 * The opcodes of the pickle subset torch.save writes, by byte, each a small
 * function of the machine; and the opcodes refused by name. Nothing here
 * looks a name up or calls anything: GLOBAL, REDUCE, BINPERSID and BUILD go
 * to the machine's hooks.
 */
import type { PickleMachine } from "./pickle_machine.ts";
import { type DictKey, PickleDict, PickleTuple, type PickleValue, typeName } from "./values.ts";

/** Opcodes refused by name: torch never writes them for a state_dict, and some run code. */
export const REFUSED: Readonly<Record<number, string>> = {
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

function dictOf(vm: PickleMachine, value: PickleValue, op: string): PickleDict {
  if (!(value instanceof PickleDict)) vm.fail(`${op} on a ${typeName(value)}, not a dict`);
  return value;
}

function listOf(vm: PickleMachine, value: PickleValue, op: string): PickleValue[] {
  if (!Array.isArray(value)) vm.fail(`${op} on a ${typeName(value)}, not a list`);
  return value;
}

function setItems(vm: PickleMachine, dict: PickleDict, items: readonly PickleValue[]): void {
  if (items.length % 2 !== 0) vm.fail("SETITEMS with an odd number of items");
  for (let i = 0; i < items.length; i += 2) {
    const key = items[i];
    const keyOk = key === null || ["string", "number", "bigint", "boolean"].includes(typeof key);
    if (!keyOk) vm.fail(`a dict key of type ${typeName(key)}`);
    dict.entries.set(key as DictKey, items[i + 1]);
  }
}

function tuple(vm: PickleMachine, count: number): void {
  const items: PickleValue[] = [];
  for (let i = 0; i < count; i++) items.unshift(vm.pop());
  vm.push(new PickleTuple(items));
}

function stackGlobal(vm: PickleMachine): void {
  const name = vm.pop(), module = vm.pop();
  if (typeof module !== "string" || typeof name !== "string") {
    vm.fail("STACK_GLOBAL needs two strings");
  }
  vm.push(vm.hooks.global(module, name));
}

function reduce(vm: PickleMachine): void {
  const args = vm.pop(), callable = vm.pop();
  if (!(args instanceof PickleTuple)) vm.fail(`REDUCE with ${typeName(args)} arguments`);
  vm.push(vm.hooks.reduce(callable, args));
}

function build(vm: PickleMachine): void {
  const state = vm.pop();
  vm.hooks.build(vm.top(), state);
}

function proto(vm: PickleMachine): void {
  const version = vm.u8();
  if (version < 2 || version > 5) vm.fail(`pickle protocol ${version} (torch writes 2 to 5)`);
}

function frame(vm: PickleMachine): void {
  vm.length64(); // A framing hint: the frame's bytes follow and are read as usual.
}

type Handler = (vm: PickleMachine) => void;

/** The opcodes read, by byte. */
export const OPCODES: Readonly<Record<number, Handler>> = {
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
