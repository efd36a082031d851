/**
 * The guest-program image format: a 32-byte header and fixed-size 48-byte little-endian
 * instructions. Pure codec: `encodeGuestProgram` / `decodeGuestProgram` between bytes and a
 * flat list of tagged instructions, with every field checked on decode (rule 4: reserved bytes
 * zero, unused operands zero, jump targets in range). The builder is program-builder.ts and
 * the engine that runs a program is program-engine.ts.
 *
 * Header (32 bytes):
 *   0   8  magic "GEMUPROG"
 *   8   4  version = 1
 *   12  4  image length = 32 + 48 × count
 *   16  4  instruction count
 *   20  4  instruction size = 48
 *   24  8  reserved, 0
 * Instruction (48 bytes):
 *   0   1  opcode (ProgramOp)
 *   1   1  len: access size 1/2/4/8 (loads, stores, touch = 8), argument count 0..5 (hvc), else 0
 *   2   2  reserved, 0
 *   4   4  imm: hvc function id; control ops: an instruction index (see GuestInstruction)
 *   8   8  a0 \
 *   16  8  a1  |
 *   24  8  a2  | operands (u64); unused ones are 0
 *   32  8  a3  |
 *   40  8  a4 /
 * The virtio-scmi ops (0x20–0x23) drive virtio-scmi-driver.ts. An SCMI call is one SCMI_CALL
 * slot followed by its SCMI_DATA slots (10 u32 words each: the parameters, then the expected
 * payload); control ops may not target a data slot. Byte layouts: docs/guest-images.md.
 *
 * Reference: DESIGN.md "Guest images"; docs/guest-images.md "Guest programs" (per-opcode table).
 */

import type { AccessLen } from './api.js';
import { hex, view } from '../shared/bytes.js';
import { WireError } from '../shared/wire-error.js';
import { decodeGuestImageHeader, encodeGuestImageHeader, GUEST_IMAGE_MAX_LENGTH } from './image-header.js';
import { VIRTIO_SCMI_MAX_PARAMS, virtioScmiProbeProblem } from './virtio-scmi-driver.js';

/** Version of the program format we write and accept. */
export const GUEST_PROGRAM_VERSION = 1;
/** Size of the program header in bytes. */
export const GUEST_PROGRAM_HEADER_SIZE = 32;
/** Size of one instruction in bytes. */
export const GUEST_INSN_SIZE = 48;
/** Most arguments (X1..X5) an `hvc` instruction carries. */
export const GUEST_HVC_MAX_ARGS = 5;
/** Most instructions an image may hold (the image length cap of image-header.ts). */
export const GUEST_PROGRAM_MAX_INSNS = Math.floor((GUEST_IMAGE_MAX_LENGTH - GUEST_PROGRAM_HEADER_SIZE) / GUEST_INSN_SIZE);

/** Opcodes (instruction byte 0). */
export const ProgramOp = {
  /** Memory load: a0 = address, len. Result = the value. */
  LOAD: 0x01,
  /** Memory store: a0 = address, a1 = value, len. */
  STORE: 0x02,
  /** Load meant to trap as MMIO: a0 = address, len. Result = the value. */
  MMIO_READ: 0x03,
  /** Store meant to trap as MMIO: a0 = address, a1 = value, len. */
  MMIO_WRITE: 0x04,
  /** Read one 64-bit word at a0 (fault a page in without changing it); len = 8. Result = the value. */
  TOUCH: 0x05,
  /** HVC #0: imm = function id (W0), len = argc, a0.. = X1... Result = X0. */
  HVC: 0x06,
  /** WFI. Result = the waking INTID (0 spurious). */
  WFI: 0x07,
  /** Spin forever. */
  SPIN: 0x08,
  /** Undefined instruction: the vCPU crashes (ESR UNDEFINED). */
  UDF: 0x09,
  /** Compare the last result with a0; a mismatch crashes the vCPU (ProgramEsr.EXPECT_FAILED). */
  EXPECT: 0x0a,
  /** Loop head: a0 = count, imm = index of the matching END_REPEAT. */
  REPEAT: 0x10,
  /** Loop tail: imm = index of the matching REPEAT. */
  END_REPEAT: 0x11,
  /** Unconditional jump: imm = target index (the tail of `forever`). */
  JUMP: 0x12,
  /** Run the block only on vCPU a0: imm = index of the first instruction after the block. */
  IF_CPU: 0x13,
  /** Probe the virtio-scmi device: a0 = MMIO base, a1 = ring area, a2 = queue size, a3 = flags. Result = features. */
  VIRTIO_SCMI_PROBE: 0x20,
  /** SCMI command: len = parameter words, imm = request header, a0 = flags, a1 = expected status. Result = status. */
  SCMI_CALL: 0x21,
  /** Data words of the SCMI_CALL before it: len = words here (1..10), bytes 8.. = u32 words. Never executed. */
  SCMI_DATA: 0x22,
  /** Payload word a0 of this vCPU's last SCMI reply. Result = the word. */
  SCMI_REPLY_WORD: 0x23,
} as const;
export type ProgramOp = (typeof ProgramOp)[keyof typeof ProgramOp];

/** SCMI_CALL a0 flag bits (bits 15:8 hold the expected payload word count). */
export const ScmiCallFlag = {
  /** Wait by polling used.idx (avail.flags NO_INTERRUPT) instead of WFI. */
  POLL: 0x1,
  /** The token is given in imm bits 27:18; otherwise the driver's counter is used. */
  TOKEN: 0x2,
  /** a1 holds the expected status (s32 as u32). */
  EXPECT_STATUS: 0x4,
  /** The expected payload (bits 15:8 words) follows the parameters in the data slots. */
  EXPECT_PAYLOAD: 0x8,
} as const;
/** VIRTIO_SCMI_PROBE a3 flag bits. */
export const VirtioScmiProbeFlag = {
  /** Accept VIRTIO_SCMI_F_P2A_CHANNELS when offered (and set up the eventq). */
  P2A: 0x1,
} as const;
/** u32 words one SCMI_DATA slot carries. */
export const SCMI_DATA_WORDS = 10;
/** Most parameter words, and most expected payload words, of one SCMI call (128 bytes). */
export const SCMI_CALL_MAX_WORDS = VIRTIO_SCMI_MAX_PARAMS;

/** One decoded instruction. Addresses and values are u64 (bigint); indexes are instruction numbers. */
export type GuestInstruction =
  | Readonly<{ op: 'load' | 'mmio-read'; addr: bigint; len: AccessLen }>
  | Readonly<{ op: 'store' | 'mmio-write'; addr: bigint; len: AccessLen; value: bigint }>
  | Readonly<{ op: 'touch'; addr: bigint }>
  | Readonly<{ op: 'hvc'; fn: number; args: readonly bigint[] }>
  | Readonly<{ op: 'wfi' | 'spin' | 'udf' }>
  | Readonly<{ op: 'expect'; value: bigint }>
  /** `end` = index of the matching end-repeat. */
  | Readonly<{ op: 'repeat'; count: bigint; end: number }>
  /** `start` = index of the matching repeat. */
  | Readonly<{ op: 'end-repeat'; start: number }>
  | Readonly<{ op: 'jump'; target: number }>
  /** `skip` = index of the first instruction after the block (may equal the count: end of program). */
  | Readonly<{ op: 'if-cpu'; cpu: number; skip: number }>
  | Readonly<{ op: 'virtio-scmi-probe'; mmioBase: bigint; ringBase: bigint; queueSize: number; p2a: boolean }>
  /**
   * An SCMI command. It is followed in the list by its `scmi-data` entries: `params` then
   * `expectPayload`, 10 words an entry (the encoder checks they match). Words are u32; the
   * expected status is an s32; `token` absent = the driver's counter.
   */
  | Readonly<{
      op: 'scmi-call';
      protocolId: number;
      messageId: number;
      messageType: number;
      token?: number;
      wait: 'irq' | 'poll';
      params: readonly number[];
      expectStatus?: number;
      expectPayload?: readonly number[];
    }>
  | Readonly<{ op: 'scmi-data'; words: readonly number[] }>
  | Readonly<{ op: 'scmi-reply-word'; index: number }>;

/** A decoded program image. */
export type GuestProgram = Readonly<{ version: number; instructions: readonly GuestInstruction[] }>;

const MAX_U64 = 0xffff_ffff_ffff_ffffn;

function assertU64(v: bigint, what: string): void {
  if (v < 0n || v > MAX_U64) throw new RangeError(`${what} must be a u64, got ${v}`);
}
function assertU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`${what} must be a u32, got ${v}`);
}
function assertLen(v: number): asserts v is AccessLen {
  if (v !== 1 && v !== 2 && v !== 4 && v !== 8) throw new RangeError(`access length must be 1, 2, 4 or 8, got ${v}`);
}

/** The data words of an SCMI call, as its SCMI_DATA slots carry them (10 a slot). */
export function scmiCallDataChunks(call: Extract<GuestInstruction, { op: 'scmi-call' }>): number[][] {
  const words = [...call.params, ...(call.expectPayload ?? [])];
  const out: number[][] = [];
  for (let k = 0; k < words.length; k += SCMI_DATA_WORDS) out.push(words.slice(k, k + SCMI_DATA_WORDS));
  return out;
}

function assertWords(words: readonly number[], max: number, what: string): void {
  if (words.length > max) throw new RangeError(`${what}: at most ${max} words, got ${words.length}`);
  words.forEach((w, k) => assertU32(w, `${what} word ${k}`));
}

/**
 * Encode instructions as a program image.
 * @throws RangeError when a field does not fit or a control index is out of range
 */
export function encodeGuestProgram(instructions: readonly GuestInstruction[]): Uint8Array {
  const n = instructions.length;
  if (n > GUEST_PROGRAM_MAX_INSNS) throw new RangeError(`program has ${n} instructions, at most ${GUEST_PROGRAM_MAX_INSNS}`);
  const length = GUEST_PROGRAM_HEADER_SIZE + n * GUEST_INSN_SIZE;
  const out = new Uint8Array(length);
  encodeGuestImageHeader(out, 'program', GUEST_PROGRAM_VERSION, length);
  const v = view(out);
  v.setUint32(16, n, true);
  v.setUint32(20, GUEST_INSN_SIZE, true);
  const index = (i: number, what: string): number => {
    if (!Number.isInteger(i) || i < 0 || i > n) throw new RangeError(`${what} ${i} out of range 0..${n}`);
    return i;
  };
  // Data slots still owed to the last scmi-call (its chunks, in order).
  let owed: number[][] = [];
  for (let i = 0; i < n; i++) {
    const ins = instructions[i]!;
    const o = GUEST_PROGRAM_HEADER_SIZE + i * GUEST_INSN_SIZE;
    if (ins.op !== 'scmi-data' && owed.length > 0) throw new RangeError(`instruction ${i}: the scmi-call before it needs ${owed.length} more scmi-data`);
    let op: ProgramOp;
    let len = 0, imm = 0;
    const a = [0n, 0n, 0n, 0n, 0n];
    switch (ins.op) {
      case 'load':
      case 'mmio-read':
        op = ins.op === 'load' ? ProgramOp.LOAD : ProgramOp.MMIO_READ;
        assertLen(ins.len);
        len = ins.len;
        a[0] = ins.addr;
        break;
      case 'store':
      case 'mmio-write':
        op = ins.op === 'store' ? ProgramOp.STORE : ProgramOp.MMIO_WRITE;
        assertLen(ins.len);
        len = ins.len;
        a[0] = ins.addr;
        a[1] = ins.value;
        break;
      case 'touch':
        op = ProgramOp.TOUCH;
        len = 8;
        a[0] = ins.addr;
        break;
      case 'hvc':
        op = ProgramOp.HVC;
        assertU32(ins.fn, 'hvc function id');
        if (ins.args.length > GUEST_HVC_MAX_ARGS) throw new RangeError(`hvc takes at most ${GUEST_HVC_MAX_ARGS} arguments`);
        len = ins.args.length;
        imm = ins.fn;
        ins.args.forEach((x, k) => (a[k] = x));
        break;
      case 'wfi':
        op = ProgramOp.WFI;
        break;
      case 'spin':
        op = ProgramOp.SPIN;
        break;
      case 'udf':
        op = ProgramOp.UDF;
        break;
      case 'expect':
        op = ProgramOp.EXPECT;
        a[0] = ins.value;
        break;
      case 'repeat':
        op = ProgramOp.REPEAT;
        imm = index(ins.end, 'repeat end');
        a[0] = ins.count;
        break;
      case 'end-repeat':
        op = ProgramOp.END_REPEAT;
        imm = index(ins.start, 'end-repeat start');
        break;
      case 'jump':
        op = ProgramOp.JUMP;
        imm = index(ins.target, 'jump target');
        break;
      case 'if-cpu':
        op = ProgramOp.IF_CPU;
        imm = index(ins.skip, 'if-cpu skip');
        assertU32(ins.cpu, 'if-cpu vCPU index');
        a[0] = BigInt(ins.cpu);
        break;
      case 'virtio-scmi-probe': {
        op = ProgramOp.VIRTIO_SCMI_PROBE;
        assertU64(ins.mmioBase, 'virtio-scmi MMIO base');
        assertU64(ins.ringBase, 'virtio-scmi ring area');
        if (!Number.isInteger(ins.queueSize) || ins.queueSize < 0) throw new RangeError(`virtio-scmi queue size ${ins.queueSize}`);
        const problem = virtioScmiProbeProblem(ins.mmioBase, ins.ringBase, BigInt(ins.queueSize), ins.p2a);
        if (problem !== undefined) throw new RangeError(`instruction ${i}: ${problem}`);
        a[0] = ins.mmioBase;
        a[1] = ins.ringBase;
        a[2] = BigInt(ins.queueSize);
        a[3] = ins.p2a ? BigInt(VirtioScmiProbeFlag.P2A) : 0n;
        break;
      }
      case 'scmi-call': {
        op = ProgramOp.SCMI_CALL;
        checkField(ins.protocolId, 0xff, 'SCMI protocol id');
        checkField(ins.messageId, 0xff, 'SCMI message id');
        checkField(ins.messageType, 0x3, 'SCMI message type');
        assertWords(ins.params, SCMI_CALL_MAX_WORDS, 'SCMI parameters');
        len = ins.params.length;
        imm = ins.messageId | (ins.messageType << 8) | (ins.protocolId << 10);
        let flags = ins.wait === 'poll' ? ScmiCallFlag.POLL : 0;
        if (ins.token !== undefined) {
          checkField(ins.token, 0x3ff, 'SCMI token');
          flags |= ScmiCallFlag.TOKEN;
          imm = (imm | (ins.token << 18)) >>> 0;
        }
        if (ins.expectStatus !== undefined) {
          if (!Number.isInteger(ins.expectStatus) || ins.expectStatus < -(2 ** 31) || ins.expectStatus >= 2 ** 31) {
            throw new RangeError(`expected SCMI status must be an s32, got ${ins.expectStatus}`);
          }
          flags |= ScmiCallFlag.EXPECT_STATUS;
          a[1] = BigInt(ins.expectStatus >>> 0);
        }
        let m = 0;
        if (ins.expectPayload !== undefined) {
          assertWords(ins.expectPayload, SCMI_CALL_MAX_WORDS, 'expected SCMI payload');
          flags |= ScmiCallFlag.EXPECT_PAYLOAD;
          m = ins.expectPayload.length;
        }
        a[0] = BigInt(flags | (m << 8));
        owed = scmiCallDataChunks(ins);
        break;
      }
      case 'scmi-data': {
        op = ProgramOp.SCMI_DATA;
        const want = owed.shift();
        if (want === undefined) throw new RangeError(`instruction ${i}: scmi-data outside an scmi-call`);
        if (want.length !== ins.words.length || want.some((w, k) => w !== ins.words[k])) {
          throw new RangeError(`instruction ${i}: scmi-data words do not match the scmi-call's parameters and expected payload`);
        }
        len = ins.words.length;
        break;
      }
      case 'scmi-reply-word':
        op = ProgramOp.SCMI_REPLY_WORD;
        checkField(ins.index, SCMI_CALL_MAX_WORDS - 1, 'SCMI reply word index');
        a[0] = BigInt(ins.index);
        break;
    }
    out[o] = op;
    out[o + 1] = len;
    v.setUint32(o + 4, imm, true);
    if (ins.op === 'scmi-data') {
      ins.words.forEach((w, k) => v.setUint32(o + 8 + 4 * k, w, true));
      continue;
    }
    for (let k = 0; k < 5; k++) {
      assertU64(a[k]!, `instruction ${i} operand ${k}`);
      v.setBigUint64(o + 8 + k * 8, a[k]!, true);
    }
  }
  if (owed.length > 0) throw new RangeError(`the last scmi-call needs ${owed.length} more scmi-data`);
  return out;
}

function checkField(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} must be in 0..${max}, got ${v}`);
}

/**
 * Decode a program image. Bytes past the declared image length are ignored (an image sits in
 * guest memory with other data after it).
 * @throws WireError when the header or any instruction is malformed (reason and byte offset)
 */
export function decodeGuestProgram(bytes: Uint8Array): GuestProgram {
  const h = decodeGuestImageHeader(bytes);
  if (h?.kind !== 'program') throw new WireError('bad-value', { what: 'not a guest program image', offset: 0 });
  if (h.version !== GUEST_PROGRAM_VERSION) throw new WireError('bad-value', { what: `guest program version ${h.version}`, offset: 8 });
  if (bytes.byteLength < GUEST_PROGRAM_HEADER_SIZE) throw new WireError('short', { what: 'guest program header', offset: bytes.byteLength });
  const v = view(bytes);
  const n = v.getUint32(16, true);
  if (v.getUint32(20, true) !== GUEST_INSN_SIZE) throw new WireError('bad-value', { what: 'instruction size', offset: 20 });
  if (v.getBigUint64(24, true) !== 0n) throw new WireError('reserved', { what: 'program header', offset: 24 });
  if (h.length !== GUEST_PROGRAM_HEADER_SIZE + n * GUEST_INSN_SIZE) {
    throw new WireError('bad-value', { what: `image length ${h.length} does not match ${n} instructions`, offset: 12 });
  }
  if (bytes.byteLength < h.length) throw new WireError('short', { what: 'guest program', offset: bytes.byteLength });

  const out: GuestInstruction[] = [];
  for (let i = 0; i < n; ) {
    const ins = decodeInstruction(v, i, n);
    if (ins.op === 'scmi-data') throw new WireError('bad-value', { what: `instruction ${i}: scmi-data outside an scmi-call`, offset: slot(i) });
    out.push(ins);
    i++;
    if (ins.op === 'scmi-call') i = attachScmiData(v, out, i, n);
  }
  checkControlFlow(out);
  return { version: h.version, instructions: out };
}

const slot = (i: number): number => GUEST_PROGRAM_HEADER_SIZE + i * GUEST_INSN_SIZE;

/**
 * Read the data slots of the scmi-call just pushed (last entry of `out`, its slots from `i`),
 * replace the call by its complete form and push the data entries.
 * @returns the index after the call's data
 */
function attachScmiData(v: DataView, out: GuestInstruction[], i: number, n: number): number {
  const at = out.length - 1;
  const call = out[at] as Extract<GuestInstruction, { op: 'scmi-call' }>;
  const nParams = call.params.length; // decodeInstruction leaves `params` as n zeros
  const m = call.expectPayload?.length ?? 0;
  const words: number[] = [];
  while (words.length < nParams + m) {
    const o = slot(i);
    if (i >= n || v.getUint8(o) !== ProgramOp.SCMI_DATA) {
      throw new WireError('bad-value', { what: `instruction ${i}: scmi-call at ${at} needs ${nParams + m - words.length} more data words`, offset: i >= n ? slot(n) : o });
    }
    const d = decodeInstruction(v, i, n) as Extract<GuestInstruction, { op: 'scmi-data' }>;
    const want = Math.min(SCMI_DATA_WORDS, nParams + m - words.length);
    if (d.words.length !== want) throw new WireError('bad-value', { what: `instruction ${i}: scmi-data has ${d.words.length} words, want ${want}`, offset: o + 1 });
    words.push(...d.words);
    out.push(d);
    i++;
  }
  out[at] = {
    ...call,
    params: words.slice(0, nParams),
    ...(call.expectPayload !== undefined ? { expectPayload: words.slice(nParams) } : {}),
  };
  return i;
}

function decodeInstruction(v: DataView, i: number, n: number): GuestInstruction {
  const o = GUEST_PROGRAM_HEADER_SIZE + i * GUEST_INSN_SIZE;
  const op = v.getUint8(o);
  const len = v.getUint8(o + 1);
  const imm = v.getUint32(o + 4, true);
  const a = (k: number): bigint => v.getBigUint64(o + 8 + k * 8, true);
  const bad = (what: string, off = 0): WireError => new WireError('bad-value', { what: `instruction ${i}: ${what}`, offset: o + off });
  if (v.getUint16(o + 2, true) !== 0) throw new WireError('reserved', { what: `instruction ${i}`, offset: o + 2 });
  // Operands [used, 5) must be zero; so must len and imm where the opcode does not use them.
  const unused = (used: number, usesLen: boolean, usesImm: boolean): void => {
    if (!usesLen && len !== 0) throw new WireError('reserved', { what: `instruction ${i} len`, offset: o + 1 });
    if (!usesImm && imm !== 0) throw new WireError('reserved', { what: `instruction ${i} imm`, offset: o + 4 });
    for (let k = used; k < 5; k++) if (a(k) !== 0n) throw new WireError('reserved', { what: `instruction ${i} operand ${k}`, offset: o + 8 + k * 8 });
  };
  const accessLen = (): AccessLen => {
    if (len !== 1 && len !== 2 && len !== 4 && len !== 8) throw bad(`access length ${len}`, 1);
    return len;
  };
  const target = (what: string, max: number): number => {
    if (imm > max) throw bad(`${what} ${imm} out of range`, 4);
    return imm;
  };
  switch (op) {
    case ProgramOp.LOAD:
    case ProgramOp.MMIO_READ:
      unused(1, true, false);
      return { op: op === ProgramOp.LOAD ? 'load' : 'mmio-read', addr: a(0), len: accessLen() };
    case ProgramOp.STORE:
    case ProgramOp.MMIO_WRITE:
      unused(2, true, false);
      return { op: op === ProgramOp.STORE ? 'store' : 'mmio-write', addr: a(0), len: accessLen(), value: a(1) };
    case ProgramOp.TOUCH:
      unused(1, true, false);
      if (len !== 8) throw bad(`touch length ${len}`, 1);
      return { op: 'touch', addr: a(0) };
    case ProgramOp.HVC: {
      if (len > GUEST_HVC_MAX_ARGS) throw bad(`hvc argument count ${len}`, 1);
      unused(len, true, true);
      const args: bigint[] = [];
      for (let k = 0; k < len; k++) args.push(a(k));
      return { op: 'hvc', fn: imm, args };
    }
    case ProgramOp.WFI:
      unused(0, false, false);
      return { op: 'wfi' };
    case ProgramOp.SPIN:
      unused(0, false, false);
      return { op: 'spin' };
    case ProgramOp.UDF:
      unused(0, false, false);
      return { op: 'udf' };
    case ProgramOp.EXPECT:
      unused(1, false, false);
      return { op: 'expect', value: a(0) };
    case ProgramOp.REPEAT:
      unused(1, false, true);
      return { op: 'repeat', count: a(0), end: target('repeat end', n - 1) };
    case ProgramOp.END_REPEAT:
      unused(0, false, true);
      return { op: 'end-repeat', start: target('end-repeat start', n - 1) };
    case ProgramOp.JUMP:
      unused(0, false, true);
      return { op: 'jump', target: target('jump target', n - 1) };
    case ProgramOp.IF_CPU: {
      unused(1, false, true);
      const cpu = a(0);
      if (cpu > 0xffff_ffffn) throw bad(`vCPU index ${cpu}`, 8);
      return { op: 'if-cpu', cpu: Number(cpu), skip: target('if-cpu skip', n) };
    }
    case ProgramOp.VIRTIO_SCMI_PROBE: {
      unused(4, false, false);
      const flags = a(3);
      if ((flags & ~BigInt(VirtioScmiProbeFlag.P2A)) !== 0n) throw new WireError('reserved', { what: `instruction ${i} probe flags`, offset: o + 32 });
      const p2a = flags !== 0n;
      const problem = virtioScmiProbeProblem(a(0), a(1), a(2), p2a);
      if (problem !== undefined) throw bad(problem, 8);
      return { op: 'virtio-scmi-probe', mmioBase: a(0), ringBase: a(1), queueSize: Number(a(2)), p2a };
    }
    case ProgramOp.SCMI_CALL: {
      unused(2, true, true);
      if (len > SCMI_CALL_MAX_WORDS) throw bad(`SCMI parameter count ${len}`, 1);
      if (imm >>> 28 !== 0) throw new WireError('reserved', { what: `instruction ${i} SCMI header bits 31:28`, offset: o + 7 });
      const flags = a(0);
      const known = BigInt(ScmiCallFlag.POLL | ScmiCallFlag.TOKEN | ScmiCallFlag.EXPECT_STATUS | ScmiCallFlag.EXPECT_PAYLOAD) | 0xff00n;
      if ((flags & ~known) !== 0n) throw new WireError('reserved', { what: `instruction ${i} SCMI call flags`, offset: o + 8 });
      const f = Number(flags & 0xffn);
      const m = Number((flags >> 8n) & 0xffn);
      if (m > SCMI_CALL_MAX_WORDS) throw bad(`expected payload word count ${m}`, 9);
      if (m !== 0 && (f & ScmiCallFlag.EXPECT_PAYLOAD) === 0) throw new WireError('reserved', { what: `instruction ${i} payload count without EXPECT_PAYLOAD`, offset: o + 9 });
      const tokenBits = (imm >>> 18) & 0x3ff;
      if ((f & ScmiCallFlag.TOKEN) === 0 && tokenBits !== 0) throw new WireError('reserved', { what: `instruction ${i} token bits without TOKEN`, offset: o + 6 });
      const st = a(1);
      if ((f & ScmiCallFlag.EXPECT_STATUS) === 0 ? st !== 0n : st > 0xffff_ffffn) {
        throw new WireError('reserved', { what: `instruction ${i} expected status`, offset: o + 16 });
      }
      return {
        op: 'scmi-call',
        protocolId: (imm >>> 10) & 0xff,
        messageId: imm & 0xff,
        messageType: (imm >>> 8) & 0x3,
        ...((f & ScmiCallFlag.TOKEN) !== 0 ? { token: tokenBits } : {}),
        wait: (f & ScmiCallFlag.POLL) !== 0 ? 'poll' : 'irq',
        params: new Array<number>(len).fill(0), // filled from the data slots by attachScmiData
        ...((f & ScmiCallFlag.EXPECT_STATUS) !== 0 ? { expectStatus: Number(BigInt.asIntN(32, st)) } : {}),
        ...((f & ScmiCallFlag.EXPECT_PAYLOAD) !== 0 ? { expectPayload: new Array<number>(m).fill(0) } : {}),
      };
    }
    case ProgramOp.SCMI_DATA: {
      if (imm !== 0) throw new WireError('reserved', { what: `instruction ${i} imm`, offset: o + 4 });
      if (len < 1 || len > SCMI_DATA_WORDS) throw bad(`scmi-data word count ${len}`, 1);
      const words: number[] = [];
      for (let k = 0; k < SCMI_DATA_WORDS; k++) {
        const w = v.getUint32(o + 8 + 4 * k, true);
        if (k < len) words.push(w);
        else if (w !== 0) throw new WireError('reserved', { what: `instruction ${i} data word ${k}`, offset: o + 8 + 4 * k });
      }
      return { op: 'scmi-data', words };
    }
    case ProgramOp.SCMI_REPLY_WORD: {
      unused(1, false, false);
      if (a(0) >= BigInt(SCMI_CALL_MAX_WORDS)) throw bad(`SCMI reply word index ${a(0)}`, 8);
      return { op: 'scmi-reply-word', index: Number(a(0)) };
    }
    default:
      throw bad(`unknown opcode 0x${op.toString(16)}`);
  }
}

/** Loop heads and tails must name each other; blocks only skip forward. */
function checkControlFlow(insns: readonly GuestInstruction[]): void {
  const at = (i: number): number => GUEST_PROGRAM_HEADER_SIZE + i * GUEST_INSN_SIZE + 4;
  insns.forEach((ins, i) => {
    if (ins.op === 'repeat') {
      const tail = insns[ins.end];
      if (ins.end <= i || tail?.op !== 'end-repeat' || tail.start !== i) {
        throw new WireError('bad-value', { what: `instruction ${i}: repeat end ${ins.end} is not its end-repeat`, offset: at(i) });
      }
    } else if (ins.op === 'end-repeat') {
      const head = insns[ins.start];
      if (ins.start >= i || head?.op !== 'repeat' || head.end !== i) {
        throw new WireError('bad-value', { what: `instruction ${i}: end-repeat start ${ins.start} is not its repeat`, offset: at(i) });
      }
    } else if (ins.op === 'if-cpu' && ins.skip <= i) {
      throw new WireError('bad-value', { what: `instruction ${i}: if-cpu skips backwards`, offset: at(i) });
    }
    const dest = ins.op === 'jump' ? ins.target : ins.op === 'if-cpu' ? ins.skip : undefined;
    if (dest !== undefined && insns[dest]?.op === 'scmi-data') {
      throw new WireError('bad-value', { what: `instruction ${i}: ${ins.op} into the data of an scmi-call`, offset: at(i) });
    }
  });
}

/** One instruction as text, for traces and test failure messages. */
export function formatGuestInstruction(ins: GuestInstruction): string {
  switch (ins.op) {
    case 'load':
    case 'mmio-read':
      return `${ins.op} ${hex(ins.addr)} len ${ins.len}`;
    case 'store':
    case 'mmio-write':
      return `${ins.op} ${hex(ins.addr)} len ${ins.len} value ${hex(ins.value)}`;
    case 'touch':
      return `touch ${hex(ins.addr)}`;
    case 'hvc':
      return `hvc ${hex(ins.fn, 8)}(${ins.args.map((x) => hex(x)).join(', ')})`;
    case 'wfi':
    case 'spin':
    case 'udf':
      return ins.op;
    case 'expect':
      return `expect ${hex(ins.value)}`;
    case 'repeat':
      return `repeat ${ins.count} (end @${ins.end})`;
    case 'end-repeat':
      return `end-repeat (start @${ins.start})`;
    case 'jump':
      return `jump @${ins.target}`;
    case 'if-cpu':
      return `if-cpu ${ins.cpu} (else @${ins.skip})`;
    case 'virtio-scmi-probe':
      return `virtio-scmi-probe mmio ${hex(ins.mmioBase)} ring ${hex(ins.ringBase)} queue ${ins.queueSize}${ins.p2a ? ' p2a' : ''}`;
    case 'scmi-call': {
      const words = (w: readonly number[]): string => `[${w.map((x) => hex(x)).join(', ')}]`;
      let s = `scmi-call protocol ${hex(ins.protocolId, 2)} message ${hex(ins.messageId, 2)}`;
      if (ins.messageType !== 0) s += ` type ${ins.messageType}`;
      s += ` ${words(ins.params)} token ${ins.token ?? 'auto'} ${ins.wait}`;
      if (ins.expectStatus !== undefined) s += ` expect status ${ins.expectStatus}`;
      if (ins.expectPayload !== undefined) s += ` expect payload ${words(ins.expectPayload)}`;
      return s;
    }
    case 'scmi-data':
      return `scmi-data [${ins.words.map((x) => hex(x)).join(', ')}]`;
    case 'scmi-reply-word':
      return `scmi-reply-word ${ins.index}`;
  }
}
