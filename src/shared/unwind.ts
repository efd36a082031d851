/**
 * An undo stack for multi-step set-up: each acquired resource pushes its release, and on
 * failure the releases run in reverse order (the kernel's goto-error ladder).
 */
import type { Logger } from './log.js';

export class Unwind {
  #undo: Array<() => unknown> = [];

  /** Remember how to undo the step just done. */
  push(undo: () => unknown): void {
    this.#undo.push(undo);
  }

  /** Forget every step (set-up succeeded). */
  commit(): void {
    this.#undo = [];
  }

  /** Undo every step in reverse order; a failing step is logged and the rest still run. */
  async run(log?: Logger): Promise<void> {
    const steps = this.#undo.reverse();
    this.#undo = [];
    for (const f of steps) {
      try {
        await f();
      } catch (err) {
        log?.warn({ err }, 'unwind step failed');
      }
    }
  }
}
