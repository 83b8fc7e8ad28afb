/**
 * Timing helpers of the benchmarks: runners are measured interleaved (one
 * call each per round) so that the noise of a shared machine hits every
 * runner alike, and medians are reported.
 */

/** Something the benchmark can time: one inference per call. */
export interface Runner {
  readonly name: string;
  run(): Promise<unknown>;
  dispose(): void;
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median milliseconds per runner after `warmup` calls each, over `rounds` interleaved rounds. */
export async function timeInterleaved(
  runners: readonly Runner[],
  options: { warmup: number; rounds: number },
): Promise<number[]> {
  for (const runner of runners) {
    for (let i = 0; i < options.warmup; i++) await runner.run();
  }
  const samples = runners.map(() => [] as number[]);
  for (let round = 0; round < options.rounds; round++) {
    for (const [i, runner] of runners.entries()) {
      const start = performance.now();
      await runner.run();
      samples[i].push(performance.now() - start);
    }
  }
  return samples.map(median);
}

/** Median milliseconds per runner, each timed in its own block of back-to-back calls (warm caches). */
export async function timeBlocks(
  runners: readonly Runner[],
  options: { warmup: number; rounds: number },
): Promise<number[]> {
  const medians: number[] = [];
  for (const runner of runners) {
    for (let i = 0; i < options.warmup; i++) await runner.run();
    const samples: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const start = performance.now();
      await runner.run();
      samples.push(performance.now() - start);
    }
    medians.push(median(samples));
  }
  return medians;
}
