// Guest-caused exits reach the VM's owner: a guest's PSCI SYSTEM_OFF (or a vCPU crash) makes
// the hypervisor report a 'vm-exit', which the RM turns into EXITED, VM_STATUS and VM_EXITED
// (rm-rpc.md §15.3, §15.5); VM_START starts the boot vCPU and VM_STOP stops every vCPU
// (hypervisor.md §6). Drives the RM over the host's RM client on its own hypervisor, with a
// fake guest engine injected (no dependency on the guest engines).
import { describe, expect, test } from 'vitest';
import type { GuestCpu, GuestThread } from '../../src/guest/api.js';
import { Hypervisor } from '../../src/hyp/hypervisor.js';
import { VcpuRunState as S } from '../../src/hyp/host-api.js';
import { createRmServer } from '../../src/rm-rpc/server/rm-server.js';
import { createRmClient, RmCalls, onVmExited, onVmStatus } from '../../src/rm-rpc/client/index.js';
import { buildTestDtb } from '../../src/conformance/dtb.js';
import { toHex } from '../../src/shared/bytes.js';
import { ExitType, ResourceType, VmStatus } from '../../src/rm-rpc/wire/enums.js';
import type { VmExitedNotif, VmStatusNotif } from '../../src/rm-rpc/wire/notifications.js';
import { HypErrorCode } from '../../src/shared/hyp-errors.js';

type Engine = (cpu: GuestCpu) => GuestThread;

async function setup(engine: Engine) {
  const booted: GuestCpu[] = [];
  const hyp = new Hypervisor({
    cpus: 8,
    bootGuest: (cpu) => {
      booted.push(cpu);
      return engine(cpu);
    },
  });
  const server = createRmServer({ hyp });
  const client = createRmClient({ transport: server.vmEndpoint(3)! });
  const rm = new RmCalls(client);
  const exits: VmExitedNotif[] = [];
  const statuses: VmStatusNotif[] = [];
  onVmExited(client, (n) => exits.push(n));
  onVmStatus(client, (n) => statuses.push(n));

  const vmid = await rm.allocVmid();
  const dtb = buildTestDtb({ cpus: 2 });
  const handle = await server.control.seedParcel({ acl: [{ vmid, rights: 6 }], contentsHex: toHex(dtb, '') });
  await rm.vmConfigure({ vmid, authType: 0, imageHandle: handle, imageOffset: 0n, imageSize: 0n, dtOffset: 0n, dtSize: BigInt(dtb.byteLength) });
  await rm.vmInit(vmid);
  await rm.vmSetBootContext(vmid, 1, 0, 0x8000_0000n); // PC
  await rm.vmSetBootContext(vmid, 0, 0, 0x77n); // X0
  const res = await rm.getHypResources(vmid);
  const vcpus = res.filter((r) => r.type === ResourceType.VCPU).sort((a, b) => a.resourceLabel - b.resourceLabel);
  const woken: number[] = [];
  vcpus.forEach((r, i) => hyp.host.onVirq(r.virq, () => woken.push(i)));
  const run = (i: number) => hyp.host.vcpuRun(vcpus[i]!.capId, 0n, 0n, 0n);
  const close = () => {
    client.close();
    server.close();
  };
  return { hyp, server, rm, vmid, exits, statuses, booted, woken, run, close };
}

const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
};

describe('guest-caused VM exits through the RM', () => {
  test('PSCI SYSTEM_OFF → VM_STATUS(EXITED), then VM_EXITED type 1 (PLATFORM_OFF) with reason word 0', async () => {
    const t = await setup(function* () {
      yield { kind: 'hvc', fn: 0x8400_0008, args: [] };
    });
    await t.rm.vmStart(t.vmid);
    expect(t.woken).toEqual([0]); // the boot vCPU's wakeup vIRQ on power-on
    expect(t.run(1)).toMatchObject({ error: 0, state: S.POWERED_OFF, data0: 0n }); // secondary: off
    expect(t.run(0)).toMatchObject({ error: 0, state: S.POWERED_OFF, data0: 1n });
    expect(t.booted.map((c) => [c.index, c.entry, c.context])).toEqual([[0, 0x8000_0000, 0x77n]]);
    await waitFor(() => t.exits.length === 1);
    expect(t.exits[0]).toMatchObject({ vmid: t.vmid, exitType: ExitType.PLATFORM_OFF });
    expect(toHex(t.exits[0]!.exitReason)).toBe('00 00 00 00');
    expect(t.statuses.map((s) => s.vmStatus).slice(-2)).toEqual([VmStatus.RUNNING, VmStatus.EXITED]);
    expect((await t.rm.vmGetState(t.vmid)).vmStatus).toBe(VmStatus.EXITED);
    expect(t.run(1)).toMatchObject({ state: S.POWERED_OFF, data0: 1n });
    expect(t.server.checkInvariants()).toEqual([]);
    t.close();
  });

  test('a vCPU crash → VM_EXITED type 5 (SOFTWARE_ERROR); every vCPU then reports exited', async () => {
    const t = await setup(function* () {
      yield { kind: 'spin' };
      throw new Error('guest crashed');
    });
    await t.rm.vmStart(t.vmid);
    expect(t.run(0)).toMatchObject({ state: S.READY });
    expect(t.run(0)).toMatchObject({ state: S.FAULT });
    await waitFor(() => t.exits.length === 1);
    expect(t.exits[0]).toMatchObject({ vmid: t.vmid, exitType: ExitType.SOFTWARE_ERROR });
    expect(t.run(1)).toMatchObject({ state: S.POWERED_OFF, data0: 1n });
    t.close();
  });

  test('PSCI SYSTEM_RESET2 → VM_EXITED type 3 with reset type and cookie words', async () => {
    const t = await setup(function* () {
      yield { kind: 'hvc', fn: 0xc400_0012, args: [0x8000_0000n, 0x2_0000_0001n] };
    });
    await t.rm.vmStart(t.vmid);
    expect(t.run(0)).toMatchObject({ state: S.PSCI_SYSTEM_RESET, data0: 0x8000_0000n | (1n << 62n), data1: 0x2_0000_0001n });
    await waitFor(() => t.exits.length === 1);
    expect(t.exits[0]).toMatchObject({ exitType: ExitType.PSCI_SYSTEM_RESET2 });
    expect(toHex(t.exits[0]!.exitReason)).toBe('00 80 00 00 00 00 00 80 01 00 00 00 02 00 00 00');
    t.close();
  });

  test('VM_STOP stops every vCPU (exited, woken) and a second guest report is dropped', async () => {
    const t = await setup(function* () {
      for (;;) yield { kind: 'wfi' };
    });
    await t.rm.vmStart(t.vmid);
    expect(t.run(0)).toMatchObject({ state: S.EXPECTS_WAKEUP });
    t.woken.length = 0;
    await t.rm.vmStop(t.vmid);
    await waitFor(() => t.exits.length === 1);
    expect(t.exits[0]).toMatchObject({ exitType: ExitType.VM_STOP_FORCED });
    expect(t.woken).toEqual([0, 1]);
    expect(t.run(0)).toMatchObject({ state: S.POWERED_OFF, data0: 1n });
    t.hyp.events.emit('vm-exit', t.vmid, 1, [0]);
    await new Promise((r) => setImmediate(r));
    expect(t.exits).toHaveLength(1);
    // Reset: the vCPU objects go, and so do the host's capabilities to them.
    await t.rm.vmReset(t.vmid);
    await waitFor(() => t.statuses.some((s) => s.vmStatus === VmStatus.RESET));
    expect(t.run(0)).toMatchObject({ error: HypErrorCode.ERROR_CSPACE_CAP_NULL });
    expect(t.hyp.findVm(t.vmid)).toBeUndefined();
    t.close();
  });
});
