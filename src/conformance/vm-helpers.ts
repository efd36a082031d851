/**
 * VM set-up and tear-down steps shared by the conformance cases: allocate, seed an image
 * parcel holding the test DTB, configure, init, start, open the guest's own link; and the
 * reverse (force-stop, reset and wait for the RESET status, deallocate).
 *
 * Reference: rm-rpc.md §12.1–§12.2 (messages), §15.2–§15.3 (states and transitions). These
 * helpers assert replies only; the notifications of each transition are asserted by the
 * lifecycle cases themselves, so that one missing notification fails one case, not all.
 */
import { RmMsgId, RmNotifId } from '../rm-rpc/wire/msg-ids.js';
import { RmErrorCode } from '../rm-rpc/wire/errors.js';
import { toHex } from '../shared/bytes.js';
import type { CaseContext, TrackedVm } from './case.js';
import type { RmNotification, RmSession } from './session.js';
import { check, errLabel, expectBytes, fail, hx } from './assert.js';
import { buildTestDtb, type TestDtbOptions } from './dtb.js';
import {
  AuthType,
  VM_STOP_FLAG_FORCE,
  VmStatus,
  Vmid,
  configImageReq,
  decodeVmStatus,
  initReq,
  memReclaimReq,
  statusLabel,
  stopReq,
  u32At,
  vmidReq,
} from './payloads.js';

/** A seeded image parcel. */
export interface SeededParcel {
  readonly handle: number;
  /** Its size as the RM sees it: the contents rounded up to 4 KiB. */
  readonly size: number;
}

/** VM_GET_STATE of `vmid`, asserting OK and a 4-byte reply; returns the packed u32. */
export async function getState(s: RmSession, vmid: number): Promise<number> {
  const data = await s.ok(RmMsgId.VM_GET_STATE, vmidReq(vmid), `of ${hx(vmid)}`, 4);
  return u32At(data, 0, 'VM_GET_STATE');
}

/** Fail unless VM_GET_STATE reports `status` in bits 7:0. */
export async function expectStatus(s: RmSession, vmid: number, status: number, when: string): Promise<void> {
  const st = (await getState(s, vmid)) & 0xff;
  if (st !== status) fail(`${s.label}: VM_GET_STATE of ${hx(vmid)} ${when}: expected ${statusLabel(status)}, got ${statusLabel(st)}`);
}

/** Predicate: NOTIFY_VM_STATUS about `vmid`, optionally with the given vm_status. */
export function isVmStatus(vmid: number, status?: number): (n: RmNotification) => boolean {
  return (n) => {
    if (n.msgId !== RmNotifId.NOTIFY_VM_STATUS) return false;
    const d = decodeVmStatus(n.data);
    return d !== undefined && d.vmid === vmid && (status === undefined || d.vmStatus === status);
  };
}

/** VM_ALLOCATE(vmid) from HLOS, asserting OK; tracks the VM. Returns the VMID. */
export async function allocateVm(ctx: CaseContext, vmid = 0): Promise<number> {
  const r = await ctx.hlos.expect(RmMsgId.VM_ALLOCATE, vmidReq(vmid), 'OK', `(${hx(vmid)})`, vmid === 0 ? 4 : 0);
  const got = vmid === 0 ? u32At(r.data, 0, 'VM_ALLOCATE') : vmid;
  ctx.trackVm(got);
  return got;
}

/**
 * Allocate a free secondary VMID (4..31 on the qemu platform, rm-rpc.md §10). With control the
 * RM's VM list says which are free; without, each candidate is tried from 31 down (a taken one
 * answers NORESOURCE).
 */
export async function allocateSecondary(ctx: CaseContext): Promise<number> {
  const taken = new Set<number>();
  if (ctx.control) for (const vm of (await ctx.control.inspect()).vms) taken.add(vm.vmid);
  for (let vmid = Vmid.SECONDARY_LAST; vmid >= Vmid.SECONDARY_FIRST; vmid--) {
    if (taken.has(vmid)) continue;
    const r = await ctx.hlos.call(RmMsgId.VM_ALLOCATE, vmidReq(vmid));
    if (r.errCode === RmErrorCode.OK) {
      check(r.data.byteLength === 0, `VM_ALLOCATE(${hx(vmid)}): a specific VMID gets a standard reply, got ${r.data.byteLength} data bytes`);
      ctx.trackVm(vmid);
      return vmid;
    }
    if (r.errCode !== RmErrorCode.NORESOURCE) fail(`VM_ALLOCATE(${hx(vmid)}): expected OK or NORESOURCE, got ${errLabel(r.errCode)}`);
  }
  return fail(`no secondary VMID in ${Vmid.SECONDARY_FIRST}..${Vmid.SECONDARY_LAST} could be allocated`);
}

/** Seed a platform parcel holding the test DTB, with `acl` (default: the VM, RWX). */
export async function seedDtb(
  ctx: CaseContext,
  vmid: number,
  dtb: TestDtbOptions = {},
  acl: ReadonlyArray<{ vmid: number; rights: number }> = [{ vmid, rights: 7 }],
): Promise<SeededParcel> {
  const control = ctx.requireControl();
  const bytes = buildTestDtb(dtb);
  const handle = await control.seedParcel({ acl, contentsHex: toHex(bytes, '') });
  ctx.trackParcel(handle);
  return { handle, size: Math.ceil(bytes.byteLength / 4096) * 4096 };
}

/** The VM_CONFIG_IMAGE request the suite normally sends: no auth, the DT at offset 0 spanning the parcel. */
export function standardConfig(vmid: number, p: SeededParcel): Uint8Array {
  return configImageReq({
    vmid,
    authType: AuthType.NONE,
    handle: p.handle,
    imageOffset: 0n,
    imageSize: 0n,
    dtOffset: 0n,
    dtSize: BigInt(p.size),
  });
}

/** VM_CONFIG_IMAGE (standard) asserting OK; marks the VM configured. */
export async function configureVm(ctx: CaseContext, vmid: number, p: SeededParcel): Promise<void> {
  await ctx.hlos.ok(RmMsgId.VM_CONFIG_IMAGE, standardConfig(vmid, p), `of ${hx(vmid)}`, 0);
  const t = ctx.tracked(vmid);
  if (t) t.configured = true;
}

/** Allocate (dynamic unless `vmid` given), seed, configure and init: a VM in READY. */
export async function readyVm(
  ctx: CaseContext,
  opts: { vmid?: number; secondary?: boolean; dtb?: TestDtbOptions } = {},
): Promise<{ vmid: number; parcel: SeededParcel }> {
  const vmid = opts.secondary ? await allocateSecondary(ctx) : await allocateVm(ctx, opts.vmid ?? 0);
  const parcel = await seedDtb(ctx, vmid, opts.dtb);
  await configureVm(ctx, vmid, parcel);
  await ctx.hlos.ok(RmMsgId.VM_INIT, initReq(vmid), `of ${hx(vmid)}`, 0);
  return { vmid, parcel };
}

/** A READY VM started, with the guest's own RM link open: a non-owner caller to talk as. */
export async function bootGuest(
  ctx: CaseContext,
  opts: { secondary?: boolean; dtb?: TestDtbOptions } = {},
): Promise<{ vmid: number; parcel: SeededParcel; guest: RmSession }> {
  const { vmid, parcel } = await readyVm(ctx, opts);
  await ctx.hlos.ok(RmMsgId.VM_START, vmidReq(vmid), `of ${hx(vmid)}`, 0);
  const guest = await ctx.open(vmid);
  return { vmid, parcel, guest };
}

/** VM_STOP with FORCE, asserting OK. */
export async function forceStop(s: RmSession, vmid: number): Promise<void> {
  await s.ok(RmMsgId.VM_STOP, stopReq(vmid, VM_STOP_FLAG_FORCE, 0), `(FORCE) of ${hx(vmid)}`, 0);
}

/** VM_RESET asserting OK, then wait for NOTIFY_VM_STATUS(vmid, RESET). */
export async function resetAndWait(s: RmSession, vmid: number): Promise<void> {
  s.discard(isVmStatus(vmid, VmStatus.RESET));
  await s.ok(RmMsgId.VM_RESET, vmidReq(vmid), `of ${hx(vmid)}`, 0);
  await s.notification(isVmStatus(vmid, VmStatus.RESET), `NOTIFY_VM_STATUS(${hx(vmid)}, RESET) after VM_RESET`, 10_000);
}

/** VM_DEALLOCATE asserting OK; the case no longer owns the VM. */
export async function deallocateVm(ctx: CaseContext, vmid: number): Promise<void> {
  await ctx.hlos.ok(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), `of ${hx(vmid)}`, 0);
  ctx.forgetVm(vmid);
}

/**
 * Return a tracked VM to nothing, whatever state the case left it in: force-stop a running VM,
 * reset (waiting for the RESET notification), deallocate. A VM the RM cannot free is reported
 * through `note` (INIT_FAILED without configuration: resetting it crashes the real RM, and
 * VM_DEALLOCATE accepts only LOAD or RESET, rm-rpc.md §17 #5 and §18).
 */
export async function cleanupVm(s: RmSession, vm: TrackedVm, note: (text: string) => void): Promise<void> {
  const r = await s.call(RmMsgId.VM_GET_STATE, vmidReq(vm.vmid));
  if (r.errCode === RmErrorCode.NORESOURCE) return; // already gone
  check(r.errCode === RmErrorCode.OK, `cleanup: VM_GET_STATE of ${hx(vm.vmid)}: ${errLabel(r.errCode)}`);
  let st = u32At(r.data, 0, 'VM_GET_STATE') & 0xff;
  if (st === VmStatus.RUNNING || st === VmStatus.PAUSED) {
    await forceStop(s, vm.vmid);
    st = VmStatus.EXITED;
  }
  if (st === VmStatus.RESETTING) {
    await s.notification(isVmStatus(vm.vmid, VmStatus.RESET), `NOTIFY_VM_STATUS(${hx(vm.vmid)}, RESET)`, 10_000);
    st = VmStatus.RESET;
  } else if (st === VmStatus.EXITED || st === VmStatus.READY || (st === VmStatus.INIT_FAILED && vm.configured)) {
    await resetAndWait(s, vm.vmid);
    st = VmStatus.RESET;
  }
  if (st === VmStatus.LOAD || st === VmStatus.RESET) {
    await s.ok(RmMsgId.VM_DEALLOCATE, vmidReq(vm.vmid), `of ${hx(vm.vmid)} (cleanup)`, 0);
    return;
  }
  note(`VMID ${hx(vm.vmid)} left in ${statusLabel(st)}: the RM offers no way to free it`);
}

/** Best-effort MEM_RECLAIM of a seeded parcel; the result is not a conformance check. */
export async function reclaimParcel(s: RmSession, handle: number): Promise<void> {
  await s.call(RmMsgId.MEM_RECLAIM, memReclaimReq(handle));
}

/** Predicate: NOTIFY_VM_EXITED about `vmid`. */
export function isVmExited(vmid: number): (n: RmNotification) => boolean {
  return (n) => n.msgId === RmNotifId.NOTIFY_VM_EXITED && n.data.byteLength >= 2 && (n.data[0]! | (n.data[1]! << 8)) === vmid;
}

/**
 * Wait for NOTIFY_VM_EXITED about `vmid` and require that NOTIFY_VM_STATUS(vmid, EXITED) came
 * before it (rm-rpc.md §15.3: the state update sends VM_STATUS first). Checks both payloads
 * byte for byte against `statusBytes` and `exitedBytes`.
 */
export async function expectExitNotifications(
  s: RmSession,
  vmid: number,
  statusBytes: Uint8Array,
  exitedBytes: Uint8Array,
  what: string,
): Promise<void> {
  const exited = await s.notification(isVmExited(vmid), `NOTIFY_VM_EXITED(${hx(vmid)}) ${what}`);
  const iExited = s.received.indexOf(exited);
  const iStatus = s.received.findIndex(isVmStatus(vmid, VmStatus.EXITED));
  if (iStatus < 0 || iStatus > iExited) {
    fail(`${s.label}: ${what}: NOTIFY_VM_STATUS(${hx(vmid)}, EXITED) must arrive before NOTIFY_VM_EXITED; ${iStatus < 0 ? 'it had not arrived' : 'it came after'}`);
  }
  const status = s.received[iStatus]!;
  s.discard((n) => n === status);
  expectBytes(status.data, statusBytes, `NOTIFY_VM_STATUS ${what}`);
  expectBytes(exited.data, exitedBytes, `NOTIFY_VM_EXITED ${what}`);
}
