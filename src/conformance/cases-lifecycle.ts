/**
 * Conformance cases: a VM's whole life with a platform-seeded DTB parcel, and the errors of
 * VM_CONFIG_IMAGE.
 *
 * Reference: rm-rpc.md §12.1–§12.2 (VM_CONFIG_IMAGE, VM_INIT, VM_START, VM_STOP, VM_RESET,
 * VM_DEALLOCATE), §12.4 (resources), §13 (NOTIFY_VM_STATUS, NOTIFY_VM_SHUTDOWN,
 * NOTIFY_VM_EXITED layouts), §15 (states, transitions, exit types). Decisions where the sheet
 * says "not fully verified" (§15.3), from quic/gunyah-resource-manager (12/2023):
 *  - VM_INIT sends NOTIFY_VM_STATUS(READY) (src/vm_creation/vm_creation.c
 *    vm_creation_handle_init → vm_mgnt_send_state), and VM_START sends
 *    NOTIFY_VM_STATUS(RUNNING) (src/vm_mgnt/vm_mgnt.c vm_mgnt_handle_start →
 *    vm_mgnt_update_vm_state, which always notifies);
 *  - VM_STOP without FORCE sends no NOTIFY_VM_STATUS (vm_mgnt_handle_stop only notifies the
 *    target);
 *  - a second VM_CONFIG_IMAGE outside LOAD/RESET is VM_STATE and changes nothing (the state
 *    check precedes vm_creation_config_image);
 *  - the config-image failures checked here all happen before the RM keeps a configuration
 *    (src/vm_creation/vm_creation.c vm_creation_config_image: parcel lookup, ranges, then auth
 *    type after which the configuration is freed again), so the VM stays in INIT_FAILED for
 *    good: VM_DEALLOCATE needs LOAD or RESET and VM_RESET would crash the real RM (§17 #5).
 *    Each such case therefore leaves one VMID behind, and says so in its result line.
 */
import { RmMsgId, RmNotifId } from '../rm-rpc/wire/msg-ids.js';
import type { ConformanceCase } from './case.js';
import { check, expectBytes, expectEqual, hx } from './assert.js';
import {
  AuthType,
  ExitType,
  ResourceType,
  VM_STOP_FLAG_FORCE,
  VmStatus,
  configImageReq,
  decodeHypResources,
  initReq,
  stopReq,
  vmExitedBytes,
  vmStatusBytes,
  vmidReq,
} from './payloads.js';
import {
  allocateVm,
  expectExitNotifications,
  expectStatus,
  isVmStatus,
  readyVm,
  seedDtb,
  standardConfig,
  type SeededParcel,
} from './vm-helpers.js';
import type { CaseContext } from './case.js';

const GROUP = 'lifecycle';

/** VM_CONFIG_IMAGE that must fail with `err`, leaving the VM in INIT_FAILED with a notification. */
async function expectConfigFailure(ctx: CaseContext, vmid: number, req: Uint8Array, err: 'ARGUMENT_INVALID' | 'MEM_INVALID', what: string): Promise<void> {
  const { hlos } = ctx;
  await hlos.expect(RmMsgId.VM_CONFIG_IMAGE, req, err, what, 0);
  const n = await hlos.notification(isVmStatus(vmid), `NOTIFY_VM_STATUS(${hx(vmid)}) after a failed VM_CONFIG_IMAGE (${what})`);
  expectBytes(n.data, vmStatusBytes(vmid, VmStatus.INIT_FAILED), `NOTIFY_VM_STATUS after VM_CONFIG_IMAGE ${what}`);
  await expectStatus(hlos, vmid, VmStatus.INIT_FAILED, `after VM_CONFIG_IMAGE ${what}`);
  await hlos.expect(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), 'VM_STATE', `of ${hx(vmid)} in INIT_FAILED`, 0);
  await hlos.expect(RmMsgId.VM_CONFIG_IMAGE, req, 'VM_STATE', `again on ${hx(vmid)} in INIT_FAILED`, 0);
}

/** The standard config request with some fields replaced. */
function configWith(vmid: number, p: SeededParcel, o: { authType?: number; dtSize?: bigint; dtOffset?: bigint; imageOffset?: bigint; imageSize?: bigint }): Uint8Array {
  return configImageReq({
    vmid,
    authType: o.authType ?? AuthType.NONE,
    handle: p.handle,
    imageOffset: o.imageOffset ?? 0n,
    imageSize: o.imageSize ?? 0n,
    dtOffset: o.dtOffset ?? 0n,
    dtSize: o.dtSize ?? BigInt(p.size),
  });
}

export const LIFECYCLE_CASES: readonly ConformanceCase[] = [
  {
    id: 'lifecycle.full',
    group: GROUP,
    title: 'LOAD → INIT → READY → RUNNING → stop → EXITED → RESET → freed, with every notification',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const vmid = await allocateVm(ctx);
      const p = await seedDtb(ctx, vmid);
      const of = `of ${hx(vmid)}`;

      // VM_CONFIG_IMAGE: LOAD → INIT, NOTIFY_VM_STATUS to the owner.
      await hlos.ok(RmMsgId.VM_CONFIG_IMAGE, standardConfig(vmid, p), of, 0);
      ctx.trackVm(vmid).configured = true;
      let n = await hlos.notification(isVmStatus(vmid), `NOTIFY_VM_STATUS(${hx(vmid)}) after VM_CONFIG_IMAGE`);
      expectBytes(n.data, vmStatusBytes(vmid, VmStatus.INIT), 'NOTIFY_VM_STATUS after VM_CONFIG_IMAGE');
      await expectStatus(hlos, vmid, VmStatus.INIT, 'after VM_CONFIG_IMAGE');
      await hlos.expect(RmMsgId.VM_CONFIG_IMAGE, standardConfig(vmid, p), 'VM_STATE', `${of} in INIT`, 0);
      await hlos.expect(RmMsgId.VM_START, vmidReq(vmid), 'VM_STATE', `${of} in INIT`, 0);
      await expectStatus(hlos, vmid, VmStatus.INIT, 'after the refused requests');

      // VM_INIT: INIT → READY.
      await hlos.ok(RmMsgId.VM_INIT, initReq(vmid), of, 0);
      n = await hlos.notification(isVmStatus(vmid, VmStatus.READY), `NOTIFY_VM_STATUS(${hx(vmid)}, READY) after VM_INIT`);
      expectBytes(n.data, vmStatusBytes(vmid, VmStatus.READY), 'NOTIFY_VM_STATUS after VM_INIT');
      await expectStatus(hlos, vmid, VmStatus.READY, 'after VM_INIT');
      await hlos.expect(RmMsgId.VM_INIT, initReq(vmid), 'VM_STATE', `${of} in READY`, 0);

      // Resources: one VCPU entry per cpu node, labelled with its affinity index; handles 0.
      const res = decodeHypResources(await hlos.ok(RmMsgId.VM_GET_HYP_RESOURCES, vmidReq(vmid), of));
      const labels = res.filter((e) => e.type === ResourceType.VCPU).map((e) => e.label).sort((a, b) => a - b);
      check(labels.length === 2 && labels[0] === 0 && labels[1] === 1, `VM_GET_HYP_RESOURCES ${of}: expected VCPU entries labelled 0 and 1, got [${labels.join(', ')}]`);
      for (const e of res) {
        expectEqual(e.handle, 0, `resource_handle of a type-${e.type} entry`);
        expectEqual(e.virqHandle, 0, `virq_handle of a type-${e.type} entry`);
      }

      // VM_START: READY → RUNNING.
      await hlos.ok(RmMsgId.VM_START, vmidReq(vmid), of, 0);
      n = await hlos.notification(isVmStatus(vmid, VmStatus.RUNNING), `NOTIFY_VM_STATUS(${hx(vmid)}, RUNNING) after VM_START`);
      expectBytes(n.data, vmStatusBytes(vmid, VmStatus.RUNNING), 'NOTIFY_VM_STATUS after VM_START');
      await expectStatus(hlos, vmid, VmStatus.RUNNING, 'after VM_START');
      await hlos.expect(RmMsgId.VM_START, vmidReq(vmid), 'VM_STATE', `${of} in RUNNING`, 0);

      // VM_STOP without FORCE: OK, NOTIFY_VM_SHUTDOWN(stop_reason) to the VM itself, state unchanged.
      const guest = await ctx.open(vmid);
      hlos.discard(isVmStatus(vmid));
      await hlos.ok(RmMsgId.VM_STOP, stopReq(vmid, 0, 0x1234_5678), `${of} without FORCE`, 0);
      const sd = await guest.notification((m) => m.msgId === RmNotifId.NOTIFY_VM_SHUTDOWN, 'NOTIFY_VM_SHUTDOWN after VM_STOP without FORCE');
      expectBytes(sd.data, [0x78, 0x56, 0x34, 0x12], 'NOTIFY_VM_SHUTDOWN payload (u32 stop_reason)');
      await hlos.probe('VM_STOP without FORCE (no notification to the owner)');
      check(!hlos.pending.some(isVmStatus(vmid)), `VM_STOP without FORCE sent a NOTIFY_VM_STATUS about ${hx(vmid)} to the owner`);
      await expectStatus(hlos, vmid, VmStatus.RUNNING, 'after VM_STOP without FORCE');
      await guest.close();

      // VM_STOP with FORCE: EXITED; VM_STATUS before VM_EXITED(type 7, code NORMAL, one word 0).
      await hlos.ok(RmMsgId.VM_STOP, stopReq(vmid, VM_STOP_FLAG_FORCE, 3), `${of} with FORCE`, 0);
      await expectExitNotifications(hlos, vmid, vmStatusBytes(vmid, VmStatus.EXITED), vmExitedBytes(vmid, ExitType.VM_STOP_FORCED, [0]), 'after VM_STOP with FORCE');
      await expectStatus(hlos, vmid, VmStatus.EXITED, 'after VM_STOP with FORCE');
      await hlos.expect(RmMsgId.VM_STOP, stopReq(vmid, VM_STOP_FLAG_FORCE, 3), 'VM_STATE', `${of} in EXITED`, 0);
      await hlos.expect(RmMsgId.VM_START, vmidReq(vmid), 'VM_STATE', `${of} in EXITED`, 0);
      await hlos.expect(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), 'VM_STATE', `${of} in EXITED`, 0);

      // VM_RESET: OK at once, then NOTIFY_VM_STATUS(RESET).
      hlos.discard(isVmStatus(vmid));
      await hlos.ok(RmMsgId.VM_RESET, vmidReq(vmid), of, 0);
      n = await hlos.notification(isVmStatus(vmid, VmStatus.RESET), `NOTIFY_VM_STATUS(${hx(vmid)}, RESET) after VM_RESET`, 10_000);
      expectBytes(n.data, vmStatusBytes(vmid, VmStatus.RESET), 'NOTIFY_VM_STATUS after the reset completed');
      await expectStatus(hlos, vmid, VmStatus.RESET, 'after the RESET notification');

      // VM_DEALLOCATE from RESET.
      await hlos.ok(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), of, 0);
      ctx.forgetVm(vmid);
      await hlos.expect(RmMsgId.VM_GET_STATE, vmidReq(vmid), 'NORESOURCE', `of the freed ${hx(vmid)}`, 0);
    },
  },
  {
    id: 'lifecycle.reset-from-ready',
    group: GROUP,
    title: 'VM_RESET of a READY VM: OK, NOTIFY_VM_STATUS(RESET), then VM_DEALLOCATE',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const { vmid } = await readyVm(ctx);
      hlos.discard(isVmStatus(vmid));
      await hlos.ok(RmMsgId.VM_RESET, vmidReq(vmid), `of ${hx(vmid)} in READY`, 0);
      const n = await hlos.notification(isVmStatus(vmid, VmStatus.RESET), `NOTIFY_VM_STATUS(${hx(vmid)}, RESET)`, 10_000);
      expectBytes(n.data, vmStatusBytes(vmid, VmStatus.RESET), 'NOTIFY_VM_STATUS after the reset completed');
      // Not sent: VM_RESET of a VM in RESET. Its configuration is gone by then and the real RM
      // reads it before checking the state (src/vm_mgnt/vm_mgnt.c vm_mgnt_handle_reset).
      await expectStatus(hlos, vmid, VmStatus.RESET, 'after the RESET notification');
      await hlos.ok(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), `of ${hx(vmid)}`, 0);
      ctx.forgetVm(vmid);
    },
  },
  {
    id: 'lifecycle.config-bad-auth-type',
    group: GROUP,
    title: 'VM_CONFIG_IMAGE with auth_type 3 is ARGUMENT_INVALID and sets INIT_FAILED (with NOTIFY_VM_STATUS)',
    needs: ['control'],
    async run(ctx) {
      const vmid = await allocateVm(ctx);
      const p = await seedDtb(ctx, vmid);
      await expectConfigFailure(ctx, vmid, configWith(vmid, p, { authType: 3 }), 'ARGUMENT_INVALID', 'with auth_type 3');
    },
  },
  {
    id: 'lifecycle.config-range-outside-parcel',
    group: GROUP,
    title: 'VM_CONFIG_IMAGE with a DT range past the end of the parcel is ARGUMENT_INVALID and sets INIT_FAILED',
    needs: ['control'],
    async run(ctx) {
      const vmid = await allocateVm(ctx);
      const p = await seedDtb(ctx, vmid);
      await expectConfigFailure(ctx, vmid, configWith(vmid, p, { dtSize: BigInt(p.size) + 0x1000n }), 'ARGUMENT_INVALID', 'with dt_size = parcel size + 4 KiB');
    },
  },
  {
    id: 'lifecycle.config-acl-without-target',
    group: GROUP,
    title: "VM_CONFIG_IMAGE naming a parcel whose ACL lacks the VM is MEM_INVALID and sets INIT_FAILED",
    needs: ['control'],
    async run(ctx) {
      const vmid = await allocateVm(ctx);
      const p = await seedDtb(ctx, vmid, {}, [{ vmid: 3, rights: 6 }]);
      await expectConfigFailure(ctx, vmid, configWith(vmid, p, {}), 'MEM_INVALID', 'with a parcel shared with HLOS only');
    },
  },
];
