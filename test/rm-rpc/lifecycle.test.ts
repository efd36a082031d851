// End-to-end: the host's RM client drives the emulated RM through a VM's whole life over the
// in-process message queues (rm-rpc.md §12.1, §12.2, §15.3, §15.4).
import { describe, expect, test } from 'vitest';
import { createEmulator } from '../../src/emulator.js';
import { RmCalls, onVmExited, onVmStatus } from '../../src/rm-rpc/client/index.js';
import { buildTestDtb } from '../../src/conformance/dtb.js';
import { toHex } from '../../src/shared/bytes.js';
import { ResourceType, VmStatus, ExitType } from '../../src/rm-rpc/wire/enums.js';
import type { VmStatusNotif, VmExitedNotif } from '../../src/rm-rpc/wire/notifications.js';
import { RmError } from '../../src/rm-rpc/wire/errors.js';

async function setup() {
  const emu = createEmulator();
  const rm = new RmCalls(emu.rmClient);
  const statuses: VmStatusNotif[] = [];
  const exits: VmExitedNotif[] = [];
  onVmStatus(emu.rmClient, (n) => statuses.push(n));
  onVmExited(emu.rmClient, (n) => exits.push(n));
  return { emu, rm, statuses, exits };
}

async function configured(emu: ReturnType<typeof createEmulator>, rm: RmCalls, cpus = 2) {
  const vmid = await rm.allocVmid();
  const dtb = buildTestDtb({ cpus });
  const handle = await emu.rm.control.seedParcel({ acl: [{ vmid, rights: 6 }], contentsHex: toHex(dtb, '') });
  await rm.vmConfigure({ vmid, authType: 0, imageHandle: handle, imageOffset: 0n, imageSize: 0n, dtOffset: 0n, dtSize: BigInt(dtb.byteLength) });
  return { vmid, handle };
}

const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
};

describe('VM lifecycle through the host RM client', () => {
  test('allocate → configure → init → resources → start → force stop → reset → deallocate', async () => {
    const { emu, rm, statuses, exits } = await setup();
    const { vmid } = await configured(emu, rm);
    expect(vmid).toBe(0x80);
    expect((await rm.vmGetState(vmid)).vmStatus).toBe(VmStatus.INIT);
    await rm.vmInit(vmid);
    expect((await rm.vmGetState(vmid)).vmStatus).toBe(VmStatus.READY);
    await rm.vmSetBootContext(vmid, 1, 0, 0x8000_0000n);
    const res = await rm.getHypResources(vmid);
    const vcpus = res.filter((r) => r.type === ResourceType.VCPU);
    expect(vcpus.map((r) => r.resourceLabel)).toEqual([0, 1]);
    expect(vcpus.every((r) => r.virq >= 960 && r.capId > 0n)).toBe(true);
    expect(res.filter((r) => r.type === ResourceType.MEM_EXTENT).map((r) => r.resourceLabel)).toEqual([0, 1, 2, 3]);
    await rm.vmStart(vmid);
    expect((await rm.vmGetState(vmid)).vmStatus).toBe(VmStatus.RUNNING);
    await rm.vmStop(vmid);
    await waitFor(() => exits.length === 1);
    expect(exits[0]).toMatchObject({ vmid, exitType: ExitType.VM_STOP_FORCED });
    expect(toHex(exits[0]!.exitReason)).toBe('00 00 00 00');
    // VM_STATUS(EXITED) came before VM_EXITED.
    expect(statuses.map((s) => s.vmStatus)).toEqual([VmStatus.INIT, VmStatus.READY, VmStatus.RUNNING, VmStatus.EXITED]);
    await rm.vmReset(vmid);
    await waitFor(() => statuses.some((s) => s.vmStatus === VmStatus.RESET));
    expect(statuses.slice(-2).map((s) => s.vmStatus)).toEqual([VmStatus.RESETTING, VmStatus.RESET]);
    await rm.deallocVmid(vmid);
    expect(emu.rm.inspect().vms).toEqual([]);
    expect(emu.checkInvariants()).toEqual([]);
    expect(emu.hyp.stats().objects).toBe(2); // the host's own RM link queues
    emu.close();
  });

  test('errors come back as RmError with the Linux errno', async () => {
    const { emu, rm } = await setup();
    await expect(rm.vmStart(0x90)).rejects.toMatchObject({ name: 'RmError', errno: 'EINVAL', rmName: 'VMID_INVALID' });
    const vmid = await rm.allocVmid();
    await expect(rm.vmStart(vmid)).rejects.toMatchObject({ rmName: 'VM_STATE', errno: 'EBADMSG' });
    await expect(rm.vmInit(vmid)).rejects.toBeInstanceOf(RmError);
    await rm.deallocVmid(vmid);
    emu.close();
  });

  test('more vCPUs than physical cores fails VM_INIT with NORESOURCE → INIT_FAILED (decisions B6)', async () => {
    const emu = createEmulator({ cpus: 2 });
    const rm = new RmCalls(emu.rmClient);
    const { vmid } = await configured(emu, rm, 3);
    await expect(rm.vmInit(vmid)).rejects.toMatchObject({ rmName: 'NORESOURCE', errno: 'ENODEV' });
    expect((await rm.vmGetState(vmid)).vmStatus).toBe(VmStatus.INIT_FAILED);
    emu.close();
  });
});
