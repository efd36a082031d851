// vcpu_run state by state with scripted fake guests (hypervisor.md §6 states and resume
// actions, §7 VMMIO traps, §8 stage-2 rights; src/guest/api.ts operations and results).
import { describe, expect, test } from 'vitest';
import { Esr, GuestException, type GuestCpu, type GuestThread } from '../../src/guest/api.js';
import { VcpuRunState as S, VmmioAction, DonateType } from '../../src/hyp/host-api.js';
import { Access } from '../../src/hyp/memory/api.js';
import { HypErrorCode as E } from '../../src/shared/hyp-errors.js';
import { DP_IPA, DP_PA, GUEST, HOST, PAGE, RAM_IPA, RAM_PA, err, makeRig, spinner, st } from './vcpu-support.js';

/** Results the guest saw, per test. */
type Log = Array<bigint | GuestException>;

describe('memory operations stage 2 maps', () => {
  test('store then load hit the real bytes (little-endian, zero-extended)', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        yield { kind: 'store', addr: RAM_IPA + 0x10, len: 8, value: 0x1122_3344_5566_7788n };
        log.push(yield { kind: 'load', addr: RAM_IPA + 0x10, len: 4 });
        log.push(yield { kind: 'load', addr: RAM_IPA + 0x14, len: 2 });
        log.push(yield { kind: 'load', addr: RAM_IPA + 0x17, len: 1 });
        yield* spinner();
      },
    });
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(log).toEqual([0x5566_7788n, 0x3344n, 0x11n]);
    expect([...rig.hyp.memory.readPhys(RAM_PA + 0x10, 8)]).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
  });

  test('the boot vCPU starts at the boot PC with X0 from the boot context; the engine is started lazily', () => {
    const seen: Array<Pick<GuestCpu, 'index' | 'entry' | 'context'>> = [];
    let started = 0;
    const rig = makeRig({
      guest: function* (cpu) {
        started++;
        seen.push({ index: cpu.index, entry: cpu.entry, context: cpu.context });
        expect(cpu.bootRegs.get(0x100)).toBe(BigInt(RAM_IPA));
        yield* spinner();
      },
    });
    expect(started).toBe(0);
    expect(rig.woken).toEqual([0]); // power-on asserts the boot vCPU's wakeup vIRQ
    rig.run(0);
    rig.run(0);
    expect(started).toBe(1);
    expect(seen).toEqual([{ index: 0, entry: RAM_IPA, context: 0x1234n }]);
  });

  test('fetch of X memory puts the bytes in cpu.fetched', () => {
    const got: number[][] = [];
    const rig = makeRig({
      guest: function* (cpu) {
        yield { kind: 'fetch', addr: RAM_IPA + PAGE - 2, len: 4 }; // straddles two pages
        got.push([...cpu.fetched]);
        yield* spinner();
      },
    });
    rig.hyp.memory.writePhys(RAM_PA + PAGE - 2, new Uint8Array([1, 2, 3, 4]));
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(got).toEqual([[1, 2, 3, 4]]);
  });

  test('an execute-only mapping can be fetched but not loaded', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* (cpu) {
        yield { kind: 'fetch', addr: 0x4000_0000, len: 2 };
        log.push(BigInt(cpu.fetched[1]!));
        try {
          yield { kind: 'load', addr: 0x4000_0000, len: 2 };
        } catch (e) {
          log.push(e as GuestException);
        }
        yield* spinner();
      },
    });
    rig.hyp.memory.writePhys(RAM_PA + 2 * PAGE, new Uint8Array([0xaa, 0xbb]));
    rig.hyp.memory.map(GUEST, rig.guestExtent, 0x4000_0000, RAM_PA + 2 * PAGE, PAGE, Access.X);
    rig.run(0);
    expect(log[0]).toBe(0xbbn);
    expect(log[1]).toMatchObject({ esr: Esr.DATA_ABORT_PERMISSION, far: 0x4000_0000n });
  });
});

describe('VMMIO exits and resume actions', () => {
  test('VMMIO_READ: data0 IPA, data1 size; EMULATE gives word 0 truncated to the size', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        log.push(yield { kind: 'load', addr: 0x6000, len: 8 });
        log.push(yield { kind: 'load', addr: 0x6002, len: 2 });
        yield* spinner();
      },
    });
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_VMMIO_READ, 0x6000n, 8n));
    expect(rig.run(0, 0xdead_beef_cafe_f00dn, BigInt(VmmioAction.EMULATE))).toEqual(st(S.ADDRSPACE_VMMIO_READ, 0x6002n, 2n));
    expect(rig.run(0, 0x1234_5678n, 0n)).toEqual(st(S.READY));
    expect(log).toEqual([0xdead_beef_cafe_f00dn, 0x5678n]);
  });

  test('VMMIO_WRITE: data2 is the value truncated to the size; EMULATE continues', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        log.push(yield { kind: 'store', addr: 0x6008, len: 4, value: 0x1_2345_6789n });
        log.push(yield { kind: 'store', addr: 0x7000, len: 1, value: -1n });
        yield* spinner();
      },
    });
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_VMMIO_WRITE, 0x6008n, 4n, 0x2345_6789n));
    expect(rig.run(0, 0n, 0n)).toEqual(st(S.ADDRSPACE_VMMIO_WRITE, 0x7000n, 1n, 0xffn));
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(log).toEqual([0n, 0n]);
  });

  test('RETRY re-executes the access through stage 2 (memory provided meanwhile, or not)', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        log.push(yield { kind: 'load', addr: 0x6000, len: 8 });
        yield* spinner();
      },
    });
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_VMMIO_READ, 0x6000n, 8n));
    // Still unmapped: the same exit again.
    expect(rig.run(0, 0n, BigInt(VmmioAction.RETRY))).toEqual(st(S.ADDRSPACE_VMMIO_READ, 0x6000n, 8n));
    rig.hyp.memory.writePhys(RAM_PA + 3 * PAGE, new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]));
    rig.hyp.memory.map(GUEST, rig.guestExtent, 0x6000, RAM_PA + 3 * PAGE, PAGE, Access.RW);
    expect(rig.run(0, 0n, BigInt(VmmioAction.RETRY))).toEqual(st(S.READY));
    expect(log).toEqual([7n]);
  });

  test('FAULT injects a synchronous external abort (FAR = IPA; WnR for writes)', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        try {
          yield { kind: 'load', addr: 0x6000, len: 8 };
        } catch (e) {
          log.push(e as GuestException);
        }
        try {
          yield { kind: 'store', addr: 0x6010, len: 8, value: 1n };
        } catch (e) {
          log.push(e as GuestException);
        }
        yield* spinner();
      },
    });
    rig.run(0);
    expect(rig.run(0, 0n, BigInt(VmmioAction.FAULT))).toEqual(st(S.ADDRSPACE_VMMIO_WRITE, 0x6010n, 8n, 1n));
    expect(rig.run(0, 0n, BigInt(VmmioAction.FAULT))).toEqual(st(S.READY));
    expect(log).toHaveLength(2);
    expect(log[0]).toBeInstanceOf(GuestException);
    expect(log[0]).toMatchObject({ esr: Esr.DATA_ABORT_EXTERNAL, far: 0x6000n });
    expect(log[1]).toMatchObject({ esr: Esr.DATA_ABORT_EXTERNAL | Esr.WNR, far: 0x6010n });
  });

  test('an unknown resume action is ERROR_ARGUMENT_INVALID and the exit stays pending', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        log.push(yield { kind: 'load', addr: 0x6000, len: 4 });
        yield* spinner();
      },
    });
    rig.run(0);
    expect(rig.run(0, 5n, 3n)).toEqual(err(E.ERROR_ARGUMENT_INVALID));
    expect(rig.run(0, 5n, 0n)).toEqual(st(S.READY));
    expect(log).toEqual([5n]);
  });

  test('an uncaught exception kills the vCPU: FAULT once, then POWERED_OFF exited; the RM is told SOFTWARE_ERROR', () => {
    const rig = makeRig({
      guest: function* () {
        yield { kind: 'load', addr: 0x6000, len: 8 };
        yield* spinner();
      },
    });
    rig.run(0);
    expect(rig.run(0, 0n, BigInt(VmmioAction.FAULT))).toEqual(st(S.FAULT));
    expect(rig.exits).toEqual([{ vmid: GUEST, exitType: 5, words: [0] }]);
    expect(rig.run(0)).toEqual(st(S.POWERED_OFF, 1n));
    expect(rig.hyp.vcpuThread(rig.vcpus[0]!).lastFault).toBeInstanceOf(GuestException);
  });

  test('an engine that throws anything crashes the same way; one that returns powers its vCPU off', () => {
    const rig = makeRig({
      guest: function* (cpu) {
        if (cpu.index === 0) throw new Error('engine bug');
        yield { kind: 'store', addr: RAM_IPA, len: 1, value: 1n };
      },
    });
    expect(rig.run(0)).toEqual(st(S.FAULT));
    rig.hyp.vcpuThread(rig.vcpus[1]!).powerOn(RAM_IPA, 0n);
    expect(rig.run(1)).toEqual(st(S.POWERED_OFF, 0n));
  });
});

describe('demand paging and permission faults', () => {
  test('an unmapped access in a demand-paging range is a page fault; after the host provides the page the access succeeds', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        log.push(yield { kind: 'load', addr: DP_IPA + 0x1008, len: 8 });
        yield { kind: 'store', addr: DP_IPA + 0x3000, len: 8, value: 9n };
        yield* spinner();
      },
    });
    const h = rig.hyp.host;
    const [gPriv, , hPriv] = rig.dp.extentCaps;
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_PAGE_FAULT, BigInt(DP_IPA + 0x1008), 0n));
    // Not provided yet: faults again.
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_PAGE_FAULT, BigInt(DP_IPA + 0x1008), 0n));
    // The Linux lend path (uapi.md §8.11): donate TO_PROTECTED, map PARTIAL|PRIVATE RWX.
    h.writeMemory(DP_PA + 8, new Uint8Array([0x42, 0, 0, 0, 0, 0, 0, 0]));
    expect(h.memextentDonate(DonateType.TO_PROTECTED, hPriv!, gPriv!, DP_PA, PAGE)).toBe(0);
    expect(h.addrspaceMap(rig.dp.asCap, gPriv!, DP_IPA + 0x1000, 0x000f_0077, 0x3, DP_PA, PAGE)).toBe(0);
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_PAGE_FAULT, BigInt(DP_IPA + 0x3000), 1n));
    expect(log).toEqual([0x42n]);
    // The host lost the lent page.
    expect(h.probeMemory(DP_PA, 8, 'read')).toBe('unmapped');
  });

  test('a permission fault inside a demand-paging range is a page fault with the write flag', () => {
    const rig = makeRig({
      guest: function* () {
        yield { kind: 'store', addr: DP_IPA, len: 8, value: 1n };
        yield* spinner();
      },
    });
    rig.hyp.memory.map(GUEST, rig.guestExtent, DP_IPA, RAM_PA + 4 * PAGE, PAGE, Access.RX);
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_PAGE_FAULT, BigInt(DP_IPA), 1n));
  });

  test('a permission fault outside demand paging is a data abort into the guest (WnR for writes)', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        try {
          yield { kind: 'store', addr: 0x5000_0010, len: 8, value: 1n };
        } catch (e) {
          log.push(e as GuestException);
        }
        log.push(yield { kind: 'load', addr: 0x5000_0010, len: 8 });
        yield* spinner();
      },
    });
    rig.hyp.memory.map(GUEST, rig.guestExtent, 0x5000_0000, RAM_PA + 5 * PAGE, PAGE, Access.R);
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(log[0]).toMatchObject({ esr: Esr.DATA_ABORT_PERMISSION | Esr.WNR, far: 0x5000_0010n });
    expect(log[1]).toBe(0n);
  });

  test('fetch: unmapped in demand paging → page fault; unmapped elsewhere → translation abort', () => {
    const log: Log = [];
    const rig = makeRig({
      guest: function* () {
        yield { kind: 'fetch', addr: DP_IPA + 0x2000, len: 16 };
        try {
          yield { kind: 'fetch', addr: 0x7000_0000, len: 16 };
        } catch (e) {
          log.push(e as GuestException);
        }
        yield* spinner();
      },
    });
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_PAGE_FAULT, BigInt(DP_IPA + 0x2000), 0n));
    rig.hyp.memory.map(GUEST, rig.guestExtent, DP_IPA + 0x2000, RAM_PA + 6 * PAGE, PAGE, Access.RX);
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(log[0]).toMatchObject({ esr: Esr.DATA_ABORT_TRANSLATION, far: 0x7000_0000n });
  });
});

describe('scheduling states', () => {
  test('the op budget ends a run with READY and the next run carries on', () => {
    let done = 0;
    const rig = makeRig({
      budget: 4,
      guest: function* () {
        for (let i = 0; i < 10; i++) {
          yield { kind: 'store', addr: RAM_IPA, len: 1, value: BigInt(i) };
          done++;
        }
        yield { kind: 'load', addr: 0x6000, len: 8 };
      },
    });
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(done).toBe(3); // 4 ops executed; the 4th's result is fed at the next run
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(done).toBe(7);
    expect(rig.run(0)).toEqual(st(S.ADDRSPACE_VMMIO_READ, 0x6000n, 8n));
    expect(done).toBe(10);
  });

  test('spin answers READY on every call', () => {
    const rig = makeRig({ guest: spinner });
    for (let i = 0; i < 3; i++) expect(rig.run(0)).toEqual(st(S.READY));
  });

  test('a vCPU never powered on is POWERED_OFF, not exited', () => {
    const rig = makeRig({ guest: spinner });
    expect(rig.run(1)).toEqual(st(S.POWERED_OFF, 0n));
  });

  test('a second vcpu_run while one is in progress is ERROR_BUSY (re-entrant call from a vIRQ handler)', () => {
    const inner: unknown[] = [];
    const rig = makeRig({
      guest: function* () {
        yield { kind: 'hvc', fn: 0xc400_0003, args: [1n, BigInt(RAM_IPA), 0n] };
        yield* spinner();
      },
    });
    rig.hyp.host.onVirq(rig.wakeVirqs[1]!, () => inner.push(rig.run(0)));
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(inner).toEqual([err(E.ERROR_BUSY)]);
  });

  test('vcpu_kill: later runs fail with ERROR_OBJECT_STATE', () => {
    const rig = makeRig({ guest: spinner });
    rig.hyp.killVcpu(rig.vcpus[0]!);
    expect(rig.run(0)).toEqual(err(E.ERROR_OBJECT_STATE));
  });

  test("every answer is reported as a 'vcpu-state' event", () => {
    const rig = makeRig({ guest: spinner });
    const evs: unknown[] = [];
    rig.hyp.events.on('vcpu-state', (e) => evs.push(e));
    rig.run(0);
    expect(evs).toEqual([{ vmid: GUEST, vcpu: 0, objectId: rig.vcpus[0]!.id, result: st(S.READY) }]);
  });

  test('destroying a vCPU object drops its thread and its capability', () => {
    const rig = makeRig({ guest: spinner });
    rig.run(0);
    rig.hyp.destroyObject(rig.vcpus[0]!);
    expect(rig.run(0)).toEqual(err(E.ERROR_CSPACE_CAP_NULL));
  });

  test('stopVm: every vCPU POWERED_OFF exited, sleepers woken, no vm-exit event', () => {
    const rig = makeRig({
      guest: function* (): GuestThread {
        yield { kind: 'wfi' };
      },
    });
    expect(rig.run(0)).toEqual(st(S.EXPECTS_WAKEUP, 0n, 1n));
    rig.woken.length = 0;
    rig.hyp.stopVm(GUEST);
    expect(rig.woken).toEqual([0, 1]);
    expect(rig.run(0)).toEqual(st(S.POWERED_OFF, 1n));
    expect(rig.run(1)).toEqual(st(S.POWERED_OFF, 1n));
    expect(rig.exits).toEqual([]);
  });

  test('host extent sharing is not limited to 4 address spaces', () => {
    const rig = makeRig({ guest: spinner });
    for (let vm = 0x90; vm < 0x96; vm++) rig.hyp.memory.map(vm, rig.hyp.hostExtent, 0x1000, 0xb000_0000, PAGE, Access.RW);
    expect(rig.hyp.memory.checkInvariants()).toEqual([]);
    expect(HOST).toBe(3);
  });
});
