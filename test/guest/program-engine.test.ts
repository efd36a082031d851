// The guest-program engine through bootGuest: each instruction's ops and results, crashes
// (udf, failed expect, faults thrown in), loops, per-vCPU blocks, and the no-hang guard.
import { describe, expect, it } from 'vitest';
import {
  bootGuest,
  Esr,
  GuestException,
  guestProgram,
  PROGRAM_IDLE_LIMIT,
  ProgramEsr,
  PsciFn,
  type GuestProgramBuilder,
} from '../../src/guest/index.js';
import { FakeMemory, FakeVcpu, makeCpu, type Exit } from './support/fake-driver.js';

const BASE = 0x8000_0000;

function boot(program: GuestProgramBuilder | Uint8Array, cpu: { index?: number; context?: bigint; shared?: Map<string, unknown> } = {}): FakeVcpu {
  const mem = new FakeMemory().map(BASE, 0x10000);
  mem.write(BASE, program instanceof Uint8Array ? program : program.build());
  return new FakeVcpu(mem, makeCpu({ index: cpu.index ?? 0, context: cpu.context ?? 0n, vmShared: cpu.shared ?? new Map() }));
}

const R = (addr: number, len = 8): Exit => ({ kind: 'mmio-read', addr, len });
const W = (addr: number, len: number, value: bigint): Exit => ({ kind: 'mmio-write', addr, len, value });
const SPIN: Exit = { kind: 'spin' };

function crashOf(exit: Exit): GuestException {
  expect(exit.kind).toBe('crash');
  if (exit.kind !== 'crash') throw new Error('not a crash');
  expect(exit.error).toBeInstanceOf(GuestException);
  return exit.error as GuestException;
}

describe('boot', () => {
  it('fetches the 16-byte header, then the whole program, then runs it', () => {
    const image = guestProgram().mmioRead(0x6000).build();
    const v = boot(image);
    expect(v.run()).toEqual(R(0x6000));
    expect(v.accesses).toEqual([
      { kind: 'fetch', addr: BASE, len: 16 },
      { kind: 'fetch', addr: BASE, len: image.length },
    ]);
  });

  it('unknown bytes at the PC: undefined instruction, FAR 0 (the vCPU crashes)', () => {
    const v = boot(new Uint8Array([0x1f, 0x20, 0x03, 0xd5])); // an AArch64 NOP is not one of our images
    const e = crashOf(v.run());
    expect(e.esr).toBe(Esr.UNDEFINED);
    expect(e.far).toBe(0n);
  });

  it('a malformed program (our magic, bad body) is also an undefined instruction', () => {
    const image = guestProgram().wfi().build();
    image[32] = 0x7f;
    expect(crashOf(boot(image).run()).esr).toBe(Esr.UNDEFINED);
  });

  it('a fault thrown into the fetch crashes the vCPU', () => {
    const mem = new FakeMemory().map(BASE, 0x1000);
    const v = new FakeVcpu(mem, makeCpu({ entry: 0x9000_0000 }));
    expect(crashOf(v.run()).esr).toBe(Esr.DATA_ABORT_TRANSLATION);
  });

  it('a program longer than one page is fetched in full', () => {
    const p = guestProgram();
    for (let i = 0; i < 200; i++) p.store(BASE + 0x8000 + i * 8, 8, i);
    p.mmioRead(0x6000);
    const image = p.build();
    expect(image.length).toBeGreaterThan(0x2000);
    const v = boot(image);
    expect(v.run()).toEqual(R(0x6000));
    expect(v.accesses[1]).toEqual({ kind: 'fetch', addr: BASE, len: image.length });
    expect(v.mem.readValue(BASE + 0x8000 + 199 * 8, 8)).toBe(199n);
  });
});

describe('instructions', () => {
  it('mmio reads and writes of every length; the read value is the last result', () => {
    const v = boot(guestProgram().mmioRead(0x6000, 1).expect(0xab).mmioWrite(0x6008, 2, 0xbeef).mmioRead(0x6010, 4).mmioRead(0x6018, 8));
    expect(v.run()).toEqual(R(0x6000, 1));
    v.supply(0xabn);
    expect(v.run()).toEqual(W(0x6008, 2, 0xbeefn));
    expect(v.run()).toEqual(R(0x6010, 4));
    expect(v.run()).toEqual(R(0x6018, 8));
    expect(v.run()).toEqual(SPIN); // the end of the program spins
    expect(v.run()).toEqual(SPIN);
  });

  it('memory load, store and touch go to memory, not to the VMM', () => {
    const v = boot(guestProgram().store(BASE + 0x4000, 8, 0x1234).load(BASE + 0x4000, 4).expect(0x1234).touch(BASE + 0x5000).expect(0).mmioRead(0x6000));
    expect(v.run()).toEqual(R(0x6000));
    expect(v.accesses.slice(2)).toEqual([
      { kind: 'store', addr: BASE + 0x4000, len: 8, value: 0x1234n },
      { kind: 'load', addr: BASE + 0x4000, len: 4 },
      { kind: 'load', addr: BASE + 0x5000, len: 8 },
    ]);
  });

  it('hvc: fn and args as given, X0 is the last result; the PSCI helpers use the PSCI ids', () => {
    const v = boot(guestProgram().psciCpuOn(2, BASE, 0x55).expect(0).relinquish(BASE + 0x4000, 0x1000, 5).systemReset().systemOff().cpuOff());
    expect(v.run()).toEqual({ kind: 'hvc', fn: PsciFn.CPU_ON_64, args: [2n, BigInt(BASE), 0x55n] });
    v.supply(0n);
    expect(v.run()).toEqual({ kind: 'hvc', fn: 0xc600_8069, args: [0n, BigInt(BASE + 0x4000), 0x1000n, 5n] });
    expect(v.run()).toEqual({ kind: 'hvc', fn: 0x8400_0009, args: [] });
    expect(v.run()).toEqual({ kind: 'hvc', fn: 0x8400_0008, args: [] });
    expect(v.run()).toEqual({ kind: 'hvc', fn: 0x8400_0002, args: [] });
  });

  it('wfi: the waking INTID is the last result', () => {
    const v = boot(guestProgram().wfi().expect(32).mmioRead(0x6000));
    expect(v.run()).toEqual({ kind: 'wfi' });
    v.supply(32n);
    expect(v.run()).toEqual(R(0x6000));
  });

  it('the last result starts as X0 at entry (the CPU_ON context)', () => {
    const v = boot(guestProgram().expect(0x55).mmioRead(0x6000), { context: 0x55n });
    expect(v.run()).toEqual(R(0x6000));
  });

  it('a failed expect crashes with the BRK #1 ESR', () => {
    const v = boot(guestProgram().mmioRead(0x6000).expect(1));
    v.run();
    v.supply(2n);
    const e = crashOf(v.run());
    expect(e.esr).toBe(ProgramEsr.EXPECT_FAILED);
    expect(ProgramEsr.EXPECT_FAILED).toBe(0xf200_0001n);
    expect(e.far).toBe(0n);
    expect(e.message).toMatch(/wanted 0x1, got 0x2/);
  });

  it('udf crashes with an undefined instruction', () => {
    const v = boot(guestProgram().mmioRead(0x6000).udf().mmioRead(0x6008));
    v.run();
    expect(crashOf(v.run()).esr).toBe(Esr.UNDEFINED);
    expect(v.run().kind).toBe('crash'); // stays crashed
  });

  it('an exception thrown in is not caught: the vCPU crashes with it', () => {
    const v = boot(guestProgram().mmioRead(0x6000).mmioRead(0x6008));
    v.run();
    v.inject(Esr.DATA_ABORT_EXTERNAL, 0x6000n);
    const e = crashOf(v.run());
    expect([e.esr, e.far]).toEqual([Esr.DATA_ABORT_EXTERNAL, 0x6000n]);
  });

  it('an unmapped memory access faults (thrown in by the driver) and crashes', () => {
    const v = boot(guestProgram().store(0x9000_0000, 8, 1));
    const e = crashOf(v.run());
    expect([e.esr, e.far]).toEqual([Esr.DATA_ABORT_TRANSLATION | Esr.WNR, 0x9000_0000n]);
  });

  it('an address >= 2^48 faults in the guest itself, before any op', () => {
    const v = boot(guestProgram().mmioWrite(0x1_0000_0000_0000n, 8, 1));
    const e = crashOf(v.run());
    expect([e.esr, e.far]).toEqual([Esr.DATA_ABORT_TRANSLATION | Esr.WNR, 0x1_0000_0000_0000n]);
  });

  it('spin spins forever; nothing after it runs', () => {
    const v = boot(guestProgram().spin().mmioRead(0x6000));
    for (let i = 0; i < 5; i++) expect(v.run()).toEqual(SPIN);
  });
});

describe('control flow', () => {
  it('repeat n runs the body n times; 0 skips it; nested loops multiply', () => {
    const v = boot(
      guestProgram()
        .repeat(3, (p) => p.mmioRead(0x6000))
        .repeat(0, (p) => p.udf())
        .repeat(2, (p) => p.repeat(3, (q) => q.mmioRead(0x6008)).mmioWrite(0x6010, 8, 1))
        .mmioRead(0x6018),
    );
    const seen: number[] = [];
    for (let e = v.run(); e.kind !== 'spin'; e = v.run()) {
      if (e.kind !== 'mmio-read' && e.kind !== 'mmio-write') throw new Error(`unexpected ${e.kind}`);
      seen.push(e.addr);
    }
    expect(seen).toEqual([0x6000, 0x6000, 0x6000, 0x6008, 0x6008, 0x6008, 0x6010, 0x6008, 0x6008, 0x6008, 0x6010, 0x6018]);
  });

  it('a repeat can run again (its counter is reloaded at the head)', () => {
    const v = boot(guestProgram().repeat(2, (p) => p.forever((q) => q.repeat(2, (r) => r.mmioRead(0x6000)).mmioWrite(0x6008, 8, 0))));
    const seen: number[] = [];
    for (let i = 0; i < 9; i++) {
      const e = v.run();
      seen.push(e.kind === 'mmio-read' || e.kind === 'mmio-write' ? e.addr : -1);
    }
    expect(seen).toEqual([0x6000, 0x6000, 0x6008, 0x6000, 0x6000, 0x6008, 0x6000, 0x6000, 0x6008]);
  });

  it('forever loops its body', () => {
    const v = boot(guestProgram().mmioWrite(0x6008, 8, 1).forever((p) => p.mmioRead(0x6000).mmioWrite(0x6000, 8, 2)));
    expect(v.run()).toEqual(W(0x6008, 8, 1n));
    for (let i = 0; i < 3; i++) {
      expect(v.run()).toEqual(R(0x6000));
      expect(v.run()).toEqual(W(0x6000, 8, 2n));
    }
  });

  it('a loop that never yields an op gives a spin every PROGRAM_IDLE_LIMIT steps, then goes on', () => {
    // 40,000 × (expect + end-repeat) = 80,000 control steps before the read
    const v = boot(guestProgram().repeat(40_000, (p) => p.expect(0)).mmioRead(0x6000));
    expect(PROGRAM_IDLE_LIMIT).toBe(65_536);
    expect(v.run()).toEqual(SPIN);
    expect(v.run()).toEqual(R(0x6000));
  });

  it('an endless loop without ops spins instead of hanging the driver', () => {
    const v = boot(guestProgram().forever((p) => p.onCpu(7, (q) => q.mmioRead(0x6000))));
    expect(v.run()).toEqual(SPIN);
    expect(v.run()).toEqual(SPIN);
  });
});

describe('per-vCPU blocks', () => {
  // vCPU 0 starts vCPU 1 at the same image with context 7; vCPU 1 checks X0 and polls.
  const program = () =>
    guestProgram()
      .onCpu(0, (p) => p.psciCpuOn(1, BASE, 7).expect(0).mmioWrite(0x6008, 8, 0))
      .onCpu(1, (p) => p.expect(7).forever((q) => q.mmioRead(0x6000)))
      .mmioWrite(0x7000, 8, 0xdead);

  it('vCPU 0 runs its block and falls through to the common tail', () => {
    const v = boot(program(), { index: 0 });
    expect(v.run()).toEqual({ kind: 'hvc', fn: PsciFn.CPU_ON_64, args: [1n, BigInt(BASE), 7n] });
    v.supply(0n);
    expect(v.run()).toEqual(W(0x6008, 8, 0n));
    expect(v.run()).toEqual(W(0x7000, 8, 0xdeadn));
    expect(v.run()).toEqual(SPIN);
  });

  it('vCPU 1 (started by CPU_ON with context 7) skips vCPU 0’s block and runs its own', () => {
    const v = boot(program(), { index: 1, context: 7n });
    for (let i = 0; i < 3; i++) expect(v.run()).toEqual(R(0x6000));
  });

  it('a vCPU no block names runs only the common part', () => {
    const v = boot(program(), { index: 2 });
    expect(v.run()).toEqual(W(0x7000, 8, 0xdeadn));
  });
});
