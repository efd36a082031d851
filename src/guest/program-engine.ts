/**
 * The guest-program engine: runs a decoded program on one vCPU as a stream of ops. The
 * program is pre-compiled once per image into flat arrays (opcode, a frozen op object per
 * load/store/hvc, control targets), so the hot loop allocates nothing: each step yields an op
 * object made at compile time. Loop counters live in one Float64Array per vCPU.
 *
 * Semantics (docs/guest-images.md "Guest programs"):
 * - the "last result" starts as X0 at entry (`cpu.context`) and is replaced by the value of
 *   every load, mmio-read, touch, hvc and wfi;
 * - `udf` crashes with Esr.UNDEFINED; a failed `expect` crashes with ProgramEsr.EXPECT_FAILED;
 *   an exception the driver throws in is not caught: it ends the generator (the vCPU crashes);
 * - falling off the end of the program, or `spin`, spins forever;
 * - 65,536 control steps in a row without an op (an empty loop) yield one `spin`, so an
 *   engine can never hang its driver;
 * - virtio-scmi-probe and scmi-call delegate to virtio-scmi-driver.ts (as `yield*` would; see
 *   DriverCall): the probe's
 *   result is the accepted features, a call's is its status (sign-extended); the call's reply
 *   is kept per vCPU for scmi-reply-word, and its expectations are checked here
 *   (ProgramEsr.SCMI_EXPECT_FAILED). A call steps over its data slots.
 *
 * Reference: DESIGN.md "Guest images"; program-format.ts (the instructions).
 */

import { Esr, GuestException, type GuestCpu, type GuestImage, type GuestOp, type GuestThread } from './api.js';
import { GUEST_VA_LIMIT, untranslatable } from './guest-va.js';
import { decodeGuestProgram, type GuestInstruction, type GuestProgram } from './program-format.js';
import {
  virtioScmiCall,
  virtioScmiProbe,
  type ScmiCallReply,
  type ScmiRequest,
  type VirtioScmiProbeOptions,
} from './virtio-scmi-driver.js';

/** ESR_EL1 values the program engine raises by itself. */
export const ProgramEsr = {
  /** A failed `expect`: modelled as `BRK #1` (EC 0x3C, IL 1, comment 1). FAR 0. */
  EXPECT_FAILED: 0xf200_0001n,
  /**
   * An scmi-call whose reply has another status or payload than expected, or an
   * scmi-reply-word past the last reply's payload: `BRK #0x12` (EC 0x3C, IL 1). FAR 0.
   * (The driver's own failures are VirtioScmiEsr: BRK #0x10, #0x11.)
   */
  SCMI_EXPECT_FAILED: 0xf200_0012n,
} as const;

/** Control steps without an op after which the engine yields one `spin`. */
export const PROGRAM_IDLE_LIMIT = 0x1_0000;

// Internal step kinds of the compiled form.
const K_RESULT = 0; // yield ops[pc], the value becomes the last result
const K_STORE = 1; // yield ops[pc], the value is ignored
const K_SPIN = 2;
const K_UDF = 3;
const K_EXPECT = 4;
const K_REPEAT = 5;
const K_END_REPEAT = 6;
const K_JUMP = 7;
const K_IF_CPU = 8;
const K_FAULT = 9; // an access to an address the guest cannot translate
const K_SCMI_PROBE = 10;
const K_SCMI_CALL = 11; // imm = the index after its data slots
const K_SCMI_REPLY_WORD = 12; // num = the word index
const K_SCMI_DATA = 13; // never reached (the decoder keeps control flow out of data slots)

/** A compiled scmi-call: the driver request and what the program expects of the reply. */
interface CompiledScmiCall {
  readonly request: ScmiRequest;
  readonly expectStatus: number | undefined;
  readonly expectPayload: readonly number[] | undefined;
}

const SPIN: GuestOp = Object.freeze({ kind: 'spin' });
const WFI: GuestOp = Object.freeze({ kind: 'wfi' });

/** A program in its run-ready form (shared, read-only, by every vCPU running the image). */
interface CompiledProgram {
  readonly length: number;
  readonly kind: Uint8Array;
  readonly ops: readonly (GuestOp | undefined)[];
  /** Control target (REPEAT: its tail; END_REPEAT: its head; JUMP; IF_CPU: the skip). */
  readonly imm: Int32Array;
  /** REPEAT: count; IF_CPU: the vCPU index. */
  readonly num: Float64Array;
  /** EXPECT: the value; K_FAULT: the address. */
  readonly big: readonly bigint[];
  /** K_FAULT: whether the access writes. */
  readonly write: Uint8Array;
  /** K_SCMI_PROBE: the driver options; K_SCMI_CALL: the compiled call. */
  readonly scmi: readonly (VirtioScmiProbeOptions | CompiledScmiCall | undefined)[];
  readonly source: readonly GuestInstruction[];
}

function compile(insns: readonly GuestInstruction[]): CompiledProgram {
  const n = insns.length;
  const kind = new Uint8Array(n);
  const ops: (GuestOp | undefined)[] = new Array<GuestOp | undefined>(n).fill(undefined);
  const imm = new Int32Array(n);
  const num = new Float64Array(n);
  const big: bigint[] = new Array<bigint>(n).fill(0n);
  const write = new Uint8Array(n);
  const scmi: (VirtioScmiProbeOptions | CompiledScmiCall | undefined)[] = new Array<undefined>(n).fill(undefined);
  const access = (i: number, addr: bigint, isWrite: boolean, op: () => GuestOp): void => {
    if (addr >= BigInt(GUEST_VA_LIMIT)) {
      kind[i] = K_FAULT;
      big[i] = addr;
      write[i] = isWrite ? 1 : 0;
    } else {
      kind[i] = isWrite ? K_STORE : K_RESULT;
      ops[i] = Object.freeze(op());
    }
  };
  insns.forEach((ins, i) => {
    switch (ins.op) {
      case 'load':
      case 'mmio-read':
        access(i, ins.addr, false, () => ({ kind: 'load', addr: Number(ins.addr), len: ins.len }));
        break;
      case 'touch':
        access(i, ins.addr, false, () => ({ kind: 'load', addr: Number(ins.addr), len: 8 }));
        break;
      case 'store':
      case 'mmio-write':
        access(i, ins.addr, true, () => ({ kind: 'store', addr: Number(ins.addr), len: ins.len, value: ins.value }));
        break;
      case 'hvc':
        kind[i] = K_RESULT;
        ops[i] = Object.freeze({ kind: 'hvc', fn: ins.fn, args: Object.freeze([...ins.args]) });
        break;
      case 'wfi':
        kind[i] = K_RESULT;
        ops[i] = WFI;
        break;
      case 'spin':
        kind[i] = K_SPIN;
        break;
      case 'udf':
        kind[i] = K_UDF;
        break;
      case 'expect':
        kind[i] = K_EXPECT;
        big[i] = ins.value;
        break;
      case 'repeat':
        kind[i] = K_REPEAT;
        imm[i] = ins.end;
        num[i] = Number(ins.count);
        break;
      case 'end-repeat':
        kind[i] = K_END_REPEAT;
        imm[i] = ins.start;
        break;
      case 'jump':
        kind[i] = K_JUMP;
        imm[i] = ins.target;
        break;
      case 'if-cpu':
        kind[i] = K_IF_CPU;
        imm[i] = ins.skip;
        num[i] = ins.cpu;
        break;
      case 'virtio-scmi-probe':
        // The decoder keeps both areas below 2^48, so the numbers are exact.
        kind[i] = K_SCMI_PROBE;
        scmi[i] = Object.freeze({ mmioBase: Number(ins.mmioBase), ringBase: Number(ins.ringBase), queueSize: ins.queueSize, p2a: ins.p2a });
        break;
      case 'scmi-call': {
        kind[i] = K_SCMI_CALL;
        let next = i + 1;
        while (insns[next]?.op === 'scmi-data') next++;
        imm[i] = next;
        const request: ScmiRequest = Object.freeze({
          protocolId: ins.protocolId,
          messageId: ins.messageId,
          messageType: ins.messageType,
          ...(ins.token !== undefined ? { token: ins.token } : {}),
          params: Object.freeze([...ins.params]),
          wait: ins.wait,
        });
        scmi[i] = Object.freeze({
          request,
          expectStatus: ins.expectStatus,
          expectPayload: ins.expectPayload === undefined ? undefined : Object.freeze([...ins.expectPayload]),
        });
        break;
      }
      case 'scmi-data':
        kind[i] = K_SCMI_DATA;
        break;
      case 'scmi-reply-word':
        kind[i] = K_SCMI_REPLY_WORD;
        num[i] = ins.index;
        break;
    }
  });
  return { length: n, kind, ops, imm, num, big, write, scmi, source: insns };
}

/**
 * A call into the virtio-scmi driver: `runProgram` yields one and is resumed (with 0) once the
 * driver's generator has finished, its result in `result`. ProgramThread runs the driver's
 * operations meanwhile, exactly as `yield* driver` would hand them through, but without
 * suspending and resuming runProgram's frame (the program's arrays, counters and registers)
 * once per driver operation: that was the engine's largest cost per SCMI request.
 */
class DriverCall<R> {
  result: R | undefined;
  constructor(readonly driver: Generator<GuestOp, R, bigint>) {}
}

/** What runProgram yields: an operation for the vCPU, or a driver call for its thread. */
type EngineStep = GuestOp | DriverCall<unknown>;

/** Zero: what runProgram is resumed with after a driver call (it reads `result` instead). */
const AFTER_CALL = 0n;

/**
 * The engine of one vCPU: runProgram, with its driver calls run in place (see DriverCall). The
 * semantics are those of `yield*`: a driver is started with `next()`; `next`, `throw` and
 * `return` go to the driver while one runs; an exception out of the driver is thrown into
 * runProgram where it made the call.
 */
class ProgramThread implements GuestThread {
  readonly #main: Generator<EngineStep, void, bigint>;
  #call: DriverCall<unknown> | undefined;

  constructor(main: Generator<EngineStep, void, bigint>) {
    this.#main = main;
  }

  next(value?: bigint): IteratorResult<GuestOp, void> {
    const call = this.#call;
    if (call === undefined) return this.#step(this.#main.next(value as bigint));
    let r: IteratorResult<GuestOp, unknown>;
    try {
      r = call.driver.next(value as bigint);
    } catch (e) {
      this.#call = undefined;
      return this.#step(this.#main.throw(e));
    }
    return r.done === true ? this.#returned(call, r.value) : r;
  }

  throw(e: unknown): IteratorResult<GuestOp, void> {
    const call = this.#call;
    if (call === undefined) return this.#step(this.#main.throw(e));
    let r: IteratorResult<GuestOp, unknown>;
    try {
      r = call.driver.throw(e);
    } catch (e2) {
      this.#call = undefined;
      return this.#step(this.#main.throw(e2));
    }
    return r.done === true ? this.#returned(call, r.value) : r;
  }

  return(value: void): IteratorResult<GuestOp, void> {
    const call = this.#call;
    if (call !== undefined) {
      this.#call = undefined;
      try {
        call.driver.return(undefined);
      } catch (e) {
        return this.#step(this.#main.throw(e));
      }
    }
    return this.#step(this.#main.return(value));
  }

  [Symbol.iterator](): GuestThread {
    return this;
  }

  /** The driver finished: hand runProgram its result and go on. */
  #returned(call: DriverCall<unknown>, result: unknown): IteratorResult<GuestOp, void> {
    this.#call = undefined;
    call.result = result;
    return this.#step(this.#main.next(AFTER_CALL));
  }

  /** runProgram's step: an operation goes out as it is; a driver call starts the driver. */
  #step(r: IteratorResult<EngineStep, void>): IteratorResult<GuestOp, void> {
    for (;;) {
      if (r.done === true || !(r.value instanceof DriverCall)) return r as IteratorResult<GuestOp, void>;
      const call = r.value;
      let d: IteratorResult<GuestOp, unknown>;
      try {
        d = call.driver.next();
      } catch (e) {
        r = this.#main.throw(e);
        continue;
      }
      if (d.done !== true) {
        this.#call = call;
        return d;
      }
      call.result = d.value;
      r = this.#main.next(AFTER_CALL);
    }
  }
}

/**
 * Run a compiled program on one vCPU. Never returns normally: the end of the program spins.
 * @throws GuestException out of the generator (vCPU crash) on udf, a failed expect, an
 * untranslatable address, or any exception the driver throws in
 */
function* runProgram(p: CompiledProgram, cpu: GuestCpu): Generator<EngineStep, void, bigint> {
  const { length: n, kind, ops, imm, num, big, scmi } = p;
  const counters = new Float64Array(n);
  const cpuIndex = cpu.index;
  let last = BigInt.asUintN(64, cpu.context);
  let pc = 0;
  let idle = 0;
  /** This vCPU's last SCMI reply (scmi-reply-word). */
  let reply: ScmiCallReply | undefined;
  while (pc < n) {
    switch (kind[pc]) {
      case K_RESULT:
        last = yield ops[pc]!;
        idle = 0;
        pc++;
        continue;
      case K_STORE:
        yield ops[pc]!;
        idle = 0;
        pc++;
        continue;
      case K_SPIN:
        for (;;) yield SPIN;
      case K_UDF:
        throw new GuestException(Esr.UNDEFINED, 0n, `guest program: udf at instruction ${pc}`);
      case K_EXPECT:
        if (last !== big[pc]) {
          throw new GuestException(
            ProgramEsr.EXPECT_FAILED,
            0n,
            `guest program: expect at instruction ${pc} wanted 0x${big[pc]!.toString(16)}, got 0x${last.toString(16)}`,
          );
        }
        pc++;
        break;
      case K_REPEAT:
        if (num[pc]! > 0) {
          counters[pc] = num[pc]!;
          pc++;
        } else {
          pc = imm[pc]! + 1;
        }
        break;
      case K_END_REPEAT: {
        const head = imm[pc]!;
        pc = --counters[head]! > 0 ? head + 1 : pc + 1;
        break;
      }
      case K_JUMP:
        pc = imm[pc]!;
        break;
      case K_IF_CPU:
        pc = num[pc] === cpuIndex ? pc + 1 : imm[pc]!;
        break;
      case K_SCMI_PROBE: {
        const call = new DriverCall(virtioScmiProbe(cpu, scmi[pc] as VirtioScmiProbeOptions));
        yield call;
        last = call.result!;
        idle = 0;
        pc++;
        continue;
      }
      case K_SCMI_CALL: {
        const c = scmi[pc] as CompiledScmiCall;
        const call = new DriverCall(virtioScmiCall(cpu, c.request));
        yield call;
        reply = call.result!;
        checkReply(c, reply, pc);
        last = BigInt.asUintN(64, BigInt(reply.status));
        idle = 0;
        pc = imm[pc]!;
        continue;
      }
      case K_SCMI_REPLY_WORD: {
        const k = num[pc]!;
        if (reply === undefined || k >= reply.payload.length) {
          throw new GuestException(
            ProgramEsr.SCMI_EXPECT_FAILED,
            0n,
            `guest program: scmi-reply-word ${k} at instruction ${pc}: ${reply === undefined ? 'no SCMI reply yet' : `the last reply has ${reply.payload.length} payload words`}`,
          );
        }
        last = BigInt(reply.payload[k]!);
        pc++;
        break;
      }
      case K_SCMI_DATA:
        throw new GuestException(Esr.UNDEFINED, 0n, `guest program: scmi-data at instruction ${pc} executed`);
      default: // K_FAULT
        throw untranslatable(big[pc]!, p.write[pc] === 1);
    }
    if (++idle >= PROGRAM_IDLE_LIMIT) {
      idle = 0;
      yield SPIN;
    }
  }
  for (;;) yield SPIN;
}

/**
 * The program's expectations of an SCMI reply.
 * @throws GuestException ProgramEsr.SCMI_EXPECT_FAILED on a mismatch
 */
function checkReply(c: CompiledScmiCall, r: ScmiCallReply, pc: number): void {
  // No closures on the way through (this runs once per call; tsx names each closure it makes).
  if (c.expectStatus !== undefined && r.status !== c.expectStatus) throw replyMismatch(r, pc, `status ${r.status}, expected ${c.expectStatus}`);
  const want = c.expectPayload;
  if (want !== undefined) {
    let same = r.payloadBytes === 4 * want.length;
    for (let k = 0; same && k < want.length; k++) same = r.payload[k] === want[k];
    if (!same) throw replyMismatch(r, pc, `payload ${showWords(r.payload)} (${r.payloadBytes} bytes), expected ${showWords(want)}`);
  }
}

function replyMismatch(r: ScmiCallReply, pc: number, why: string): GuestException {
  return new GuestException(ProgramEsr.SCMI_EXPECT_FAILED, 0n, `guest program: scmi-call at instruction ${pc} (header 0x${r.header.toString(16)}): ${why}`);
}

function showWords(ws: readonly number[]): string {
  return `[${ws.map((w) => `0x${w.toString(16)}`).join(', ')}]`;
}

/** A recognised guest program: its decoded form plus one engine per vCPU. */
export interface GuestProgramImage extends GuestImage {
  readonly kind: 'program';
  readonly program: GuestProgram;
}

/**
 * Decode, check and pre-compile a program image.
 * @throws WireError when the bytes are not a valid program (see decodeGuestProgram)
 */
export function loadGuestProgram(bytes: Uint8Array): GuestProgramImage {
  const program = decodeGuestProgram(bytes);
  const compiled = compile(program.instructions);
  return {
    kind: 'program',
    describe: `guest program v${program.version}, ${program.instructions.length} instructions`,
    program,
    start: (cpu: GuestCpu) => new ProgramThread(runProgram(compiled, cpu)),
  };
}
