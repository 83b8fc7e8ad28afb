/**
 * `--arch list`: every registered architecture with its layouts and the
 * parameter count of each (state_dict elements, BN statistics included,
 * num_batches_tracked aside), computed from the builders themselves.
 */
import { expectedTensors, parameterCount } from "./expected.ts";
import { ARCHITECTURES } from "./registry.ts";
import type { ArchDefinition } from "./types.ts";

/** "38.3M" style counts. */
function millions(count: number): string {
  return count >= 1e6 ? `${(count / 1e6).toFixed(1)}M` : `${(count / 1e3).toFixed(1)}K`;
}

/** The table `--arch list` prints. */
export function formatArchList(registry: readonly ArchDefinition[] = ARCHITECTURES): string {
  const width = Math.max(...registry.map((arch) => arch.name.length));
  const lines = registry.map((arch) => {
    const counts = arch.layouts.map((layout) =>
      `${layout.name} ${millions(parameterCount(expectedTensors(layout)))}`
    ).join(", ");
    return `  ${arch.name.padEnd(width)}  ${arch.description}\n  ${
      " ".repeat(width)
    }  parameters: ${counts}`;
  });
  return [
    "architectures for --arch (names match in any case); parameters per checkpoint layout:",
    ...lines,
  ].join("\n");
}
