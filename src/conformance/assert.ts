/**
 * Assertions of the RM conformance suite. Every failure is a one-line reason that names what
 * was checked and shows the expected and the received value, numbers and bytes in hex, so a
 * failing line in `gunyah-emu rm conformance` output can be acted on without a debugger.
 *
 * Reference: none beyond the names of rm-rpc.md §11 (message IDs) and §14.1 (RM errors),
 * which come from src/rm-rpc/wire.
 */
import { toHex } from '../shared/bytes.js';
import { RmErrorCode, rmErrorName, type RmErrorName } from '../rm-rpc/wire/errors.js';
import { rmIdLabel } from '../rm-rpc/wire/msg-ids.js';

/** A conformance check did not hold. `message` is the one-line reason. */
export class CaseFailure extends Error {
  override readonly name = 'CaseFailure';
}

/** The case cannot run against this target (e.g. it needs control the target lacks). */
export class CaseSkip extends Error {
  override readonly name = 'CaseSkip';
}

/** Fail the running case with a one-line reason. */
export function fail(reason: string): never {
  throw new CaseFailure(reason.replace(/\s*\n\s*/g, ' '));
}

/** Fail unless `cond` holds. */
export function check(cond: unknown, reason: string): asserts cond {
  if (!cond) fail(reason);
}

/** `0x` + lowercase hex of a number. */
export function hx(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** `VM_START (0x56000004)`: a message ID with its name. */
export function msgLabel(id: number): string {
  const name = rmIdLabel(id);
  return name.startsWith('0x') ? name : `${name} (${hx(id)})`;
}

/** `VM_STATE (0x14)`: an RM error with its name; unknown values as hex only. */
export function errLabel(code: number): string {
  const name = rmErrorName(code);
  return name === undefined ? `unknown error ${hx(code >>> 0)}` : `${name} (${hx(code >>> 0)})`;
}

/** Hex of up to `max` bytes, with the total length; longer inputs are cut with an ellipsis. */
export function hexPreview(b: Uint8Array, max = 48): string {
  const shown = toHex(b.subarray(0, max));
  return `[${shown}${b.byteLength > max ? ' …' : ''}] (${b.byteLength} bytes)`;
}

/** Numbers and bigints in hex, everything else as JSON. */
function show(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? hx(v) : String(v);
  if (typeof v === 'bigint') return hx(v);
  if (v instanceof Uint8Array) return hexPreview(v);
  return JSON.stringify(v);
}

/** Fail unless `got === expected` (numbers, bigints, strings, booleans). */
export function expectEqual<T extends number | bigint | string | boolean>(got: T, expected: T, what: string): void {
  if (got !== expected) fail(`${what}: expected ${show(expected)}, got ${show(got)}`);
}

/** Fail unless the byte strings are identical. */
export function expectBytes(got: Uint8Array, expected: Uint8Array | readonly number[], what: string): void {
  const exp = expected instanceof Uint8Array ? expected : Uint8Array.from(expected);
  let same = got.byteLength === exp.byteLength;
  for (let i = 0; same && i < exp.byteLength; i++) same = got[i] === exp[i];
  if (!same) {
    let at = 0;
    while (at < got.byteLength && at < exp.byteLength && got[at] === exp[at]) at++;
    fail(`${what}: expected ${hexPreview(exp)}, got ${hexPreview(got)}; first difference at byte ${at}`);
  }
}

/** An RM error given by name or value. */
export type ErrSpec = RmErrorName | number;

/** The numeric value of an ErrSpec. */
export function errValue(e: ErrSpec): number {
  return typeof e === 'number' ? e >>> 0 : RmErrorCode[e];
}
