/**
 * refold's command line: `deno run -A compile.ts model.json|model.onnx [options]`.
 * See docs/cli.md. Errors print one line to stderr and exit non-zero.
 */
import { parseCliArgs } from "./cli/args.ts";
import { runCompile } from "./cli/main.ts";
import { terminalStatus } from "./cli/progress.ts";
import { printable } from "./cli/report.ts";
import { RefoldError } from "./ir/mod.ts";

/** Exit status for errors in the user's input or flags. */
const EXIT_INPUT_ERROR = 1;
/** Exit status for bugs in refold itself. */
const EXIT_INTERNAL_ERROR = 70;

/** Runs the CLI on `argv`; resolves to the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await runCompile(parseCliArgs(argv), {
      out: (text) => console.log(text),
      err: (text) => console.error(text),
      // Progress only on a terminal: piped or redirected output holds the final report alone.
      status: Deno.stdout.isTerminal()
        ? terminalStatus((bytes) => Deno.stdout.writeSync(bytes))
        : undefined,
    });
    return 0;
  } catch (error) {
    if (error instanceof RefoldError) {
      console.error(`refold: error: ${printable(error.message)}`);
      return EXIT_INPUT_ERROR;
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`refold: internal error: ${printable(message)} (please report this)`);
    return EXIT_INTERNAL_ERROR;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
