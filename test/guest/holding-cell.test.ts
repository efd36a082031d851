// The holding-cell guest, step by step as a VMM sees it (vmm-flows.md §6.1–§6.6): start-up,
// every command, every error path of §6.5, and the exception report at 0x7000.
import { describe, expect, it } from 'vitest';
import {
  Esr,
  HOLDING_CELL_STACK_KEY,
  HoldingCellCmd as C,
  HoldingCellErrorLine,
  HoldingCellEsr,
  HoldingCellWord,
  holdingCellImage,
  holdingCellWord as word,
  PsciFn,
} from '../../src/guest/index.js';
import { FakeMemory, FakeVcpu, makeCpu, type Exit, type MachineOptions } from './support/fake-driver.js';

const BASE = 0x8000_0000;
// Layout of vmm-flows.md §6.1: [binary page][DTB page][stack pages]; SP = dtb_start + 8 KiB.
const DTB = BASE + 0x1000;
const BOOT_SP = BigInt(DTB + 0x2000);
const STACK = BASE + 0x2000;

const R = (addr = 0x6000): Exit => ({ kind: 'mmio-read', addr, len: 8 });
const W = (addr: number, value: bigint): Exit => ({ kind: 'mmio-write', addr, len: 8, value });
const RESULT = (value: bigint): Exit => W(0x6000, value);

function boot(opts: MachineOptions & { index?: number; sp?: bigint | null; shared?: Map<string, unknown> } = {}) {
  const mem = new FakeMemory().map(BASE, 0x10000);
  mem.write(BASE, holdingCellImage());
  const bootRegs = new Map<number, bigint>();
  if (opts.sp !== null) bootRegs.set(0x201, opts.sp ?? BOOT_SP);
  const cpu = makeCpu({ index: opts.index ?? 0, bootRegs, vmShared: opts.shared ?? new Map() });
  return new FakeVcpu(mem, cpu, opts);
}

/** Start the guest and run up to its first command-word read. */
function started(opts: Parameters<typeof boot>[0] = {}): FakeVcpu {
  const v = boot(opts);
  expect(v.run()).toEqual(R());
  return v;
}

/** Supply a word and its arguments (each after the read the guest makes), return the next exit. */
function send(v: FakeVcpu, w: bigint, ...args: bigint[]): Exit {
  v.supply(w);
  for (const a of args) {
    expect(v.run()).toEqual(R());
    v.supply(a);
  }
  return v.run();
}

describe('holding-cell image', () => {
  it('is 64 bytes: "GEMUHOLD", version 1, length 64, zeros', () => {
    const expected = new Uint8Array(64);
    expected.set([
      0x47, 0x45, 0x4d, 0x55, 0x48, 0x4f, 0x4c, 0x44, // magic "GEMUHOLD"
      0x01, 0x00, 0x00, 0x00, // version 1 (le32)
      0x40, 0x00, 0x00, 0x00, // image length 64 (le32)
    ]);
    expect([...holdingCellImage()]).toEqual([...expected]);
  });

  it('a non-zero reserved byte is not our image: undefined instruction', () => {
    const v = boot();
    v.mem.write(BASE + 40, new Uint8Array([1]));
    const exit = v.run();
    expect(exit.kind).toBe('crash');
    expect(exit.kind === 'crash' && exit.error).toMatchObject({ esr: Esr.UNDEFINED, far: 0n });
  });
});

describe('start-up (§6.1)', () => {
  it('boot vCPU: fetches the image, stores at its stack (SP - 16), shares the stack base, then reads 0x6000', () => {
    const v = boot();
    expect(v.run()).toEqual(R());
    expect(v.accesses).toEqual([
      { kind: 'fetch', addr: BASE, len: 16 },
      { kind: 'fetch', addr: BASE, len: 64 },
      { kind: 'store', addr: Number(BOOT_SP) - 16, len: 8, value: 0n },
    ]);
    // stack = SP - 1 × 4 KiB for vCPU 0
    expect(v.cpu.vmShared.get(HOLDING_CELL_STACK_KEY)).toBe(BigInt(STACK));
  });

  it('a secondary started by CPU_ON finds the stack base and touches stack + (index + 1) × 4 KiB - 16', () => {
    const shared = new Map<string, unknown>();
    started({ shared });
    const v1 = boot({ index: 1, sp: null, shared });
    expect(v1.run()).toEqual(R());
    expect(v1.accesses.filter((a) => a.kind === 'store')).toEqual([{ kind: 'store', addr: STACK + 2 * 0x1000 - 16, len: 8, value: 0n }]);
  });

  it('without a boot SP and nothing shared, the stack touch is skipped', () => {
    const v = boot({ sp: null });
    expect(v.run()).toEqual(R());
    expect(v.accesses.filter((a) => a.kind === 'store')).toEqual([]);
  });

  it('a stack page that faults is reported at 0x7000 before any command', () => {
    const v = boot({ faultPages: [Math.floor((Number(BOOT_SP) - 16) / 4096)] });
    expect(v.run()).toEqual(W(0x7000, Esr.DATA_ABORT_EXTERNAL | Esr.WNR));
    expect(v.run()).toEqual(W(0x7000, BOOT_SP - 16n));
    expect(v.run()).toEqual({ kind: 'spin' });
  });
});

describe('commands (§6.4)', () => {
  it('ok → 0, nok → -1', () => {
    const v = started();
    expect(send(v, word(C.OK, 0))).toEqual(RESULT(0n));
    expect(v.run()).toEqual(R());
    expect(send(v, word(C.NOK, 0))).toEqual(RESULT(0xffff_ffff_ffff_ffffn));
    expect(v.run()).toEqual(R());
  });

  it('loopback echoes its argument; magic is 1 only for 0xDEADF00D', () => {
    const v = started();
    expect(send(v, word(C.LOOPBACK, 1), 0x1234_5678_9abc_def0n)).toEqual(RESULT(0x1234_5678_9abc_def0n));
    v.run();
    expect(send(v, word(C.MAGIC, 1), 0xdeadf00dn)).toEqual(RESULT(1n));
    v.run();
    expect(send(v, word(C.MAGIC, 1), 0xdeadf00en)).toEqual(RESULT(0n));
  });

  it('read_addr of the image start gives its first 8 bytes; write_addr then read_addr round-trips', () => {
    const v = started();
    // "GEMUHOLD" as a little-endian u64
    expect(send(v, word(C.READ_ADDR, 1), BigInt(BASE))).toEqual(RESULT(0x444c_4f48_554d_4547n));
    v.run();
    expect(send(v, word(C.WRITE_ADDR, 2), BigInt(BASE + 0x5000), 0xcafe_f00d_0000_0001n)).toEqual(RESULT(0n));
    expect(v.mem.readValue(BASE + 0x5000, 8)).toBe(0xcafe_f00d_0000_0001n);
    v.run();
    expect(send(v, word(C.READ_ADDR, 1), BigInt(BASE + 0x5000))).toEqual(RESULT(0xcafe_f00d_0000_0001n));
  });

  it('read_io is an MMIO read whose data becomes the result; write_io an MMIO write', () => {
    const v = started();
    expect(send(v, word(C.READ_IO, 1), 0x6_0000n)).toEqual(R(0x6_0000));
    v.supply(0x77n);
    expect(v.run()).toEqual(RESULT(0x77n));
    v.run();
    expect(send(v, word(C.WRITE_IO, 2), 0x6_0000n, 0x99n)).toEqual(W(0x6_0000, 0x99n));
    expect(v.run()).toEqual(RESULT(0n));
  });

  it('smccc_hvc makes one HVC with fn = x0, args x1..x4, and writes back X0 (power_on_cell, §6.6)', () => {
    const v = started();
    const exit = send(v, word(C.SMCCC_HVC, 5), BigInt(PsciFn.CPU_ON_64), 1n, BigInt(BASE), 0n, 0n);
    expect(exit).toEqual({ kind: 'hvc', fn: 0xc400_0003, args: [1n, BigInt(BASE), 0n, 0n] });
    v.supply(0n);
    expect(v.run()).toEqual(RESULT(0n));
  });

  it('smccc_hvc with SYSTEM_OFF: the HVC exit, and no result while the call does not return', () => {
    const v = started();
    expect(send(v, word(C.SMCCC_HVC, 5), 0x8400_0008n, 0n, 0n, 0n, 0n)).toEqual({ kind: 'hvc', fn: 0x8400_0008, args: [0n, 0n, 0n, 0n] });
  });

  it('access_page_range stores 0xA5A5A5A5 at each 4 KiB step below start + length', () => {
    const v = started();
    expect(send(v, word(C.ACCESS_PAGE_RANGE, 2), BigInt(BASE + 0x4000), 0x2800n)).toEqual(RESULT(0n));
    expect(v.accesses.filter((a) => a.kind === 'store' && a.addr >= BASE + 0x4000).map((a) => [a.addr, a.value])).toEqual([
      [BASE + 0x4000, 0xa5a5a5a5n],
      [BASE + 0x5000, 0xa5a5a5a5n],
      [BASE + 0x6000, 0xa5a5a5a5n],
    ]);
  });

  it('access_page_range over MMIO gives one 8-byte write exit per page; length 0 stores nothing', () => {
    const v = started();
    expect(send(v, word(C.ACCESS_PAGE_RANGE, 2), 0x6_0000n, 0x2000n)).toEqual(W(0x6_0000, 0xa5a5a5a5n));
    expect(v.run()).toEqual(W(0x6_1000, 0xa5a5a5a5n));
    expect(v.run()).toEqual(RESULT(0n));
    v.run();
    expect(send(v, word(C.ACCESS_PAGE_RANGE, 2), 0x6_0000n, 0n)).toEqual(RESULT(0n));
  });
});

describe('guest loop error paths (§6.5)', () => {
  it('step 2: id > 11 writes line UNKNOWN_COMMAND to 0x6008 and reads the next word', () => {
    const v = started();
    expect(send(v, word(12, 0))).toEqual(W(0x6008, HoldingCellErrorLine.UNKNOWN_COMMAND));
    expect(v.run()).toEqual(R());
    // nargs of an unknown id are not read
    expect(send(v, word(0xff, 3))).toEqual(W(0x6008, 100n));
    expect(v.run()).toEqual(R());
  });

  it('step 3: too many arguments: nargs reads dropped, line TOO_MANY_ARGS at 0x6008, no result', () => {
    const v = started();
    expect(send(v, word(C.OK, 2), 1n, 2n)).toEqual(W(0x6008, HoldingCellErrorLine.TOO_MANY_ARGS));
    expect(v.run()).toEqual(R());
    // HOLD does not add a read on this path
    expect(send(v, word(C.LOOPBACK, 2, true), 1n, 2n)).toEqual(W(0x6008, 101n));
    expect(v.run()).toEqual(R());
    // smccc_hvc with 6 arguments
    expect(send(v, word(C.SMCCC_HVC, 6), 1n, 2n, 3n, 4n, 5n, 6n)).toEqual(W(0x6008, 101n));
  });

  it('step 5: HOLD (bit 12) adds one read of 0x6000 before the handler; its value is ignored', () => {
    const v = started();
    expect(send(v, word(C.LOOPBACK, 1, true), 0x42n)).toEqual(R());
    v.supply(0x9999n);
    expect(v.run()).toEqual(RESULT(0x42n));
    v.run();
    expect(send(v, word(C.OK, 0, true))).toEqual(R());
    expect(v.run()).toEqual(RESULT(0n));
  });

  it('Q20: the TVMM hold bit (16) is not seen by the guest: no extra read', () => {
    const v = started();
    expect(send(v, word(C.LOOPBACK, 1) | HoldingCellWord.HOLD_VMM, 0x42n)).toEqual(RESULT(0x42n));
  });

  it('step 6: 3 or 4 arguments to smccc_hvc run nothing and write no result', () => {
    const v = started();
    expect(send(v, word(C.SMCCC_HVC, 3), 0x8400_0008n, 1n, 2n)).toEqual(R());
    expect(send(v, word(C.SMCCC_HVC, 4, true), 0x8400_0008n, 1n, 2n, 3n)).toEqual(R()); // the HOLD read
    expect(v.run()).toEqual(R()); // the next command word; still no HVC, no result
  });

  it('step 6: fewer arguments than the command takes: the missing ones are 0', () => {
    const v = started();
    expect(send(v, word(C.SMCCC_HVC, 2), 0xc600_8000n, 7n)).toEqual({ kind: 'hvc', fn: 0xc600_8000, args: [7n, 0n, 0n, 0n] });
    v.supply(1n);
    expect(v.run()).toEqual(RESULT(1n));
    v.run();
    expect(send(v, word(C.LOOPBACK, 0))).toEqual(RESULT(0n));
    v.run();
    // read_io with no address reads address 0 (MMIO in this machine)
    expect(send(v, word(C.READ_IO, 0))).toEqual(R(0));
    v.supply(5n);
    expect(v.run()).toEqual(RESULT(5n));
    v.run();
    // write_addr with only the address stores 0 there
    v.mem.writeValue(BASE + 0x5000, 8, 0xffn);
    expect(send(v, word(C.WRITE_ADDR, 1), BigInt(BASE + 0x5000))).toEqual(RESULT(0n));
    expect(v.mem.readValue(BASE + 0x5000, 8)).toBe(0n);
  });

  it('id 10: null handler, an instruction abort reported at 0x7000 (ESR, then FAR 0), then spin', () => {
    const v = started();
    expect(send(v, word(10, 0))).toEqual(W(0x7000, HoldingCellEsr.NULL_HANDLER));
    expect(HoldingCellEsr.NULL_HANDLER).toBe(0x8600_0004n);
    expect(v.run()).toEqual(W(0x7000, 0n));
    expect(v.run()).toEqual({ kind: 'spin' });
    expect(v.run()).toEqual({ kind: 'spin' });
  });

  it('id 10 with HOLD reads the HOLD word first; with arguments it takes the too-many path', () => {
    const v = started();
    expect(send(v, word(10, 1), 5n)).toEqual(W(0x6008, 101n));
    v.run();
    expect(send(v, word(10, 0, true))).toEqual(R());
    expect(v.run()).toEqual(W(0x7000, 0x8600_0004n));
  });

  it('id 11: past the handler table, an undefined instruction reported at 0x7000', () => {
    const v = started();
    expect(send(v, word(11, 0))).toEqual(W(0x7000, Esr.UNDEFINED));
    expect(v.run()).toEqual(W(0x7000, 0n));
    expect(v.run()).toEqual({ kind: 'spin' });
  });
});

describe('exception reporting', () => {
  it('read_addr of an unmapped address: data abort reported with ESR and FAR', () => {
    const v = started();
    expect(send(v, word(C.READ_ADDR, 1), 0x9000_0000n)).toEqual(W(0x7000, Esr.DATA_ABORT_TRANSLATION));
    expect(v.run()).toEqual(W(0x7000, 0x9000_0000n));
    expect(v.run()).toEqual({ kind: 'spin' });
  });

  it('write_addr to an unmapped address: WnR is set', () => {
    const v = started();
    expect(send(v, word(C.WRITE_ADDR, 2), 0x9000_0000n, 1n)).toEqual(W(0x7000, Esr.DATA_ABORT_TRANSLATION | Esr.WNR));
    expect(v.run()).toEqual(W(0x7000, 0x9000_0000n));
  });

  it('an MMIO read the VMM faults (FAULT resume action) is reported', () => {
    const v = started();
    expect(send(v, word(C.READ_IO, 1), 0x6_0000n)).toEqual(R(0x6_0000));
    v.inject(Esr.DATA_ABORT_EXTERNAL, 0x6_0000n);
    expect(v.run()).toEqual(W(0x7000, Esr.DATA_ABORT_EXTERNAL));
    expect(v.run()).toEqual(W(0x7000, 0x6_0000n));
  });

  it('a faulted command-word read is reported too', () => {
    const v = started();
    v.inject(Esr.DATA_ABORT_EXTERNAL, 0x6000n);
    expect(v.run()).toEqual(W(0x7000, Esr.DATA_ABORT_EXTERNAL));
    expect(v.run()).toEqual(W(0x7000, 0x6000n));
  });

  it('an address the guest cannot translate (>= 2^48) faults in the guest itself', () => {
    const v = started();
    expect(send(v, word(C.READ_ADDR, 1), 0xffff_0000_0000_0000n)).toEqual(W(0x7000, Esr.DATA_ABORT_TRANSLATION));
    expect(v.run()).toEqual(W(0x7000, 0xffff_0000_0000_0000n));
  });

  it('an exception while reporting one is a double fault: the vCPU crashes', () => {
    const v = started();
    expect(send(v, word(11, 0))).toEqual(W(0x7000, Esr.UNDEFINED));
    v.inject(Esr.DATA_ABORT_EXTERNAL, 0x7000n);
    const exit = v.run();
    expect(exit.kind).toBe('crash');
    expect(exit.kind === 'crash' && exit.error).toMatchObject({ esr: Esr.DATA_ABORT_EXTERNAL, far: 0x7000n });
  });
});
