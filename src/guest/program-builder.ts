/**
 * The guest-program builder: a fluent way to write a scripted guest and get its image bytes.
 * Blocks (`repeat`, `forever`, `onCpu`) take a callback that adds the body to the same builder;
 * the builder lays out the loop heads, tails and skips of program-format.ts.
 *
 *   const image = guestProgram()
 *     .onCpu(0, (p) => p.psciCpuOn(1, 0x8000_0000, 7).expect(0))
 *     .onCpu(1, (p) => p.expect(7).forever((q) => q.mmioRead(0x6000, 8)))
 *     .build();
 *
 * The virtio-scmi methods drive the guest's virtio-scmi driver (virtio-scmi-driver.ts):
 *
 *   guestProgram()
 *     .virtioScmiProbe(0x1000_0000, 0x8010_0000, { queueSize: 16 })
 *     .scmiCall(0x14, 0x7, [0, 1, 0], { expectStatus: 0 }) // CLOCK_CONFIG_SET clock 0 enable, no OEM value
 *
 * Reference: DESIGN.md "Guest images"; docs/guest-images.md "Guest programs".
 */

import type { AccessLen } from './api.js';
import {
  encodeGuestProgram,
  GUEST_HVC_MAX_ARGS,
  SCMI_CALL_MAX_WORDS,
  scmiCallDataChunks,
  type GuestInstruction,
} from './program-format.js';
import { virtioScmiProbeProblem } from './virtio-scmi-driver.js';
import { GUNYAH_PAGE_RELINQUISH_FN, PsciFn } from './smccc.js';

/** An address or a 64-bit value: a non-negative safe integer or a bigint. */
export type U64Like = number | bigint;

const TWO_64 = 1n << 64n;

/** An address: 0 ≤ a < 2^64. */
function addr(a: U64Like, what = 'address'): bigint {
  if (typeof a === 'number' && !Number.isSafeInteger(a)) throw new RangeError(`${what} must be an integer, got ${a}`);
  const b = BigInt(a);
  if (b < 0n || b >= TWO_64) throw new RangeError(`${what} must be a u64, got ${b}`);
  return b;
}

/** A register value: −2^63 ≤ v < 2^64; negative values are taken as two's complement. */
function value(v: U64Like, what = 'value'): bigint {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`${what} must be an integer, got ${v}`);
  const b = BigInt(v);
  if (b < -(1n << 63n) || b >= TWO_64) throw new RangeError(`${what} does not fit 64 bits: ${b}`);
  return BigInt.asUintN(64, b);
}

function accessLen(len: number): AccessLen {
  if (len !== 1 && len !== 2 && len !== 4 && len !== 8) throw new RangeError(`access length must be 1, 2, 4 or 8, got ${len}`);
  return len;
}

/** A 32-bit word: −2^31 ≤ w < 2^32; negative values are taken as two's complement. */
function word(w: number, what: string): number {
  if (!Number.isInteger(w) || w < -(2 ** 31) || w >= 2 ** 32) throw new RangeError(`${what} must be a 32-bit word, got ${w}`);
  return w >>> 0;
}

function words(ws: readonly number[], what: string): number[] {
  if (ws.length > SCMI_CALL_MAX_WORDS) throw new RangeError(`${what}: at most ${SCMI_CALL_MAX_WORDS} words, got ${ws.length}`);
  return ws.map((w, k) => word(w, `${what} word ${k}`));
}

function field(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} must be in 0..${max}, got ${v}`);
  return v;
}

/** Options of `virtioScmiProbe`. */
export interface VirtioScmiProbeOpts {
  /** Wanted queue size (power of two, 2..32768); default 16. QueueNumMax may lower it. */
  readonly queueSize?: number;
  /** Accept P2A_CHANNELS when offered (the eventq is then set up); default false. */
  readonly p2a?: boolean;
}

/** Options of `scmiCall`. */
export interface ScmiCallOptions {
  /** Crash (ProgramEsr.SCMI_EXPECT_FAILED) unless the status is this s32. */
  readonly expectStatus?: number;
  /** Crash unless the payload is exactly these u32 words (at most 32). */
  readonly expectPayload?: readonly number[];
  /** Header token (0..1023); default: the driver's counter. */
  readonly token?: number;
  /** Wait for the interrupt (default) or poll used.idx. */
  readonly wait?: 'irq' | 'poll';
  /** Header message_type (0..3); default 0 (command). */
  readonly messageType?: number;
}

/** Fluent builder of a guest program (see `guestProgram()`). */
export class GuestProgramBuilder {
  readonly #insns: GuestInstruction[] = [];

  /** Memory load of `len` bytes; the value becomes the last result. */
  load(address: U64Like, len: number = 8): this {
    return this.#push({ op: 'load', addr: addr(address), len: accessLen(len) });
  }

  /** Memory store of `len` bytes of `v` (only the low `len` bytes matter). */
  store(address: U64Like, len: number, v: U64Like): this {
    return this.#push({ op: 'store', addr: addr(address), len: accessLen(len), value: value(v) });
  }

  /** A load meant to trap as MMIO (the same op as `load`; the name documents intent). */
  mmioRead(address: U64Like, len: number = 8): this {
    return this.#push({ op: 'mmio-read', addr: addr(address), len: accessLen(len) });
  }

  /** A store meant to trap as MMIO (the same op as `store`; the name documents intent). */
  mmioWrite(address: U64Like, len: number, v: U64Like): this {
    return this.#push({ op: 'mmio-write', addr: addr(address), len: accessLen(len), value: value(v) });
  }

  /** Read the 64-bit word at `address` (faults a page in without changing it). */
  touch(address: U64Like): this {
    return this.#push({ op: 'touch', addr: addr(address) });
  }

  /** `HVC #0` with W0 = `fn` and X1.. = `args` (at most 5); X0 afterwards is the last result. */
  hvc(fn: number, ...args: U64Like[]): this {
    if (!Number.isInteger(fn) || fn < 0 || fn > 0xffff_ffff) throw new RangeError(`hvc function id must be a u32, got ${fn}`);
    if (args.length > GUEST_HVC_MAX_ARGS) throw new RangeError(`hvc takes at most ${GUEST_HVC_MAX_ARGS} arguments, got ${args.length}`);
    return this.#push({ op: 'hvc', fn, args: args.map((x, i) => value(x, `hvc argument ${i + 1}`)) });
  }

  /** PSCI CPU_ON (SMC64): start vCPU `target` (MPIDR) at `entry` with X0 = `context`. */
  psciCpuOn(target: U64Like, entry: U64Like, context: U64Like = 0n): this {
    return this.hvc(PsciFn.CPU_ON_64, target, entry, context);
  }

  /** PSCI SYSTEM_OFF. */
  systemOff(): this {
    return this.hvc(PsciFn.SYSTEM_OFF);
  }

  /** PSCI SYSTEM_RESET. */
  systemReset(): this {
    return this.hvc(PsciFn.SYSTEM_RESET);
  }

  /** PSCI CPU_OFF. */
  cpuOff(): this {
    return this.hvc(PsciFn.CPU_OFF);
  }

  /** Page relinquish as TVMM guests issue it: hvc 0xC6008069 (0, addr, size, flags). */
  relinquish(address: U64Like, size: U64Like, flags: U64Like): this {
    return this.hvc(GUNYAH_PAGE_RELINQUISH_FN, 0n, address, size, flags);
  }

  /** Wait for an interrupt; the waking INTID (0 spurious) becomes the last result. */
  wfi(): this {
    return this.#push({ op: 'wfi' });
  }

  /** Spin forever (nothing after it runs). */
  spin(): this {
    return this.#push({ op: 'spin' });
  }

  /** An undefined instruction: the vCPU crashes with ESR UNDEFINED. */
  udf(): this {
    return this.#push({ op: 'udf' });
  }

  /** Crash (ESR ProgramEsr.EXPECT_FAILED) unless the last result equals `v`. */
  expect(v: U64Like): this {
    return this.#push({ op: 'expect', value: value(v) });
  }

  /** Run `body` `n` times (n = 0: not at all). */
  repeat(n: U64Like, body: (p: this) => void): this {
    const count = addr(n, 'repeat count');
    const head = this.#insns.length;
    this.#push({ op: 'repeat', count, end: -1 });
    body(this);
    if (this.#insns.length === head + 1) {
      this.#insns.pop(); // an empty body: nothing to repeat
      return this;
    }
    const tail = this.#insns.length;
    this.#insns[head] = { op: 'repeat', count, end: tail };
    return this.#push({ op: 'end-repeat', start: head });
  }

  /** Run `body` forever. An empty body is a `spin`. */
  forever(body: (p: this) => void): this {
    const head = this.#insns.length;
    body(this);
    if (this.#insns.length === head) return this.spin();
    return this.#push({ op: 'jump', target: head });
  }

  /** Run `body` only on the vCPU whose index (MPIDR Aff0) is `index`; others skip it. */
  onCpu(index: number, body: (p: this) => void): this {
    if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) throw new RangeError(`vCPU index must be a u32, got ${index}`);
    const head = this.#insns.length;
    this.#push({ op: 'if-cpu', cpu: index, skip: -1 });
    body(this);
    this.#insns[head] = { op: 'if-cpu', cpu: index, skip: this.#insns.length };
    return this;
  }

  /**
   * Probe the virtio-scmi device whose register window is at `mmioBase`, with its rings and
   * buffers in the (shared) area at `ringBase` (16-byte aligned; size: `virtioScmiLayout`).
   * The accepted feature bits become the last result. A device the driver cannot use crashes
   * the vCPU (VirtioScmiEsr.PROBE_FAILED).
   */
  virtioScmiProbe(mmioBase: U64Like, ringBase: U64Like, opts: VirtioScmiProbeOpts = {}): this {
    const mmio = addr(mmioBase, 'virtio-scmi MMIO base');
    const ring = addr(ringBase, 'virtio-scmi ring area');
    const queueSize = opts.queueSize ?? 16;
    if (!Number.isSafeInteger(queueSize) || queueSize < 0) throw new RangeError(`virtio-scmi queue size ${queueSize}`);
    const p2a = opts.p2a === true;
    const problem = virtioScmiProbeProblem(mmio, ring, BigInt(queueSize), p2a);
    if (problem !== undefined) throw new RangeError(problem);
    return this.#push({ op: 'virtio-scmi-probe', mmioBase: mmio, ringBase: ring, queueSize, p2a });
  }

  /**
   * Send SCMI message `messageId` of protocol `protocolId` with u32 `params` (at most 32) on the
   * probed device and wait for the reply. The status (sign-extended to 64 bits) becomes the last
   * result; the payload is kept for `scmiReplyWord`. An unexpected status or payload crashes
   * the vCPU (ProgramEsr.SCMI_EXPECT_FAILED).
   */
  scmiCall(protocolId: number, messageId: number, params: readonly number[] = [], opts: ScmiCallOptions = {}): this {
    const call: Extract<GuestInstruction, { op: 'scmi-call' }> = {
      op: 'scmi-call',
      protocolId: field(protocolId, 0xff, 'SCMI protocol id'),
      messageId: field(messageId, 0xff, 'SCMI message id'),
      messageType: field(opts.messageType ?? 0, 0x3, 'SCMI message type'),
      ...(opts.token !== undefined ? { token: field(opts.token, 0x3ff, 'SCMI token') } : {}),
      wait: opts.wait ?? 'irq',
      params: words(params, 'SCMI parameters'),
      ...(opts.expectStatus !== undefined ? { expectStatus: word(opts.expectStatus, 'expected SCMI status') | 0 } : {}),
      ...(opts.expectPayload !== undefined ? { expectPayload: words(opts.expectPayload, 'expected SCMI payload') } : {}),
    };
    if (call.wait !== 'irq' && call.wait !== 'poll') throw new RangeError(`SCMI wait mode must be 'irq' or 'poll', got ${String(call.wait)}`);
    this.#push(call);
    for (const chunk of scmiCallDataChunks(call)) this.#push({ op: 'scmi-data', words: chunk });
    return this;
  }

  /** Payload word `index` (0..31) of this vCPU's last SCMI reply becomes the last result (no such word: crash). */
  scmiReplyWord(index: number): this {
    return this.#push({ op: 'scmi-reply-word', index: field(index, SCMI_CALL_MAX_WORDS - 1, 'SCMI reply word index') });
  }

  /** The instructions so far (a copy), as `decodeGuestProgram` returns them. */
  instructions(): readonly GuestInstruction[] {
    return [...this.#insns];
  }

  /** The program image bytes (program-format.ts). */
  build(): Uint8Array {
    return encodeGuestProgram(this.#insns);
  }

  #push(ins: GuestInstruction): this {
    this.#insns.push(ins);
    return this;
  }
}

/** Start a guest program. */
export function guestProgram(): GuestProgramBuilder {
  return new GuestProgramBuilder();
}
