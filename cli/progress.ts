/**
 * Progress of the compile's long steps (reading, each pass, verification,
 * code generation, writing) as one status line that rewrites itself, shown
 * only when stdout is a terminal: piped output holds the final report alone.
 * Each step's wall time is kept for the report.
 */
import type { PipelineStep } from "../compiler/mod.ts";

/** A step of the compile and how long it took. */
export interface StepTime {
  readonly step: string;
  readonly ms: number;
}

/** Tracks the compile's steps; shows them where `show` is given. */
export class CompileProgress {
  readonly #show?: (line: string) => void;
  readonly #times: StepTime[] = [];
  #current?: { step: string; start: number };
  #cleared = false;

  /** `show` writes a status line (e.g. "\r" + clear + text on a terminal); absent: quiet. */
  constructor(show?: (line: string) => void) {
    this.#show = show;
  }

  /** Starts `step` (ending the one before), saying `status` on the status line. */
  start(step: string, status = step): void {
    this.#finish();
    this.#current = { step, start: performance.now() };
    this.#show?.(`refold: ${status}…`);
  }

  /** A status line inside the current step, e.g. one pass of the pipeline. */
  status(text: string): void {
    this.#show?.(`refold: ${text}…`);
  }

  /** The pipeline's progress, as status lines. */
  readonly onPipeline = (step: PipelineStep): void => {
    const what = step.stage === "reference"
      ? "computing reference outputs (--verify)"
      : `${step.stage === "run" ? "pass" : "verifying"} ${step.pass}`;
    this.status(`[${step.index + 1}/${step.count}] ${what}`);
  };

  /** The finished steps, and the current one up to now. */
  times(): StepTime[] {
    const now = this.#current &&
      { step: this.#current.step, ms: performance.now() - this.#current.start };
    return now ? [...this.#times, now] : [...this.#times];
  }

  /** Ends the last step and clears the status line (once; later calls only return the times). */
  done(): StepTime[] {
    if (this.#current === undefined && this.#cleared) return [...this.#times];
    this.#cleared = true;
    this.#finish();
    this.#show?.("");
    return [...this.#times];
  }

  #finish(): void {
    if (!this.#current) return;
    this.#times.push({ step: this.#current.step, ms: performance.now() - this.#current.start });
    this.#current = undefined;
  }
}

/** A status-line writer for a terminal: each line replaces the last. */
export function terminalStatus(write: (bytes: Uint8Array) => void): (line: string) => void {
  const encoder = new TextEncoder();
  return (line) => write(encoder.encode(`\r\x1b[2K${line}`));
}
