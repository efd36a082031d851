/**
 * The scenario runner: builds each VM through the typed layer over the raw /dev/gunyah contract
 * (src/vmm: every call is one real ioctl with its struct bytes), starts it, steps the vCPUs in a
 * fixed order, answers each exit as the scenario's VMM says, fires its actions, and records what
 * it saw. Then it stops RUNs still in flight (immediate_exit), closes every fd and looks at what
 * is left.
 *
 * Stepping (deterministic: no wall clock, no timers). The vCPUs are taken round-robin in the
 * plan's order (schedule "vm-by-vm": the vCPUs of one VM until that VM is done, then the next). A vCPU without a RUN in flight gets its next RUN (one step); the runner then
 * waits up to `settleTurns` event-loop turns for it. A RUN that has not returned by then is
 * "pending" (asleep in WFI or powered off, or running without exits) and stays in flight; it is
 * looked at again at the vCPU's next turn. The run ends when a whole round neither issued a RUN
 * nor collected one (every vCPU is retired or pending), or after `maxSteps` RUNs.
 * A vCPU is retired after its STATUS exit (and `runsAfterExit` more RUNs), after `errnoLimit`
 * failed RUNs in a row with no action in between, when its read values run out with
 * `then: "stop"` (a holding cell whose commands are done), by a `stop` action, or after
 * `maxRunsPerVcpu` RUNs.
 *
 * Reference: vmm-flows.md §2 (boot order), §6 (holding-cell protocol); uapi.md §5 (run page),
 * §8.4–§8.10 (RUN, MMIO, resume actions, page faults, immediate_exit, STATUS exits), §8.13
 * (irqfd), §8.14 (ioeventfd), §8.3 (teardown), §6.4 (PUNCH_HOLE); rm-rpc.md §13 (notification
 * payloads); scmi-virtio.md §11–§12 (the device, votes).
 */
import { createEmulator, type Emulator } from '../emulator.js';
import { isErrnoError } from '../shared/errno.js';
import type { Logger } from '../shared/log.js';
import type { TraceSink } from '../shared/trace.js';
import { GunyahDevice, type GuestMemFd, type VmFd } from '../vmm/vm-fd.js';
import { GhVmFd } from '../vmm/gh-vm-fd.js';
import type { Mapping } from '../host/process.js';
import { GhVmFile } from '../vm-mgr/gh/gh-vm-file.js';
import type { VcpuFd } from '../vmm/vcpu-fd.js';
import { buildVmDtb, type VmDtbDoorbell } from '../vmm/vm-dtb.js';
import { ScmiVirtioDevice } from '../vmm/scmi-device.js';
import { EFD_NONBLOCK, GUNYAH_VM_BOOT_CONTEXT_REG, REG_SET_PC, REG_SET_SP } from '../vm-mgr/uapi/constants.js';
import type { RunPage } from '../vm-mgr/uapi/run-page.js';
import { VmFile } from '../vm-mgr/vm-file.js';
import { NOTIFY_VM_EXITED_PAYLOAD, NOTIFY_VM_STATUS_PAYLOAD } from '../rm-rpc/wire/notifications.js';
import { RmNotifId, rmMsgName, rmNotifName } from '../rm-rpc/wire/msg-ids.js';
import { buildRequest, parseResponse } from '../scmi/header.js';
import { ScmiStatus } from '../scmi/api.js';
import { Errno } from '../shared/errno.js';
import { PAGE, type ReadPlan, type ScenarioPlan, type VmPlan } from './compile.js';
import { matchExit, matchErrnoTrigger } from './match.js';
import { exitTypeName, osStatusName, runStatusName, vmStatusName, type NewObservation, type Observation } from './observations.js';
import type { ActionSpec, Phase } from './types.js';
import { bytesHex, hex, nameOf, RESUME, u64, value } from './values.js';

/** Options of a run. */
export interface RunOptions {
  /** Where the emulator's trace events go. */
  readonly trace?: TraceSink;
  /** A pino logger for the emulator. */
  readonly log?: Logger;
}

/** What a run produced. */
export interface RunOutcome {
  readonly observations: readonly Observation[];
  /** RUNs issued. */
  readonly steps: number;
}

const HOST_VMID = 3;
const SCMI_DT_PROTOCOLS = [0x11, 0x13, 0x14, 0x15, 0x16, 0x17];
const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
}

function u32s(words: readonly number[]): Uint8Array {
  const b = new Uint8Array(4 * words.length);
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setUint32(4 * i, w >>> 0, true));
  return b;
}

/** A RUN in flight. */
interface InFlight {
  readonly step: number;
  done: boolean;
  value?: RunPage;
  error?: unknown;
}

class VcpuRt {
  runs = 0;
  inFlight: InFlight | undefined;
  retired = false;
  /** RUNs still to do after the first STATUS exit. */
  afterStatus: number | undefined;
  errnosInARow = 0;
  /** The holding cell's (or a read plan's) values ran out with then: "stop". */
  stopAfterExit = false;
  constructor(
    readonly vm: VmRt,
    readonly id: number,
    readonly fd: VcpuFd,
  ) {}
}

class VmRt {
  dev: GunyahDevice | undefined;
  vm: VmFd | undefined;
  readonly mems = new Map<string, GuestMemFd>();
  /** gh_: each region's anonymous memory (the VMM's RAM). */
  readonly anon = new Map<string, Mapping>();
  readonly vcpus: Array<VcpuRt | undefined> = [];
  readonly irqfds = new Map<number, number>();
  readonly ioeventfds = new Map<string, { fd: number; addr: bigint; len: number; datamatch?: bigint }>();
  device: ScmiVirtioDevice | undefined;
  readonly readCursors: number[];
  readonly ruleCounts: number[];
  constructor(readonly plan: VmPlan) {
    this.readCursors = plan.reads.map(() => 0);
    this.ruleCounts = plan.rules.map(() => 0);
  }
  get name(): string {
    return this.plan.name;
  }
}

/** Call-site details of a recorded call. */
interface CallInfo {
  readonly vm?: string;
  readonly vcpu?: number;
  readonly op: string;
  readonly fn?: 'vcpu' | 'irqfd' | 'ioeventfd' | 'scmi';
  readonly detail?: string;
}

/** The gh_ names of the v17 ioctls both dialects share (same numbers; docs/gh-dialect.md). */
const GH_OP: Readonly<Record<string, string>> = {
  GUNYAH_CREATE_VM: 'GH_CREATE_VM',
  GUNYAH_VM_SET_DTB_CONFIG: 'GH_VM_SET_DTB_CONFIG',
  GUNYAH_VM_START: 'GH_VM_START',
  GUNYAH_VM_ADD_FUNCTION: 'GH_VM_ADD_FUNCTION',
  GUNYAH_VM_REMOVE_FUNCTION: 'GH_VM_REMOVE_FUNCTION',
  GUNYAH_VCPU_RUN: 'GH_VCPU_RUN',
};

class Runner {
  readonly emu: Emulator;
  /** The name a recorded call gets in this scenario's dialect. */
  readonly op: (v17Name: string) => string;
  readonly obs: Observation[] = [];
  phase: Phase = 'setup';
  step = 0;
  #faultsSeen = 0;
  #token = 0;
  readonly #vmids = new Map<number, string>();
  readonly vms: VmRt[] = [];

  constructor(
    readonly plan: ScenarioPlan,
    opts: RunOptions,
  ) {
    this.op = plan.dialect === 'gh' ? (n) => GH_OP[n] ?? n : (n) => n;
    this.emu = createEmulator({
      ...plan.emulator,
      seed: plan.seed,
      ...(opts.trace ? { trace: opts.trace } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  record(o: NewObservation): void {
    this.#drainFaults();
    this.obs.push({ ...o, i: this.obs.length, phase: this.phase } as Observation);
  }

  #drainFaults(): void {
    const fired = this.emu.faults.fired;
    while (this.#faultsSeen < fired.length) {
      const f = fired[this.#faultsSeen++]!;
      const what = f.layer === 'rm' ? (rmMsgName(Number(f.what)) ?? f.what) : f.what;
      const error = String(f.error);
      // A sticky fault firing again right after itself: one record, counted.
      const last = this.obs[this.obs.length - 1];
      if (last?.kind === 'fault' && last.layer === f.layer && last.what === what && last.error === error && last.occurrence + last.times === f.occurrence) {
        this.obs[this.obs.length - 1] = { ...last, times: last.times + 1 };
        continue;
      }
      this.obs.push({ kind: 'fault', layer: f.layer, what, occurrence: f.occurrence, times: 1, error, i: this.obs.length, phase: this.phase });
    }
  }

  /** Make a call and record its result or errno; undefined on an errno. */
  async call<T>(given: CallInfo, f: () => Promise<T> | T, result: (t: T) => number): Promise<T | undefined> {
    const info = { ...given, op: this.op(given.op) };
    try {
      const t = await f();
      this.record({ kind: 'ioctl', ...info, result: result(t) });
      return t;
    } catch (err) {
      if (!isErrnoError(err)) throw err;
      this.record({ kind: 'ioctl', ...info, errno: err.code });
      return undefined;
    }
  }

  onNotification = (n: { msgId: number; payload: Uint8Array }): void => {
    const name = rmNotifName(n.msgId) ?? hex(n.msgId);
    try {
      if (n.msgId === RmNotifId.NOTIFY_VM_EXITED) {
        const d = NOTIFY_VM_EXITED_PAYLOAD.decode(n.payload);
        const vm = this.#vmName(d.vmid);
        this.record({ kind: 'notification', name, ...(vm ? { vm } : {}), vmid: d.vmid, exitType: exitTypeName(d.exitType), exitTypeCode: d.exitType, reason: bytesHex(d.exitReason) });
        return;
      }
      if (n.msgId === RmNotifId.NOTIFY_VM_STATUS) {
        const d = NOTIFY_VM_STATUS_PAYLOAD.decode(n.payload);
        const vm = this.#vmName(d.vmid);
        this.record({
          kind: 'notification',
          name,
          ...(vm ? { vm } : {}),
          vmid: d.vmid,
          vmStatus: vmStatusName(d.vmStatus),
          vmStatusCode: d.vmStatus,
          osStatus: osStatusName(d.osStatus),
          osStatusCode: d.osStatus,
        });
        return;
      }
    } catch {
      // A payload that does not decode: recorded by name only.
    }
    this.record({ kind: 'notification', name });
  };

  // ── set-up ────────────────────────────────────────────────────────────────────────────────

  async setUp(p: VmPlan): Promise<VmRt> {
    const rt = new VmRt(p);
    this.vms.push(rt);
    const vmName = p.name;
    const host = this.emu.host;
    const dev = GunyahDevice.open(host);
    rt.dev = dev;
    const gh = this.plan.dialect === 'gh';
    const vm = await this.call({ vm: vmName, op: 'GUNYAH_CREATE_VM' }, () => (gh ? GhVmFd.create(dev) : dev.createVm()), (v) => v.fd);
    if (!vm) return rt;
    rt.vm = vm;
    const boot = p.regions[p.bootRegion]!;
    const dtbStart = boot.guestAddr + BigInt(p.dtbOffset);
    if (vm instanceof GhVmFd) await this.#ghRegions(rt, vm);
    for (const r of gh ? [] : p.regions) {
      const mem = await this.call(
        { vm: vmName, op: 'GUNYAH_CREATE_GUEST_MEM', detail: `${r.name}: ${r.fileOffset + r.size} bytes` },
        () => dev.createGuestMem(r.fileOffset + r.size),
        (m) => m.fd,
      );
      if (!mem) continue;
      rt.mems.set(r.name, mem);
      for (const x of r.init) await mem.writeAt(r.fileOffset + x.offset, x.bytes);
      if (r.mapAtStart) await this.mapMem(rt, r.name, false);
    }
    for (let id = 0; id < p.vcpus; id++) {
      const fd = await this.call({ vm: vmName, vcpu: id, op: 'GUNYAH_VM_ADD_FUNCTION', fn: 'vcpu' }, () => vm.addVcpu(id), (v) => v.fd);
      rt.vcpus.push(fd ? new VcpuRt(rt, id, fd) : undefined);
    }
    const doorbells: VmDtbDoorbell[] = [];
    for (const d of p.doorbells) {
      const level = d.trigger === 'level';
      doorbells.push({ label: d.label, line: d.line, level });
      if (d.irqfd === false) continue;
      const efd = host.eventfd(0, EFD_NONBLOCK);
      rt.irqfds.set(d.label, efd);
      for (let k = 0; k < (d.premature?.beforeBind ?? 0); k++) await this.ring(rt, d.label, 1n, 'premature, before the irqfd is bound');
      await this.call(
        { vm: vmName, op: 'GUNYAH_VM_ADD_FUNCTION', fn: 'irqfd', detail: `label ${hex(d.label)}${level ? ' LEVEL' : ''}` },
        () => vm.addIrqfd(efd, d.label, level),
        (r) => r,
      );
      for (let k = 0; k < (d.premature?.beforeStart ?? 0); k++) await this.ring(rt, d.label, 1n, 'premature, before START');
    }
    for (const e of p.ioeventfds) {
      const efd = host.eventfd(0, EFD_NONBLOCK);
      const opts = { fd: efd, addr: u64(e.addr), len: e.len, ...(e.datamatch !== undefined ? { datamatch: u64(e.datamatch) } : {}) };
      rt.ioeventfds.set(e.name, opts);
      await this.call(
        { vm: vmName, op: 'GUNYAH_VM_ADD_FUNCTION', fn: 'ioeventfd', detail: `${e.name}: ${hex(opts.addr)} len ${e.len}${opts.datamatch !== undefined ? ` datamatch ${hex(opts.datamatch)}` : ''}` },
        () => vm.addIoeventfd(opts),
        (r) => r,
      );
    }
    if (p.scmi) this.#scmiDevice(rt, vm, p);
    const virtioMmio = rt.device ? [rt.device.dtbNode] : [];
    if (rt.device) doorbells.push(rt.device.dtbDoorbell);
    const dtbOf = (size: number): Uint8Array =>
      buildVmDtb({
        vcpus: p.vcpus,
        memory: [{ base: boot.guestAddr, size: BigInt(size) }],
        doorbells,
        ...(virtioMmio.length ? { virtioMmio } : {}),
        ...(rt.device ? { scmi: { protocols: SCMI_DT_PROTOCOLS } } : {}),
      });
    const dtb = dtbOf(boot.size);
    const dtbBytes = pageAlign(dtb.length);
    const stackTop = dtbStart + BigInt(dtbBytes + PAGE);
    const bootMem = rt.mems.get(boot.name);
    const bootAnon = rt.anon.get(boot.name);
    if (bootMem || bootAnon) {
      if (p.dtbOffset + dtbBytes + p.vcpus * PAGE > boot.size) {
        this.record({ kind: 'error', vm: vmName, message: `the boot region (${boot.size} bytes) has no room for the DTB (${dtbBytes}) and ${p.vcpus} stack pages` });
      }
      if (bootMem) {
        await bootMem.writeAt(boot.fileOffset + p.dtbOffset, dtb);
        await bootMem.writeAt(boot.fileOffset, p.image);
      }
      // gh_: the VMM writes its own RAM; the pages are pinned but still the host's until START.
      bootAnon?.write(p.dtbOffset, dtb);
      bootAnon?.write(0, p.image);
    }
    await this.call(
      { vm: vmName, op: 'GUNYAH_VM_SET_DTB_CONFIG', detail: `${hex(dtbStart)} size ${dtbBytes}` },
      () => vm.setDtbConfig(dtbStart, BigInt(dtbBytes)),
      (r) => r,
    );
    // gh_ has no boot context: the RM enters the DTB's region at its base, X0 = the DTB (B13).
    const regs: Array<{ reg: number; value: bigint; what: string }> = gh
      ? []
      : [
          { reg: GUNYAH_VM_BOOT_CONTEXT_REG(REG_SET_PC, 0), value: boot.guestAddr, what: 'PC' },
          { reg: GUNYAH_VM_BOOT_CONTEXT_REG(REG_SET_SP, 1), value: stackTop, what: 'SP_EL1' },
          ...p.bootContext.map((b) => ({ ...b, what: hex(b.reg) })),
        ];
    if (vm instanceof GhVmFd) {
      for (const cap of p.checkExtension) {
        await this.call({ vm: vmName, op: 'GH_VM_CHECK_EXTENSION', detail: `capability ${cap}` }, () => vm.checkExtension(cap), (x) => x);
      }
    }
    for (const r of regs) {
      await this.call({ vm: vmName, op: 'GUNYAH_VM_SET_BOOT_CONTEXT', detail: `${r.what} = ${hex(r.value)}` }, () => vm.setBootContext(r.reg, r.value), (x) => x);
    }
    if (p.start) {
      await this.startVm(rt);
      await this.fireRules(rt, (w) => w.afterStart === true, undefined, false);
    }
    return rt;
  }

  /**
   * gh_: each region is the VMM's own anonymous memory (initial bytes written into it), registered
   * with GH_VM_ANDROID_LEND_USER_MEM (lend) or GH_VM_SET_USER_MEM_REGION (share), in file order.
   */
  async #ghRegions(rt: VmRt, vm: GhVmFd): Promise<void> {
    for (const r of rt.plan.regions) {
      let mem: Mapping;
      try {
        mem = this.emu.host.mmapAnonymous(r.size);
      } catch (err) {
        if (!isErrnoError(err)) throw err;
        this.record({ kind: 'ioctl', vm: rt.name, op: 'mmap', detail: `${r.name}: anonymous ${r.size} bytes`, errno: err.code });
        continue;
      }
      rt.anon.set(r.name, mem);
      for (const x of r.init) mem.write(x.offset, x.bytes);
      const region = { label: r.label, flags: r.flags, guestPhysAddr: r.guestAddr, size: BigInt(r.size), userspaceAddr: mem.addr };
      await this.call(
        { vm: rt.name, op: r.share ? 'GH_VM_SET_USER_MEM_REGION' : 'GH_VM_ANDROID_LEND_USER_MEM', detail: `${r.name}: label ${r.label} ${hex(r.guestAddr)} size ${hex(r.size)}` },
        () => (r.share ? vm.setUserMemRegion(region) : vm.lendUserMem(region)),
        (x) => x,
      );
    }
  }

  #scmiDevice(rt: VmRt, vm: VmFd, p: VmPlan): void {
    const s = p.scmi!;
    const ring = p.regions.find((r) => r.name === s.ring)!;
    const devices = this.emu.scmi.platform.desc.devices;
    let mask = s.deviceMask !== undefined ? u64(s.deviceMask) : 0n;
    for (const d of s.devices ?? []) {
      const dev = devices.find((x) => x.name === d);
      if (dev) mask |= 1n << BigInt(dev.id);
    }
    try {
      rt.device = new ScmiVirtioDevice(vm, {
        mmioBase: s.mmioBase !== undefined ? u64(s.mmioBase) : 0x1000_0000n,
        doorbellLabel: s.doorbell?.label ?? 0x5c,
        line: s.doorbell?.line ?? 12,
        agent: { agentId: s.agentId, name: s.name, deviceMask: mask, ...(s.protocolMask !== undefined ? { protocolMask: s.protocolMask } : {}) },
        ringRegion: { base: ring.guestAddr, size: BigInt(ring.size) },
        ...(s.level !== undefined ? { level: s.level } : {}),
        ...(s.ioeventfd !== undefined ? { ioeventfd: s.ioeventfd } : {}),
        ...(s.queueSize !== undefined ? { queueSize: s.queueSize } : {}),
      });
    } catch (err) {
      this.record({ kind: 'error', vm: p.name, message: `SCMI device: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  async startVm(rt: VmRt): Promise<void> {
    const vm = rt.vm;
    if (!vm) return;
    await this.call({ vm: rt.name, op: 'GUNYAH_VM_START' }, () => vm.start(), (r) => r);
    this.#vmName(0xffff);
  }

  /** The scenario's name of the VM with `vmid` (looked up in the kernel's VMs behind our VM fds). */
  #vmName(vmid: number): string | undefined {
    const known = this.#vmids.get(vmid);
    if (known !== undefined) return known;
    const files = this.emu.host.openFiles();
    for (const rt of this.vms) {
      const f = files.find((x) => x.fd === rt.vm?.fd)?.file;
      if ((f instanceof VmFile || f instanceof GhVmFile) && f.vm.vmid !== 0xffff) this.#vmids.set(f.vm.vmid, rt.name);
    }
    return this.#vmids.get(vmid);
  }

  async mapMem(rt: VmRt, region: string, unmap: boolean): Promise<void> {
    const r = rt.plan.regions.find((x) => x.name === region)!;
    const mem = rt.mems.get(region);
    const vm = rt.vm;
    if (!mem || !vm) return;
    const o = { guestAddr: r.guestAddr, flags: r.flags, mem, offset: BigInt(r.fileOffset), size: BigInt(r.size) };
    const access = r.flags & 3 ? (r.share ? 'share' : 'lend') : 'default';
    await this.call(
      { vm: rt.name, op: 'GUNYAH_VM_MAP_MEM', detail: `${unmap ? 'UNMAP ' : ''}${region}: ${hex(r.guestAddr)} size ${hex(r.size)} ${access}` },
      () => (unmap ? vm.unmapMem(o) : vm.mapMem(o)),
      (x) => x,
    );
  }

  async ring(rt: VmRt, label: number, v: bigint, detail: string): Promise<void> {
    const efd = rt.irqfds.get(label);
    if (efd === undefined) return;
    await this.call({ vm: rt.name, op: 'eventfd_write', detail: `irqfd ${hex(label)}: ${v}${detail ? ` (${detail})` : ''}` }, () => this.emu.host.write(efd, le64(v)), (n) => n);
  }

  // ── the VMM's answers and actions ──────────────────────────────────────────────────────────

  /** The value for a read at `addr` by `vcpu`; undefined: values ran out with then "stop". */
  answerRead(rt: VmRt, vcpu: number, addr: bigint): bigint | undefined {
    const k = rt.plan.reads.findIndex((r: ReadPlan) => r.addr === addr && (r.vcpu === undefined || r.vcpu === vcpu));
    if (k < 0) return rt.plan.readDefault;
    const r = rt.plan.reads[k]!;
    const n = rt.readCursors[k]!;
    rt.readCursors[k] = n + 1;
    if (n < r.values.length) return r.values[n];
    switch (r.then) {
      case 'repeat-last':
        return r.values[r.values.length - 1] ?? 0n;
      case 'cycle':
        return r.values.length ? r.values[n % r.values.length] : 0n;
      case 'zero':
        return 0n;
      case 'stop':
        return undefined;
    }
  }

  /** Fire the VM's rules whose trigger `matches`; true when an action ran. */
  async fireRules(rt: VmRt, matches: (w: VmPlan['rules'][number]['when']) => boolean, vcpu: number | undefined, counted = true): Promise<boolean> {
    let acted = false;
    for (const [k, rule] of rt.plan.rules.entries()) {
      if (!matches(rule.when)) continue;
      const n = (rt.ruleCounts[k] ?? 0) + 1;
      rt.ruleCounts[k] = n;
      const at = rule.when.occurrence ?? 1;
      if (counted && !(n === at || (rule.when.every === true && n >= at))) continue;
      for (const a of rule.do) await this.act(rt, a, vcpu);
      acted = true;
    }
    return acted;
  }

  async act(rt: VmRt, a: ActionSpec, vcpuId: number | undefined): Promise<void> {
    const id = a.vcpu ?? vcpuId;
    const v = id !== undefined ? rt.vcpus[id] : undefined;
    if (a.resume !== undefined) v?.fd.setResumeAction(typeof a.resume === 'number' ? a.resume : RESUME[a.resume]);
    if (a.value !== undefined) v?.fd.setMmioData(value(a.value));
    if (a.immediateExit !== undefined) v?.fd.setImmediateExit(a.immediateExit);
    if (a.stop && v) v.retired = true;
    if (a.punchHole) {
      const r = rt.plan.regions.find((x) => x.name === a.punchHole!.region)!;
      const mem = rt.mems.get(r.name);
      const offset = a.punchHole.offset !== undefined ? Number(u64(a.punchHole.offset)) : 0;
      const length = a.punchHole.length !== undefined ? Number(u64(a.punchHole.length)) : r.size;
      if (mem) {
        await this.call(
          { vm: rt.name, op: 'fallocate', detail: `PUNCH_HOLE ${r.name} offset ${hex(offset)} length ${hex(length)}` },
          async () => {
            await mem.punchHole(r.fileOffset + offset, length);
            return 0;
          },
          (x) => x,
        );
      }
    }
    if (a.mapMem) await this.mapMem(rt, a.mapMem.region, false);
    if (a.unmapMem) await this.mapMem(rt, a.unmapMem.region, true);
    if (a.ring) await this.ring(rt, a.ring.label, a.ring.value !== undefined ? u64(a.ring.value) : 1n, '');
    if (a.readEventfd) await this.readEventfd(rt, a.readEventfd);
    if (a.removeIrqfd && rt.vm) {
      const vm = rt.vm;
      const label = a.removeIrqfd.label;
      await this.call({ vm: rt.name, op: 'GUNYAH_VM_REMOVE_FUNCTION', fn: 'irqfd', detail: `label ${hex(label)}` }, () => vm.removeIrqfd(label), (x) => x);
    }
    if (a.removeIoeventfd && rt.vm) {
      const vm = rt.vm;
      const e = rt.ioeventfds.get(a.removeIoeventfd.name)!;
      // gh_: keyed by addr alone (G7), and sent as crosvm sends it: only addr set (Q18).
      await this.call(
        { vm: rt.name, op: 'GUNYAH_VM_REMOVE_FUNCTION', fn: 'ioeventfd', detail: vm instanceof GhVmFd ? `${a.removeIoeventfd.name}: by addr ${hex(e.addr)}` : a.removeIoeventfd.name },
        () => (vm instanceof GhVmFd ? vm.removeIoeventfdByAddr(e.addr) : vm.removeIoeventfd(e)),
        (x) => x,
      );
    }
    if (a.start) await this.startVm(rt);
    if (a.scmiHost) this.scmiHost(a.scmiHost);
    if (a.scmiVotes) this.scmiVotes(a.scmiVotes.clock);
  }

  async readEventfd(rt: VmRt, which: { ioeventfd?: string; irqfd?: number }): Promise<void> {
    const fd = which.ioeventfd !== undefined ? rt.ioeventfds.get(which.ioeventfd)?.fd : rt.irqfds.get(which.irqfd!);
    if (fd === undefined) return;
    let v = 0n;
    try {
      const b = await this.emu.host.read(fd, 8);
      v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    } catch (err) {
      if (!isErrnoError(err, 'EAGAIN')) throw err;
    }
    this.record({ kind: 'eventfd', vm: rt.name, ...(which.ioeventfd !== undefined ? { ioeventfd: which.ioeventfd } : { irqfd: which.irqfd! }), value: hex(v) });
  }

  scmiHost(c: { protocolId: number; messageId: number; params?: readonly number[] }): void {
    const scmi = this.emu.scmi;
    const token = this.#token;
    this.#token = (this.#token + 1) & 0x3ff;
    const req = buildRequest({ protocolId: c.protocolId, messageId: c.messageId, messageType: 0, token }, u32s(c.params ?? []));
    const r = parseResponse(scmi.dispatch(scmi.host, req));
    const statusCode = r?.status ?? ScmiStatus.PROTOCOL_ERROR;
    const payload: number[] = [];
    if (r) {
      const dv = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
      for (let o = 0; o + 4 <= r.payload.byteLength; o += 4) payload.push(dv.getUint32(o, true));
    }
    this.record({
      kind: 'scmi',
      what: 'result',
      agent: scmi.host.agentId,
      protocolId: c.protocolId,
      messageId: c.messageId,
      status: nameOf(ScmiStatus, statusCode) ?? String(statusCode),
      statusCode,
      payload,
    });
  }

  scmiVotes(clock: number): void {
    const scmi = this.emu.scmi;
    const platform = scmi.platform;
    if (clock >= platform.desc.clocks.length) {
      this.record({ kind: 'error', message: `SCMI: no clock ${clock} on the platform (${platform.desc.clocks.length} clocks)` });
      return;
    }
    const agents = [...new Set(this.plan.vms.flatMap((v) => (v.scmi ? [v.scmi.agentId] : [])))];
    for (const agent of [scmi.host.agentId, ...agents]) {
      const vote = platform.clockVote(agent, clock);
      this.record({ kind: 'scmi', what: 'vote', clock, agent, enabled: vote.enabled, ...(vote.enabled && vote.rate !== undefined ? { rate: vote.rate } : {}) });
    }
    const agg = platform.clockAggregate(clock);
    this.record({ kind: 'scmi', what: 'aggregate', clock, enabled: agg.enabled, rate: agg.rate });
    for (const agent of agents) this.record({ kind: 'scmi', what: 'agent', agent, connected: scmi.agent(agent) !== undefined });
  }

  // ── stepping ──────────────────────────────────────────────────────────────────────────────

  launch(v: VcpuRt): InFlight {
    const f: InFlight = { step: ++this.step, done: false };
    v.runs++;
    v.fd.run().then(
      (r) => {
        f.done = true;
        f.value = r;
      },
      (e: unknown) => {
        f.done = true;
        f.error = e;
      },
    );
    v.inFlight = f;
    return f;
  }

  async settle(f: InFlight, turns = this.plan.settleTurns): Promise<boolean> {
    for (let i = 0; !f.done && i < turns; i++) await turn();
    return f.done;
  }

  /** Record the result of a settled RUN and answer it. */
  async collect(v: VcpuRt, f: InFlight, answer = true): Promise<void> {
    v.inFlight = undefined;
    const rt = v.vm;
    const who = { vm: rt.name, vcpu: v.id };
    if (f.error !== undefined || !f.value) {
      const err = f.error;
      if (!isErrnoError(err)) {
        this.record({ kind: 'error', ...who, message: err instanceof Error ? err.message : String(err) });
        v.retired = true;
        return;
      }
      const o = { kind: 'ioctl' as const, ...who, op: this.op('GUNYAH_VCPU_RUN'), errno: err.code, step: f.step };
      this.record(o);
      if (!answer) return;
      v.errnosInARow++;
      let acted = false;
      if (err.code === 'EINTR' && rt.plan.clearImmediateExit && v.fd.page.read(0, 1)[0] !== 0) {
        v.fd.setImmediateExit(false);
        acted = true;
      }
      acted = (await this.fireRules(rt, (w) => w.errno !== undefined && matchErrnoTrigger(w.errno, o), v.id)) || acted;
      if (!acted && v.errnosInARow >= this.plan.errnoLimit) v.retired = true;
      return;
    }
    v.errnosInARow = 0;
    const exit = f.value;
    const base = { kind: 'exit' as const, ...who, step: f.step };
    let o: NewObservation;
    switch (exit.kind) {
      case 'mmio': {
        const m = exit.mmio;
        const addr = hex(m.physAddr);
        const mask = (x: bigint): string => hex(BigInt.asUintN(8 * Math.min(8, m.len), x));
        if (answer && rt.device?.contains(m.physAddr)) {
          await rt.device.handleMmio(v.fd, exit);
          o = { ...base, exit: 'mmio', addr, len: m.len, write: m.isWrite, ...(m.isWrite ? { data: mask(m.data) } : {}), device: true };
        } else if (m.isWrite) {
          o = { ...base, exit: 'mmio', addr, len: m.len, write: true, data: mask(m.data) };
        } else {
          const val = answer ? this.answerRead(rt, v.id, m.physAddr) : undefined;
          if (val === undefined) v.stopAfterExit = answer;
          else v.fd.setMmioData(val);
          o = { ...base, exit: 'mmio', addr, len: m.len, write: false, ...(val !== undefined ? { supplied: mask(val) } : {}) };
        }
        break;
      }
      case 'status': {
        const s = exit.status;
        o = {
          ...base,
          exit: 'status',
          status: runStatusName(s.status),
          statusCode: s.status,
          exitType: exitTypeName(s.exitType),
          exitTypeCode: s.exitType,
          reasonSize: s.reasonSize,
          reason: bytesHex(s.reason),
        };
        if (answer) {
          v.afterStatus = v.afterStatus === undefined ? rt.plan.runsAfterExit : v.afterStatus - 1;
          if (v.afterStatus <= 0) v.retired = true;
        }
        break;
      }
      case 'page-fault': {
        const pf = exit.pageFault;
        const name = nameOf(Errno, -pf.attempt) ?? String(-pf.attempt);
        o = { ...base, exit: 'page-fault', addr: hex(pf.physAddr), attempt: name, attemptCode: pf.attempt };
        break;
      }
      default:
        o = { ...base, exit: exit.kind, exitReason: exit.exitReason };
    }
    this.record(o);
    if (!answer) return;
    const recorded = this.obs[this.obs.length - 1]!;
    await this.fireRules(rt, (w) => w.exit !== undefined && recorded.kind === 'exit' && matchExit(w.exit, recorded), v.id);
    if (v.stopAfterExit) v.retired = true;
  }

  async drive(): Promise<void> {
    this.phase = 'run';
    const order = this.plan.order.map((o) => this.vms[o.vm]?.vcpus[o.vcpu]).filter((v): v is VcpuRt => v !== undefined);
    if (this.plan.schedule === 'vm-by-vm') {
      for (const rt of this.vms) await this.#rounds(order.filter((v) => v.vm === rt));
    } else {
      await this.#rounds(order);
    }
    for (const rt of this.vms) await this.fireRules(rt, (w) => w.end === true, undefined, false);
  }

  /** Step `order` round-robin until a round does nothing. */
  async #rounds(order: readonly VcpuRt[]): Promise<void> {
    for (;;) {
      let progressed = false;
      for (const v of order) {
        if (v.retired) continue;
        if (v.inFlight) {
          const f = v.inFlight;
          if (!(await this.settle(f))) continue;
          await this.collect(v, f);
          progressed = true;
          continue;
        }
        if (this.step >= this.plan.maxSteps) continue;
        if (v.runs >= this.plan.maxRunsPerVcpu) {
          this.record({ kind: 'limit', what: `maxRunsPerVcpu ${this.plan.maxRunsPerVcpu}`, vm: v.vm.name, vcpu: v.id });
          v.retired = true;
          continue;
        }
        const next = v.runs + 1;
        await this.fireRules(v.vm, (w) => w.beforeRun !== undefined && w.beforeRun.vcpu === v.id && w.beforeRun.run === next, v.id, false);
        if (v.retired) continue;
        const f = this.launch(v);
        progressed = true;
        if (await this.settle(f)) await this.collect(v, f);
        else {
          this.record({ kind: 'pending', vm: v.vm.name, vcpu: v.id, step: f.step });
          await this.fireRules(v.vm, (w) => w.pending !== undefined && (w.pending.vcpu === undefined || w.pending.vcpu === v.id), v.id);
        }
      }
      if (!progressed) {
        if (this.step >= this.plan.maxSteps && order.some((v) => !v.retired && !v.inFlight)) this.record({ kind: 'limit', what: `maxSteps ${this.plan.maxSteps}` });
        break;
      }
    }
  }

  async teardown(): Promise<void> {
    this.phase = 'teardown';
    for (const rt of this.vms) {
      for (const v of rt.vcpus) {
        const f = v?.inFlight;
        if (!v || !f) continue;
        // The VMM stops its vCPU threads: immediate_exit makes a RUN in flight return EINTR.
        v.fd.setImmediateExit(true);
        if (await this.settle(f, this.plan.settleTurns * 4)) await this.collect(v, f, false);
        else this.record({ kind: 'error', vm: rt.name, vcpu: v.id, message: 'the RUN did not return after immediate_exit' });
      }
    }
    for (const rt of this.vms) {
      try {
        await rt.device?.close();
      } catch (err) {
        this.record({ kind: 'error', vm: rt.name, message: `SCMI device close: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
    await this.emu.host.closeAll();
    for (let i = 0; i < this.plan.settleTurns; i++) await turn();
    const rm = await this.emu.rm.control.inspect();
    const rmVms = rm.vms.filter((v) => v.vmid !== HOST_VMID);
    const owners = [...this.emu.hyp.memory.ownership().keys()].filter((v) => v !== HOST_VMID);
    const invariants = this.emu.checkInvariants();
    const problems: string[] = [];
    if (rmVms.length) problems.push(`the RM still holds VMs ${rmVms.map((v) => hex(v.vmid)).join(', ')}`);
    if (rm.parcels.length) problems.push(`the RM still holds ${rm.parcels.length} parcels`);
    if (owners.length) problems.push(`memory still owned by VMs ${owners.map(hex).join(', ')}`);
    if (this.emu.kernel.liveVms) problems.push(`${this.emu.kernel.liveVms} VMs not torn down by the kernel`);
    // gh_: pages a failed MEM_RECLAIM left pinned (and lent) for good (G10).
    if (this.plan.dialect === 'gh' && this.emu.kernel.leakedPinnedPages) problems.push(`${this.emu.kernel.leakedPinnedPages} pages left pinned by a failed MEM_RECLAIM`);
    problems.push(...invariants.map((x) => `invariant: ${x}`));
    this.record({ kind: 'shutdown', clean: problems.length === 0, rmVms: rmVms.length, parcels: rm.parcels.length, problems });
  }
}

/** Run a compiled scenario on a fresh emulator; always closes it. */
export async function runPlan(plan: ScenarioPlan, opts: RunOptions = {}): Promise<RunOutcome> {
  const r = new Runner(plan, opts);
  const client = r.emu.rmClient;
  client.events.on('notification', r.onNotification);
  try {
    try {
      for (const vm of plan.vms) await r.setUp(vm);
      await r.drive();
    } catch (err) {
      r.record({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
    }
    await r.teardown();
    return { observations: r.obs, steps: r.step };
  } finally {
    client.events.off('notification', r.onNotification);
    r.emu.close();
  }
}
