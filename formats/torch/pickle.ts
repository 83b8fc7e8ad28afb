/**
 * A pickle reader for the subset torch.save writes for state_dicts:
 * protocols 2 to 5, plain containers, ints, floats, strings, bytes, and
 * GLOBAL / REDUCE / BINPERSID / BUILD routed through hooks that decide which
 * names exist and what "calling" them builds. Though pickle calls its
 * interpreter a virtual machine, here it only parses data: no opcode can run
 * code, import a module or look a name up; an unknown global is refused the
 * moment it is read.
 *
 * Hostile input is bounded by the bytes themselves: the reader is iterative
 * (nesting cannot exhaust the call stack), every length is checked against
 * what is left, memo reads must name an earlier write, and integers longer
 * than 64 bytes are refused before any arithmetic.
 */
import { RefoldError } from "../../ir/mod.ts";
import { PickleMachine } from "./pickle_machine.ts";
import { OPCODES, REFUSED } from "./pickle_opcodes.ts";
import type { PickleHooks } from "./pickle_machine.ts";
import type { PickleValue } from "./values.ts";

export type { PickleHooks } from "./pickle_machine.ts";

/** Bigger pickles are no state_dict's (RepMLPNet-L256's data.pkl is about 100 KB). */
export const MAX_PICKLE_BYTES = 256 * 2 ** 20;

/** Reads one pickle; `file` names it in errors (e.g. "model.pth: data.pkl"). */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, file: string): PickleValue {
  if (bytes.length > MAX_PICKLE_BYTES) {
    throw new RefoldError(`pickle of ${bytes.length} bytes is over the ${MAX_PICKLE_BYTES} limit`, {
      file,
    });
  }
  const machine = new PickleMachine(bytes, hooks, file);
  try {
    for (let opcode = machine.next(); opcode !== undefined; opcode = machine.next()) {
      if (opcode === 0x2e) return machine.finish(); // STOP
      const handler = OPCODES[opcode];
      if (handler) handler(machine);
      else if (REFUSED[opcode]) {
        machine.fail(`opcode ${REFUSED[opcode]} is not allowed in a checkpoint`);
      } else machine.fail(`unknown opcode 0x${opcode.toString(16).padStart(2, "0")}`);
    }
    return machine.fail("the pickle ends without STOP (truncated?)");
  } catch (error) {
    // The machine's failures carry the file already; a hook's refusal gets the position here.
    if (error instanceof RefoldError && error.location.file) throw error;
    return machine.fail(error instanceof Error ? error.message : String(error));
  }
}
