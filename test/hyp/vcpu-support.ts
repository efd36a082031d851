/**
 * Test support for the vCPU / doorbell / host-hypercall tests: a hypervisor with a fake guest
 * engine injected (no dependency on src/guest engines), one guest VM with N vCPUs whose host
 * capabilities and wakeup vIRQs are set up as the RM does (hypervisor.md §6, §9.3, §10), guest
 * RAM donated from the host and mapped RWX at 0x8000_0000, and the demand-paging objects
 * (address space label 0, extents labels 0..3) with host capabilities.
 */
import type { GuestCpu, GuestThread } from '../../src/guest/api.js';
import { Hypervisor, type HypObject } from '../../src/hyp/hypervisor.js';
import type { VcpuRunResult } from '../../src/hyp/host-api.js';
import { Access } from '../../src/hyp/memory/api.js';
import { FaultInjector, type FaultPlan } from '../../src/shared/faults.js';

export const HOST = 3;
export const GUEST = 0x80;
export const PAGE = 4096;
/** Guest RAM: IPA 0x8000_0000, backed by host PAs from 0x9000_0000 (16 pages). */
export const RAM_IPA = 0x8000_0000;
export const RAM_PA = 0x9000_0000;
export const RAM_SIZE = 16 * PAGE;
/** Host pages used for demand paging (never part of the guest RAM above). */
export const DP_PA = 0xa000_0000;
/** A demand-paging range of the guest. */
export const DP_IPA = 0x1_0000_0000;
export const DP_SIZE = 0x10_0000;

/** Per-vCPU guest engine factory: receives the GuestCpu, returns the generator. */
export type FakeGuest = (cpu: GuestCpu) => GuestThread;

export interface Rig {
  readonly hyp: Hypervisor;
  readonly vcpus: HypObject[];
  /** Host capids of the vCPUs (rights AFFINITY | YIELD_TO). */
  readonly caps: bigint[];
  /** Host wakeup vIRQ of each vCPU. */
  readonly wakeVirqs: number[];
  /** Indices of vCPUs whose wakeup vIRQ fired, in order. */
  readonly woken: number[];
  /** The guest's RAM extent. */
  readonly guestExtent: number;
  /** Demand-paging objects and the host's caps to them. */
  readonly dp: { asCap: bigint; extentCaps: bigint[]; guestPrivate: number };
  /** 'vm-exit' events. */
  readonly exits: Array<{ vmid: number; exitType: number; words: number[] }>;
  run(i: number, r0?: bigint, r1?: bigint, r2?: bigint): VcpuRunResult;
}

export interface RigOptions {
  readonly vcpus?: number;
  readonly budget?: number;
  readonly faults?: FaultPlan;
  /** Start the VM (boot vCPU 0 at RAM_IPA) — default true. */
  readonly start?: boolean;
  /** Engine of each vCPU (by index); the default engine spins. */
  readonly guest: FakeGuest | ((cpu: GuestCpu) => GuestThread);
}

/** The default engine: spin forever. */
export function* spinner(): GuestThread {
  for (;;) yield { kind: 'spin' };
}

export function makeRig(o: RigOptions): Rig {
  const hyp = new Hypervisor({
    cpus: 8,
    bootGuest: o.guest,
    ...(o.budget !== undefined ? { vcpuRunBudget: o.budget } : {}),
    ...(o.faults ? { faults: new FaultInjector(o.faults) } : {}),
  });
  const n = o.vcpus ?? 2;
  const vcpus: HypObject[] = [];
  const caps: bigint[] = [];
  const wakeVirqs: number[] = [];
  const woken: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = hyp.createObject('vcpu', GUEST, { affinityIndex: i, mpidr: BigInt(i) });
    vcpus.push(v);
    caps.push(hyp.grantCap(HOST, v, 0x12));
    const virq = hyp.allocVirq(HOST);
    wakeVirqs.push(virq);
    hyp.bindVcpuWakeup(v, HOST, virq);
    hyp.host.onVirq(virq, () => woken.push(i));
  }
  const guestExtent = hyp.memory.createExtent(GUEST, 'guest-ram');
  hyp.memory.donate(hyp.hostExtent, guestExtent, RAM_PA, RAM_SIZE);
  hyp.memory.map(GUEST, guestExtent, RAM_IPA, RAM_PA, RAM_SIZE, Access.RWX);

  const as = hyp.createObject('addrspace', GUEST);
  const asCap = hyp.grantCap(HOST, as, 0x7);
  const guestPrivate = hyp.memory.createExtent(GUEST, 'guest-private');
  const extentCaps: bigint[] = [];
  for (let label = 0; label < 4; label++) {
    const me = hyp.createObject('memextent', GUEST, { label, extent: label === 0 ? guestPrivate : hyp.hostExtent });
    extentCaps.push(hyp.grantCap(HOST, me, 0x1f));
  }
  hyp.setDemandPaging(GUEST, [{ base: BigInt(DP_IPA), size: BigInt(DP_SIZE) }]);

  const exits: Rig['exits'] = [];
  hyp.events.on('vm-exit', (vmid, exitType, words) => exits.push({ vmid, exitType, words }));
  if (o.start !== false) hyp.startVm(GUEST, { bootRegs: new Map([[0x100, BigInt(RAM_IPA)], [0x000, 0x1234n]]) });
  return {
    hyp,
    vcpus,
    caps,
    wakeVirqs,
    woken,
    guestExtent,
    dp: { asCap, extentCaps, guestPrivate },
    exits,
    run: (i, r0 = 0n, r1 = 0n, r2 = 0n) => hyp.host.vcpuRun(caps[i]!, r0, r1, r2),
  };
}

/** A run result with only the fields that matter, bigints kept. */
export function st(state: number, data0 = 0n, data1 = 0n, data2 = 0n): VcpuRunResult {
  return { error: 0, state, data0, data1, data2 };
}

/** Error-only run result. */
export function err(code: number): VcpuRunResult {
  return { error: code, state: 0, data0: 0n, data1: 0n, data2: 0n };
}

export const U64 = (1n << 64n) - 1n;
/** A signed value as the u64 X0 holds it. */
export const u64 = (v: number | bigint): bigint => BigInt.asUintN(64, BigInt(v));
