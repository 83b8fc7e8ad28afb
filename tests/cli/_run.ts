/** Runs compile.ts in a subprocess, as a user would. */
import { dirname, fromFileUrl, join } from "../_path.ts";

/** The repository root. */
export const ROOT = join(dirname(fromFileUrl(import.meta.url)), "..", "..");

/** Exit code, stdout and stderr of `deno run -A compile.ts ...args`. */
export async function runCli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "compile.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const { code, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** True when `path` exists. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
