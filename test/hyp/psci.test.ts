// The guest's HVC table: PSCI power calls, SYSTEM_OFF / RESET / RESET2 and their 'vm-exit'
// reports, page relinquish and the FROM_PROTECTED rule (hypervisor.md §6 state 0x100,
// rm-rpc.md §15.5 exit types and reason words, vmm-flows.md §6.6).
import { describe, expect, test } from 'vitest';
import type { GuestCpu, GuestOp, GuestThread } from '../../src/guest/api.js';
import { DonateType, VcpuRunState as S } from '../../src/hyp/host-api.js';
import { HypErrorCode as E } from '../../src/shared/hyp-errors.js';
import { DP_IPA, DP_PA, GUEST, PAGE, RAM_IPA, makeRig, spinner, st, u64 } from './vcpu-support.js';

const CPU_ON = 0xc400_0003;
const CPU_ON_32 = 0x8400_0003;
const CPU_OFF = 0x8400_0002;
const SYSTEM_OFF = 0x8400_0008;
const SYSTEM_RESET = 0x8400_0009;
const SYSTEM_RESET2_64 = 0xc400_0012;
const SYSTEM_RESET2_32 = 0x8400_0012;
const RELINQUISH = 0xc600_8069;

const hvc = (fn: number, ...args: bigint[]): GuestOp => ({ kind: 'hvc', fn, args });

/** vCPU 0 runs `script` (its results are logged), others spin. */
function rigWith(script: (log: bigint[], cpu: GuestCpu) => GuestThread, opts: { vcpus?: number } = {}) {
  const log: bigint[] = [];
  const cpus: GuestCpu[] = [];
  const rig = makeRig({
    ...opts,
    guest: (cpu) => {
      cpus.push(cpu);
      return cpu.index === 0 ? script(log, cpu) : spinner();
    },
  });
  return { rig, log, cpus };
}

describe('PSCI power management', () => {
  test('PSCI_VERSION is 1.1, PSCI_FEATURES knows the calls, SMCCC_VERSION 1.1, unknown → NOT_SUPPORTED', () => {
    const { rig, log } = rigWith(function* (log) {
      log.push(yield hvc(0x8400_0000));
      log.push(yield hvc(0x8400_000a, BigInt(SYSTEM_RESET2_64)));
      log.push(yield hvc(0x8400_000a, 0x8400_0001n));
      log.push(yield hvc(0x8000_0000));
      log.push(yield hvc(0xc500_0001, 1n));
      yield* spinner();
    });
    rig.run(0);
    expect(log).toEqual([0x1_0001n, 0n, u64(-1), 0x1_0001n, u64(-1)]);
  });

  test('CPU_ON powers the target on at entry with X0 = context and wakes it; errors for bad targets', () => {
    const { rig, log, cpus } = rigWith(function* (log) {
      log.push(yield hvc(CPU_ON, 1n, BigInt(RAM_IPA + 0x40), 0x55n));
      log.push(yield hvc(CPU_ON, 1n, BigInt(RAM_IPA), 0n)); // already on
      log.push(yield hvc(CPU_ON, 0n, BigInt(RAM_IPA), 0n)); // itself
      log.push(yield hvc(CPU_ON, 7n, BigInt(RAM_IPA), 0n)); // no such vCPU
      log.push(yield hvc(0xc400_0004, 1n, 0n)); // AFFINITY_INFO: ON
      yield* spinner();
    });
    expect(rig.run(1)).toEqual(st(S.POWERED_OFF, 0n)); // the kernel then sleeps on the wakeup vIRQ
    rig.woken.length = 0;
    rig.run(0);
    expect(log).toEqual([0n, u64(-4), u64(-4), u64(-2), 0n]);
    expect(rig.woken).toEqual([1]);
    expect(rig.run(1)).toEqual(st(S.READY));
    expect(cpus.map((c) => [c.index, c.entry, c.context])).toEqual([
      [0, RAM_IPA, 0x1234n],
      [1, RAM_IPA + 0x40, 0x55n],
    ]);
  });

  test('CPU_ON in the SMC32 form truncates its arguments to 32 bits', () => {
    const { rig, log, cpus } = rigWith(function* (log) {
      log.push(yield hvc(CPU_ON_32, 0x1_0000_0001n, BigInt(RAM_IPA), 0xffff_ffff_0000_0007n));
      yield* spinner();
    });
    rig.run(0);
    rig.run(1);
    expect(log).toEqual([0n]);
    expect(cpus[1]!.context).toBe(7n);
  });

  test('CPU_OFF: the caller is POWERED_OFF (not exited) and a later CPU_ON starts a fresh engine', () => {
    let starts = 0;
    const rig = makeRig({
      guest: function* (cpu) {
        if (cpu.index === 1) {
          starts++;
          yield hvc(CPU_OFF);
          throw new Error('CPU_OFF returned');
        }
        yield hvc(CPU_ON, 1n, BigInt(RAM_IPA), 0n);
        yield { kind: 'spin' };
        yield hvc(CPU_ON, 1n, BigInt(RAM_IPA), 0n);
        yield* spinner();
      },
    });
    rig.run(0);
    expect(rig.run(1)).toEqual(st(S.POWERED_OFF, 0n));
    expect(rig.run(1)).toEqual(st(S.POWERED_OFF, 0n));
    rig.run(0);
    expect(rig.run(1)).toEqual(st(S.POWERED_OFF, 0n));
    expect(starts).toBe(2);
    expect(rig.exits).toEqual([]);
  });

  test("SYSTEM_OFF halts the VM: POWERED_OFF exited everywhere, sleepers woken, 'vm-exit' PLATFORM_OFF [0]", () => {
    const rig = makeRig({
      guest: function* (cpu) {
        if (cpu.index === 1) {
          yield { kind: 'wfi' };
          return;
        }
        yield hvc(CPU_ON, 1n, BigInt(RAM_IPA), 0n);
        yield { kind: 'spin' };
        yield hvc(SYSTEM_OFF);
      },
    });
    rig.run(0);
    expect(rig.run(1)).toEqual(st(S.EXPECTS_WAKEUP, 0n, 1n));
    rig.woken.length = 0;
    expect(rig.run(0)).toEqual(st(S.POWERED_OFF, 1n));
    expect(rig.exits).toEqual([{ vmid: GUEST, exitType: 1, words: [0] }]);
    expect(rig.woken).toEqual([1]);
    expect(rig.run(1)).toEqual(st(S.POWERED_OFF, 1n));
    expect(rig.run(0)).toEqual(st(S.POWERED_OFF, 1n));
    expect(rig.hyp.vm(GUEST).running).toBe(false);
  });

  test('SYSTEM_RESET: state 0x100 with data0 bit 63; PLATFORM_RESET [0]', () => {
    const { rig } = rigWith(function* () {
      yield hvc(SYSTEM_RESET);
    });
    expect(rig.run(0)).toEqual(st(S.PSCI_SYSTEM_RESET, 1n << 63n));
    expect(rig.exits).toEqual([{ vmid: GUEST, exitType: 2, words: [0] }]);
    expect(rig.run(0)).toEqual(st(S.POWERED_OFF, 1n));
  });

  test('SYSTEM_RESET2 (SMC64): data0 = type | bit 62, data1 = cookie; PSCI_SYSTEM_RESET2 with 4 reason words', () => {
    const { rig } = rigWith(function* () {
      yield hvc(SYSTEM_RESET2_64, 0x8000_0001n, 0x1_2345_6789n);
    });
    expect(rig.run(0)).toEqual(st(S.PSCI_SYSTEM_RESET, 0x8000_0001n | (1n << 62n), 0x1_2345_6789n));
    expect(rig.exits).toEqual([{ vmid: GUEST, exitType: 3, words: [0x8000, 0x8000_0001, 0x2345_6789, 1] }]);
  });

  test('SYSTEM_RESET2 (SMC32): the cookie is 32-bit and no SMC64 flag', () => {
    const { rig } = rigWith(function* () {
      yield hvc(SYSTEM_RESET2_32, 0n, 0xaa_bbbb_cccc_ddddn);
    });
    expect(rig.run(0)).toEqual(st(S.PSCI_SYSTEM_RESET, 0n, 0xcccc_ddddn));
    expect(rig.exits).toEqual([{ vmid: GUEST, exitType: 3, words: [0, 0, 0xcccc_dddd, 0] }]);
  });

  test('SYSTEM_RESET2 with an architectural type other than warm reset is INVALID_PARAMETERS', () => {
    const { rig, log } = rigWith(function* (log) {
      log.push(yield hvc(SYSTEM_RESET2_64, 1n, 0n));
      yield* spinner();
    });
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(log).toEqual([u64(-2)]);
    expect(rig.exits).toEqual([]);
  });
});

describe('page relinquish (hvc 0xC6008069) and FROM_PROTECTED', () => {
  /** Lend one demand-paged page to the guest as Linux does (uapi.md §8.11). */
  function lend(rig: ReturnType<typeof makeRig>, ipa: number, pa: number): void {
    const [gPriv, , hPriv] = rig.dp.extentCaps;
    expect(rig.hyp.host.memextentDonate(DonateType.TO_PROTECTED, hPriv!, gPriv!, pa, PAGE)).toBe(0);
    expect(rig.hyp.host.addrspaceMap(rig.dp.asCap, gPriv!, ipa, 0x000f_0077, 0x3, pa, PAGE)).toBe(0);
  }
  /** Reclaim it as Linux does: unmap, then donate FROM_PROTECTED; the first error, or 0. */
  function reclaim(rig: ReturnType<typeof makeRig>, ipa: number, pa: number): number {
    const [gPriv, , hPriv] = rig.dp.extentCaps;
    const e = rig.hyp.host.addrspaceUnmap(rig.dp.asCap, gPriv!, ipa, 0, pa, PAGE);
    return e !== 0 ? e : rig.hyp.host.memextentDonate(DonateType.FROM_PROTECTED, gPriv!, hPriv!, pa, PAGE);
  }

  test('a lent page the guest touched stays the guest\'s while it runs; relinquished (sanitized) it comes back zeroed', () => {
    const { rig, log } = rigWith(function* (log) {
      yield { kind: 'store', addr: DP_IPA, len: 8, value: 0x5a5an };
      yield { kind: 'spin' };
      log.push(yield hvc(RELINQUISH, 0n, BigInt(DP_IPA), BigInt(PAGE), 0b011n));
      log.push(yield hvc(RELINQUISH, 0n, 0n, 0n, 0b100n)); // flush after
      yield* spinner();
    });
    lend(rig, DP_IPA, DP_PA);
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(reclaim(rig, DP_IPA, DP_PA)).toBe(E.ERROR_BUSY); // the unmap is refused
    const [gPriv, , hPriv] = rig.dp.extentCaps;
    expect(rig.hyp.host.memextentDonate(DonateType.FROM_PROTECTED, gPriv!, hPriv!, DP_PA, PAGE)).toBe(E.ERROR_BUSY);
    expect(rig.hyp.host.probeMemory(DP_PA, 8, 'read')).toBe('unmapped');
    expect(rig.hyp.memory.translate(GUEST, DP_IPA, PAGE)).toHaveLength(1); // still the guest's
    rig.run(0);
    expect(log).toEqual([0n, 0n]);
    expect(rig.hyp.vm(GUEST).relinquishedPages).toBe(1);
    expect(reclaim(rig, DP_IPA, DP_PA)).toBe(0);
    expect([...rig.hyp.host.readMemory(DP_PA, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(rig.hyp.vm(GUEST).relinquishedPages).toBe(0);
  });

  test('without sanitize the host reads what the guest wrote', () => {
    const { rig } = rigWith(function* () {
      yield { kind: 'store', addr: DP_IPA, len: 1, value: 0x77n };
      yield hvc(RELINQUISH, 0n, BigInt(DP_IPA), BigInt(PAGE), 0b001n);
      yield* spinner();
    });
    lend(rig, DP_IPA, DP_PA);
    rig.run(0);
    expect(reclaim(rig, DP_IPA, DP_PA)).toBe(0);
    expect(rig.hyp.host.readMemory(DP_PA, 1)[0]).toBe(0x77);
  });

  test('after the VM stops, FROM_PROTECTED of any page succeeds', () => {
    const { rig } = rigWith(function* () {
      yield { kind: 'store', addr: DP_IPA, len: 1, value: 1n };
      yield* spinner();
    });
    lend(rig, DP_IPA, DP_PA);
    rig.run(0);
    expect(reclaim(rig, DP_IPA, DP_PA)).toBe(E.ERROR_BUSY);
    rig.hyp.stopVm(GUEST);
    expect(reclaim(rig, DP_IPA, DP_PA)).toBe(0);
    expect(rig.hyp.host.readMemory(DP_PA, 1)[0]).toBe(1);
  });

  test('relinquish argument checks', () => {
    const { rig, log } = rigWith(function* (log) {
      log.push(yield hvc(RELINQUISH, 1n, BigInt(RAM_IPA), BigInt(PAGE), 1n)); // first argument must be 0
      log.push(yield hvc(RELINQUISH, 0n, BigInt(RAM_IPA), BigInt(PAGE), 0b1001n)); // unknown flag
      log.push(yield hvc(RELINQUISH, 0n, BigInt(RAM_IPA + 1), BigInt(PAGE), 1n)); // misaligned
      log.push(yield hvc(RELINQUISH, 0n, BigInt(RAM_IPA), 0n, 1n)); // size 0 without flush
      log.push(yield hvc(RELINQUISH, 0n, 0x7000_0000n, BigInt(PAGE), 1n)); // not mapped
      log.push(yield hvc(RELINQUISH, 0n, BigInt(RAM_IPA), BigInt(2 * PAGE), 0b101n)); // fine
      yield* spinner();
    });
    rig.run(0);
    expect(log).toEqual([1n, 1n, 3n, 2n, 22n, 0n]);
    expect(rig.hyp.vm(GUEST).relinquishedPages).toBe(2);
  });
});
