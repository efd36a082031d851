/**
 * Heap measurement for benchmarks: `global.gc` (node --expose-gc, which `npm run bench` passes),
 * or, when node runs without it, one obtained by setting V8's flag at run time and taking `gc`
 * from a fresh context (the flag applies to contexts created after it).
 *
 * Not part of the emulator; used only by bench/*.ts.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A full garbage collection. */
export function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** True when node itself was started with --expose-gc. */
export function gcExposed(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/** `heapUsed` after two full collections (the second frees what the first's finalizers dropped). */
export function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Bytes as KiB or MiB with one decimal. */
export function fmtBytes(b: number): string {
  return Math.abs(b) >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`;
}
