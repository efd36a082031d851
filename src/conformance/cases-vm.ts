/**
 * Conformance cases: VM management without a running guest — VMID allocation, VM_GET_STATE,
 * deallocation, the errors of every message for unknown VMIDs, wrong lengths and wrong states,
 * and the ownership rules (with a started guest as the non-owner caller).
 *
 * Reference: rm-rpc.md §10 (VMID ranges), §11 (callers and lengths), §12.1–§12.2 (layouts and
 * errors), §15 (states). Where the sheet is silent the expectation comes from the real RM
 * (quic/gunyah-resource-manager, 12/2023) and says so next to it:
 *  - src/vm_mgnt/vm_mgnt.c checks the payload length first in every VM management handler
 *    (VM_ALLOCATE after the HLOS check) and answers MSG_INVALID;
 *  - src/vm_creation/vm_creation.c does the same for VM_CONFIG_IMAGE / VM_INIT after the HLOS check;
 *  - src/vm_config/vm_get_resources.c checks `len != 4` first (MSG_INVALID).
 * Inputs that crash the real RM (§17) are never sent: VM_DEALLOCATE of an unknown VMID, an empty
 * VM_IRQ_*, VM_EXIT from HLOS, and VM_RESET of a VM without configuration (which includes a VM
 * in LOAD: src/vm_mgnt/vm_mgnt.c vm_mgnt_handle_reset reads vm->vm_config->trusted_config
 * before checking the state).
 */
import { RmMsgId } from '../rm-rpc/wire/msg-ids.js';
import type { ConformanceCase } from './case.js';
import { check, expectBytes, expectEqual, hx } from './assert.js';
import {
  EMPTY,
  ResourceType,
  VM_STOP_FLAG_FORCE,
  VmStatus,
  Vmid,
  ascii,
  authImageReq,
  configImageReq,
  consoleWriteReq,
  decodeHypResources,
  initReq,
  lenStringReq,
  setFirmwareMemReq,
  setStatusReq,
  setTimeBaseReq,
  stopReq,
  vmidReq,
} from './payloads.js';
import {
  allocateSecondary,
  allocateVm,
  bootGuest,
  configureVm,
  deallocateVm,
  expectStatus,
  getState,
  isVmStatus,
  readyVm,
  seedDtb,
  standardConfig,
} from './vm-helpers.js';

const GROUP = 'vm';

export const VM_CASES: readonly ConformanceCase[] = [
  {
    id: 'vm.allocate-dynamic',
    group: GROUP,
    title: 'VM_ALLOCATE(0) gives the lowest free dynamic VMID (from 0x80) in LOAD, with no notification',
    async run(ctx) {
      const { hlos } = ctx;
      let expected: number | undefined;
      if (ctx.control) {
        const used = new Set((await ctx.control.inspect()).vms.map((v) => v.vmid));
        for (let v = Vmid.DYNAMIC_BASE; v < Vmid.DYNAMIC_END && expected === undefined; v++) if (!used.has(v)) expected = v;
      }
      const a = await allocateVm(ctx);
      check(a >= Vmid.DYNAMIC_BASE && a < Vmid.DYNAMIC_END, `VM_ALLOCATE(0): ${hx(a)} is outside the dynamic range 0x80..0xbe`);
      if (expected !== undefined) expectEqual(a, expected, 'VM_ALLOCATE(0): lowest free dynamic VMID');
      await hlos.probe('VM_ALLOCATE (nothing but its own reply)');
      check(!hlos.pending.some(isVmStatus(a)), `VM_ALLOCATE of ${hx(a)} sent a NOTIFY_VM_STATUS; it must send none`);
      expectEqual(await getState(hlos, a), VmStatus.LOAD, `VM_GET_STATE of a new VM ${hx(a)} (LOAD, os 0, app 0)`);
      const b = await allocateVm(ctx);
      check(b > a && b < Vmid.DYNAMIC_END, `second VM_ALLOCATE(0): expected a dynamic VMID above ${hx(a)}, got ${hx(b)}`);
      await deallocateVm(ctx, a);
      const c = await allocateVm(ctx);
      expectEqual(c, a, 'VM_ALLOCATE(0) after freeing the lowest one');
    },
  },
  {
    id: 'vm.allocate-secondary',
    group: GROUP,
    title: 'VM_ALLOCATE of a free secondary VMID (< 64) gives a standard reply; the same VMID again is NORESOURCE',
    async run(ctx) {
      const vmid = await allocateSecondary(ctx);
      await expectStatus(ctx.hlos, vmid, VmStatus.LOAD, 'after VM_ALLOCATE');
      await ctx.hlos.expect(RmMsgId.VM_ALLOCATE, vmidReq(vmid), 'NORESOURCE', `(${hx(vmid)}) a second time`, 0);
      await deallocateVm(ctx, vmid);
      await ctx.hlos.expect(RmMsgId.VM_GET_STATE, vmidReq(vmid), 'NORESOURCE', `of the freed ${hx(vmid)}`, 0);
    },
  },
  {
    id: 'vm.allocate-refused',
    group: GROUP,
    title: 'VM_ALLOCATE of a VMID ≥ 64, of a dynamic VMID by number, or of HLOS is NORESOURCE',
    async run({ hlos }) {
      for (const vmid of [64, 0x80, 0xbe, 0xff, 0xffff, Vmid.HLOS]) {
        await hlos.expect(RmMsgId.VM_ALLOCATE, vmidReq(vmid), 'NORESOURCE', `(${hx(vmid)})`, 0);
      }
    },
  },
  {
    id: 'vm.get-state',
    group: GROUP,
    title: 'VM_GET_STATE packs vm_state | os_state << 8 | app_status << 16; 0 means the caller; unknown is NORESOURCE',
    async run(ctx) {
      const { hlos } = ctx;
      // HLOS receives VM_STATUS notifications, which go only to RUNNING peers (rm-rpc.md §13): it is RUNNING.
      const self = await getState(hlos, 0);
      expectEqual(self & 0xff, VmStatus.RUNNING, 'VM_GET_STATE(0) from HLOS, vm_state');
      const vmid = await allocateVm(ctx);
      const data = await hlos.ok(RmMsgId.VM_GET_STATE, vmidReq(vmid), `of ${hx(vmid)}`, 4);
      expectBytes(data, [VmStatus.LOAD, 0, 0, 0], `VM_GET_STATE of a new VM ${hx(vmid)}`);
      await hlos.expect(RmMsgId.VM_GET_STATE, vmidReq(Vmid.NEVER), 'NORESOURCE', 'of 0x7f', 0);
    },
  },
  {
    id: 'vm.deallocate',
    group: GROUP,
    title: 'VM_DEALLOCATE frees a VM in LOAD; afterwards the VMID is unknown',
    async run(ctx) {
      const vmid = await allocateVm(ctx);
      await deallocateVm(ctx, vmid);
      await ctx.hlos.expect(RmMsgId.VM_GET_STATE, vmidReq(vmid), 'NORESOURCE', `of the freed ${hx(vmid)}`, 0);
      await ctx.hlos.expect(RmMsgId.VM_START, vmidReq(vmid), 'VMID_INVALID', `of the freed ${hx(vmid)}`, 0);
    },
  },
  {
    id: 'vm.unknown-vmid',
    group: GROUP,
    title: 'messages naming a VMID that is no VM: VMID_INVALID, NORESOURCE or ARGUMENT_INVALID as each handler says',
    async run({ hlos }) {
      const n = Vmid.NEVER;
      await hlos.expect(RmMsgId.VM_START, vmidReq(n), 'VMID_INVALID', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_STOP, stopReq(n, VM_STOP_FLAG_FORCE, 0), 'VMID_INVALID', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_RESET, vmidReq(n), 'VMID_INVALID', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_CONFIG_IMAGE, configImageReq({ vmid: n, authType: 0, handle: 0, imageOffset: 0n, imageSize: 0n, dtOffset: 0n, dtSize: 0x1000n }), 'VMID_INVALID', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_INIT, initReq(n), 'VMID_INVALID', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_AUTH_IMAGE, authImageReq(n), 'VMID_INVALID', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_GET_CRASH_MSG, vmidReq(n), 'VMID_INVALID', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_GET_STATE, vmidReq(n), 'NORESOURCE', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_GET_ID, vmidReq(n), 'NORESOURCE', 'of 0x7f', 0);
      await hlos.expect(RmMsgId.VM_GET_HYP_RESOURCES, vmidReq(n), 'ARGUMENT_INVALID', 'of 0x7f', 0);
      // VMID 0 is not "self" for VM_GET_HYP_RESOURCES.
      await hlos.expect(RmMsgId.VM_GET_HYP_RESOURCES, vmidReq(0), 'ARGUMENT_INVALID', 'of vmid 0', 0);
    },
  },
  {
    id: 'vm.wrong-length',
    group: GROUP,
    title: 'VM management requests of the wrong length are MSG_INVALID',
    async run({ hlos }) {
      // Lengths from rm-rpc.md §11; the length check comes first in each handler
      // (src/vm_mgnt/vm_mgnt.c, src/vm_creation/vm_creation.c, src/vm_config/vm_get_resources.c).
      const cases: Array<[number, Uint8Array, string]> = [
        [RmMsgId.VM_ALLOCATE, EMPTY, '0 bytes'],
        [RmMsgId.VM_ALLOCATE, new Uint8Array(8), '8 bytes'],
        [RmMsgId.VM_DEALLOCATE, new Uint8Array(2), '2 bytes'],
        [RmMsgId.VM_START, new Uint8Array(8), '8 bytes'],
        [RmMsgId.VM_STOP, vmidReq(Vmid.NEVER), '4 bytes'],
        [RmMsgId.VM_RESET, new Uint8Array(8), '8 bytes'],
        [RmMsgId.VM_GET_STATE, new Uint8Array(2), '2 bytes'],
        [RmMsgId.VM_GET_ID, EMPTY, '0 bytes'],
        [RmMsgId.VM_GET_CRASH_MSG, EMPTY, '0 bytes'],
        [RmMsgId.VM_GET_HYP_RESOURCES, EMPTY, '0 bytes'],
        [RmMsgId.VM_GET_VMID, new Uint8Array(4), '4 bytes'],
        [RmMsgId.VM_GET_OWNER, new Uint8Array(4), '4 bytes'],
        [RmMsgId.VM_GET_PEERS, new Uint8Array(4), '4 bytes'],
        [RmMsgId.VM_HOST_GET_TYPE, new Uint8Array(4), '4 bytes'],
        [RmMsgId.VM_CONFIG_IMAGE, new Uint8Array(36), '36 bytes'],
        [RmMsgId.VM_CONFIG_IMAGE, new Uint8Array(44), '44 bytes'],
        [RmMsgId.VM_INIT, new Uint8Array(8), '8 bytes'],
        [RmMsgId.VM_INIT, initReq(Vmid.NEVER, 1), 'with res0 = 1'],
        [RmMsgId.VM_LOOKUP_GUID, new Uint8Array(12), '12 bytes'],
        [RmMsgId.VM_LOOKUP_NAME, lenStringReq(ascii('abc')).subarray(0, 7), 'with a length field of 3 and 3 bytes (no padding)'],
        [RmMsgId.VM_LOOKUP_NAME, lenStringReq(ascii('abc'), 0x5a), 'with non-zero padding'],
        [RmMsgId.VM_SET_CRASH_MSG, new Uint8Array(3), '3 bytes'],
      ];
      for (const [id, payload, what] of cases) await hlos.expect(id, payload, 'MSG_INVALID', what, 0);
    },
  },
  {
    id: 'vm.load-state-errors',
    group: GROUP,
    title: 'a VM in LOAD refuses VM_START, VM_STOP, VM_INIT, VM_AUTH_IMAGE and VM_GET_ID (VM_STATE) and has no resources yet',
    async run(ctx) {
      const { hlos } = ctx;
      const vmid = await allocateVm(ctx);
      const of = `of ${hx(vmid)} in LOAD`;
      await hlos.expect(RmMsgId.VM_START, vmidReq(vmid), 'VM_STATE', of, 0);
      await hlos.expect(RmMsgId.VM_STOP, stopReq(vmid, VM_STOP_FLAG_FORCE, 0), 'VM_STATE', of, 0);
      await hlos.expect(RmMsgId.VM_STOP, stopReq(vmid, 0, 0), 'VM_STATE', `${of} (no FORCE)`, 0);
      await hlos.expect(RmMsgId.VM_INIT, initReq(vmid), 'VM_STATE', of, 0);
      await hlos.expect(RmMsgId.VM_AUTH_IMAGE, authImageReq(vmid), 'VM_STATE', of, 0);
      await hlos.expect(RmMsgId.VM_GET_ID, vmidReq(vmid), 'VM_STATE', of, 0);
      await hlos.expect(RmMsgId.VM_GET_HYP_RESOURCES, vmidReq(vmid), 'NORESOURCE', `${of} (no configuration yet)`, 0);
      // The owner may read the crash message: none yet. Reply: u16 len 0, u16 0 (src/vm_mgnt/vm_mgnt.c
      // vm_mgnt_handle_get_crash_msg sends 8 + align4(len) bytes including err_code).
      const crash = await hlos.ok(RmMsgId.VM_GET_CRASH_MSG, vmidReq(vmid), of, 4);
      expectBytes(crash, [0, 0, 0, 0], `VM_GET_CRASH_MSG ${of}`);
      await expectStatus(hlos, vmid, VmStatus.LOAD, 'after the refused requests');
    },
  },
  {
    id: 'vm.set-time-base-errors',
    group: GROUP,
    title: 'VM_SET_TIME_BASE error replies carry a u32 hypervisor error after the RM error (8 bytes of body)',
    async run(ctx) {
      const { hlos } = ctx;
      // The hypervisor error is ERROR_ARGUMENT_INVALID (1) whenever no hypercall was made:
      // src/vm_mgnt/vm_mgnt.c vm_mgnt_handle_set_time_base initialises hvc_err to it and
      // replies with rm_reply_error(..., &hvc_err, 4) on every failure.
      const hyp1 = [1, 0, 0, 0];
      let r = await hlos.expect(RmMsgId.VM_SET_TIME_BASE, new Uint8Array(19), 'MSG_INVALID', '19 bytes', 4);
      expectBytes(r.data, hyp1, 'VM_SET_TIME_BASE (19 bytes) hypervisor error');
      r = await hlos.expect(RmMsgId.VM_SET_TIME_BASE, setTimeBaseReq(Vmid.NEVER, 1n, 2n), 'NORESOURCE', 'of 0x7f', 4);
      expectBytes(r.data, hyp1, 'VM_SET_TIME_BASE (0x7f) hypervisor error');
      const vmid = await allocateVm(ctx);
      r = await hlos.expect(RmMsgId.VM_SET_TIME_BASE, setTimeBaseReq(vmid, 1n, 2n), 'VM_STATE', `of ${hx(vmid)} in LOAD`, 4);
      expectBytes(r.data, hyp1, 'VM_SET_TIME_BASE (LOAD) hypervisor error');
      check(r.frames[0]!.byteLength === 16, `VM_SET_TIME_BASE error reply: expected a 16-byte frame, got ${r.frames[0]!.byteLength}`);
    },
  },
  {
    id: 'vm.secondary-only-calls',
    group: GROUP,
    title: 'VM_SET_STATUS from HLOS (not a secondary VMID) is DENIED',
    async run({ hlos }) {
      await hlos.expect(RmMsgId.VM_SET_STATUS, setStatusReq(4, 0), 'DENIED', 'from HLOS', 0);
      await hlos.expect(RmMsgId.VM_SET_STATUS, EMPTY, 'DENIED', 'from HLOS, 0 bytes (caller checked before the length)', 0);
    },
  },
  {
    id: 'vm.ownership',
    group: GROUP,
    title: "a VM other than the owner gets DENIED / VMID_INVALID / NORESOURCE per message, and the VM is unchanged",
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const { guest, vmid: g } = await bootGuest(ctx);
      const { vmid: x } = await readyVm(ctx);
      const of = `of ${hx(x)} (READY, owned by HLOS) from ${hx(g)}`;
      await guest.expect(RmMsgId.VM_ALLOCATE, vmidReq(0), 'DENIED', `from ${hx(g)}`, 0);
      await guest.expect(RmMsgId.VM_DEALLOCATE, vmidReq(x), 'DENIED', of, 0);
      await guest.expect(RmMsgId.VM_START, vmidReq(x), 'DENIED', of, 0);
      await guest.expect(RmMsgId.VM_STOP, stopReq(x, VM_STOP_FLAG_FORCE, 0), 'VMID_INVALID', of, 0);
      await guest.expect(RmMsgId.VM_RESET, vmidReq(x), 'VMID_INVALID', of, 0);
      await guest.expect(RmMsgId.VM_CONFIG_IMAGE, standardConfig(x, { handle: 0, size: 0x1000 }), 'DENIED', of, 0);
      await guest.expect(RmMsgId.VM_INIT, initReq(x), 'DENIED', of, 0);
      await guest.expect(RmMsgId.VM_AUTH_IMAGE, authImageReq(x), 'DENIED', of, 0);
      await guest.expect(RmMsgId.VM_GET_STATE, vmidReq(x), 'DENIED', of, 0);
      await guest.expect(RmMsgId.VM_GET_ID, vmidReq(x), 'NORESOURCE', of, 0);
      await guest.expect(RmMsgId.VM_GET_CRASH_MSG, vmidReq(x), 'VMID_INVALID', of, 0);
      await guest.expect(RmMsgId.VM_GET_CRASH_MSG, vmidReq(g), 'VMID_INVALID', `of itself (${hx(g)}; owner only)`, 0);
      const tb = await guest.expect(RmMsgId.VM_SET_TIME_BASE, setTimeBaseReq(x, 1n, 2n), 'DENIED', of, 4);
      expectBytes(tb.data, [1, 0, 0, 0], 'VM_SET_TIME_BASE (not query-allowed) hypervisor error');
      // rm-rpc.md §12.1: VM_SET_FIRMWARE_MEM error replies carry a hypervisor error that is always 1.
      const fw = await guest.expect(RmMsgId.VM_SET_FIRMWARE_MEM, setFirmwareMemReq(x, 0, 0n, 0x1000n), 'DENIED', of, 4);
      expectBytes(fw.data, [1, 0, 0, 0], 'VM_SET_FIRMWARE_MEM (not query-allowed) hypervisor error');
      await guest.expect(RmMsgId.VM_CONSOLE_OPEN, vmidReq(x), 'DENIED', of, 0);
      await guest.expect(RmMsgId.VM_CONSOLE_WRITE, consoleWriteReq(x, ascii('hi')), 'DENIED', of, 0);
      // Any VM may ask for resources, but vCPU entries go to the owner only (rm-rpc.md §12.4).
      const res = await guest.ok(RmMsgId.VM_GET_HYP_RESOURCES, vmidReq(x), of);
      const vcpus = decodeHypResources(res).filter((e) => e.type === ResourceType.VCPU);
      expectEqual(vcpus.length, 0, `VCPU entries in VM_GET_HYP_RESOURCES ${of}`);
      // Nothing changed.
      await expectStatus(hlos, x, VmStatus.READY, 'after the refused requests');
      await expectStatus(hlos, g, VmStatus.RUNNING, 'after the refused requests');
    },
  },
  {
    id: 'vm.deallocate-wrong-state',
    group: GROUP,
    title: 'VM_DEALLOCATE of a VM in INIT, READY or RUNNING is VM_STATE',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const vmid = await allocateVm(ctx);
      const parcel = await seedDtb(ctx, vmid);
      await configureVm(ctx, vmid, parcel);
      await hlos.expect(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), 'VM_STATE', `of ${hx(vmid)} in INIT`, 0);
      await hlos.ok(RmMsgId.VM_INIT, initReq(vmid), `of ${hx(vmid)}`, 0);
      await hlos.expect(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), 'VM_STATE', `of ${hx(vmid)} in READY`, 0);
      await hlos.ok(RmMsgId.VM_START, vmidReq(vmid), `of ${hx(vmid)}`, 0);
      await hlos.expect(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), 'VM_STATE', `of ${hx(vmid)} in RUNNING`, 0);
      await expectStatus(hlos, vmid, VmStatus.RUNNING, 'after the refused VM_DEALLOCATE');
    },
  },
];
