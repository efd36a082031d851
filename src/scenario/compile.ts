/**
 * From a schema-valid scenario to the plan the runner follows, with the checks a schema cannot
 * make: unique names, references (regions, doorbells, ioeventfds, VMs, vCPU indices), values
 * that must fit 64 bits, the boot region's room for image, DTB and stacks, and guest programs
 * the builder accepts. Every problem is a ScenarioError in the same form as a schema error.
 *
 * The boot region's layout follows quic/gunyah-test-vmm: [image][DTB][one stack page per vCPU],
 * PC = the region's base, SP_EL1 = the first stack page's end (vmm-flows.md §6.1).
 *
 * Reference: docs/scenarios.md; vmm-flows.md §2 (boot order), §6.1 (layout), §6.3 (command
 * word); uapi.md §3–§4 (flags); docs/guest-images.md (programs, the holding cell's reads).
 */
import { guestProgram, holdingCellImage, HoldingCellCmd, HOLDING_CELL_MAX_ID, HOLDING_CELL_NARGS, HoldingCellReg, holdingCellWord, type GuestProgramBuilder } from '../guest/index.js';
import { defaultPlatform } from '../scmi/default-platform.js';
import { RmMsgId } from '../rm-rpc/wire/msg-ids.js';
import type { EmulatorOptions } from '../emulator.js';
import type { FaultPlan } from '../shared/faults.js';
import type { ActionRuleSpec, DialectName, DoorbellSpec, Expectation, IoeventfdSpec, OpSpec, RegionSpec, Scenario, ScmiDeviceSpec, VmSpec } from './types.js';
import { describeValue, makeError, type ScenarioError } from './validate.js';
import { allowBits, BOOT_REGS, GH_IOCTL_NAMES, named, u64, value, valueProblem, VcpuRunState, V17_IOCTL_NAMES } from './values.js';
import { ExitType } from '../rm-rpc/wire/enums.js';

export const PAGE = 4096;
const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** A memory region as the runner binds it. */
export interface RegionPlan {
  readonly name: string;
  readonly guestAddr: bigint;
  readonly size: number;
  readonly fileOffset: number;
  /** GUNYAH_MEM_* access and ALLOW bits for MAP_MEM (v17); GH_MEM_ALLOW_* bits (gh_). */
  readonly flags: number;
  /** gh_: the region's label (default its index). */
  readonly label: number;
  readonly share: boolean;
  readonly boot: boolean;
  readonly mapAtStart: boolean;
  readonly init: ReadonlyArray<{ readonly offset: number; readonly bytes: Uint8Array }>;
}

/** One MMIO read answer source. */
export interface ReadPlan {
  readonly addr: bigint;
  readonly vcpu: number | undefined;
  readonly values: readonly bigint[];
  readonly then: 'repeat-last' | 'cycle' | 'zero' | 'stop';
}

export interface VmPlan {
  readonly index: number;
  readonly name: string;
  readonly spec: VmSpec;
  readonly vcpus: number;
  readonly image: Uint8Array;
  readonly regions: readonly RegionPlan[];
  readonly bootRegion: number;
  /** Offset of the DTB in the boot region, and its page-aligned size. */
  readonly dtbOffset: number;
  readonly doorbells: readonly DoorbellSpec[];
  readonly ioeventfds: readonly IoeventfdSpec[];
  readonly scmi: ScmiDeviceSpec | undefined;
  readonly bootContext: ReadonlyArray<{ readonly reg: number; readonly value: bigint }>;
  readonly start: boolean;
  /** gh_: GH_VM_CHECK_EXTENSION capability ids asked during set-up. */
  readonly checkExtension: readonly number[];
  readonly reads: readonly ReadPlan[];
  readonly readDefault: bigint;
  readonly runsAfterExit: number;
  readonly clearImmediateExit: boolean;
  readonly rules: readonly ActionRuleSpec[];
}

export interface ScenarioPlan {
  readonly scenario: Scenario;
  /** The UAPI dialect the VMs are built in. */
  readonly dialect: DialectName;
  readonly emulator: EmulatorOptions;
  readonly seed: number;
  readonly vms: readonly VmPlan[];
  /** The fixed order vCPUs are stepped in. */
  readonly order: ReadonlyArray<{ readonly vm: number; readonly vcpu: number }>;
  readonly schedule: 'round-robin' | 'vm-by-vm';
  readonly maxSteps: number;
  readonly settleTurns: number;
  readonly errnoLimit: number;
  readonly maxRunsPerVcpu: number;
  readonly expectations: readonly Expectation[];
}

/** Collects errors while compiling. */
class Problems {
  readonly list: ScenarioError[] = [];
  add(pointer: string, expected: string, found: string): void {
    this.list.push(makeError(pointer, expected, found));
  }
  u64(pointer: string, v: number | string | undefined, fallback = 0n): bigint {
    if (v === undefined) return fallback;
    const p = valueProblem(v, false);
    if (p) {
      this.add(pointer, p, JSON.stringify(v));
      return fallback;
    }
    return u64(v);
  }
  value(pointer: string, v: number | string | undefined, fallback = 0n): bigint {
    if (v === undefined) return fallback;
    const p = valueProblem(v, true);
    if (p) {
      this.add(pointer, p, JSON.stringify(v));
      return fallback;
    }
    return value(v);
  }
  /** A u64 that must also be a safe JS number (sizes, offsets). */
  size(pointer: string, v: number | string | undefined, fallback: number): number {
    const b = this.u64(pointer, v, BigInt(fallback));
    if (b > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.add(pointer, 'a size below 2^53', JSON.stringify(v));
      return fallback;
    }
    return Number(b);
  }
}

const hexBytes = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

/** Add `ops` to the builder; RangeErrors of the builder become problems at the op. */
function addOps(p: GuestProgramBuilder, ops: readonly OpSpec[], at: string, probs: Problems): void {
  ops.forEach((o, i) => {
    const ptr = `${at}/${i}`;
    const v = (x: number | string | undefined, f: string): bigint => probs.value(`${ptr}/${f}`, x);
    const a = (x: number | string | undefined, f: string): bigint => probs.u64(`${ptr}/${f}`, x);
    try {
      switch (o.op) {
        case 'load':
          p.load(a(o.addr, 'addr'), o.len ?? 8);
          break;
        case 'mmioRead':
          p.mmioRead(a(o.addr, 'addr'), o.len ?? 8);
          break;
        case 'store':
          p.store(a(o.addr, 'addr'), o.len, v(o.value, 'value'));
          break;
        case 'mmioWrite':
          p.mmioWrite(a(o.addr, 'addr'), o.len, v(o.value, 'value'));
          break;
        case 'touch':
          p.touch(a(o.addr, 'addr'));
          break;
        case 'hvc': {
          const fn = a(o.fn, 'fn');
          if (fn > 0xffff_ffffn) probs.add(`${ptr}/fn`, 'a u32 function id', JSON.stringify(o.fn));
          p.hvc(Number(fn & 0xffff_ffffn), ...(o.args ?? []).map((x, k) => probs.value(`${ptr}/args/${k}`, x)));
          break;
        }
        case 'psciCpuOn':
          p.psciCpuOn(a(o.target, 'target'), a(o.entry, 'entry'), v(o.context, 'context'));
          break;
        case 'systemOff':
          p.systemOff();
          break;
        case 'systemReset':
          p.systemReset();
          break;
        case 'cpuOff':
          p.cpuOff();
          break;
        case 'wfi':
          p.wfi();
          break;
        case 'spin':
          p.spin();
          break;
        case 'udf':
          p.udf();
          break;
        case 'relinquish':
          p.relinquish(a(o.addr, 'addr'), a(o.size, 'size'), a(o.flags, 'flags'));
          break;
        case 'expect':
          p.expect(v(o.value, 'value'));
          break;
        case 'repeat':
          p.repeat(a(o.count, 'count'), (q) => addOps(q, o.body, `${ptr}/body`, probs));
          break;
        case 'forever':
          p.forever((q) => addOps(q, o.body, `${ptr}/body`, probs));
          break;
        case 'onCpu':
          p.onCpu(o.cpu, (q) => addOps(q, o.body, `${ptr}/body`, probs));
          break;
        case 'virtioScmiProbe':
          p.virtioScmiProbe(a(o.mmioBase, 'mmioBase'), a(o.ringBase, 'ringBase'), {
            ...(o.queueSize !== undefined ? { queueSize: o.queueSize } : {}),
            ...(o.p2a !== undefined ? { p2a: o.p2a } : {}),
          });
          break;
        case 'scmiCall':
          p.scmiCall(o.protocolId, o.messageId, o.params ?? [], {
            ...(o.expectStatus !== undefined ? { expectStatus: o.expectStatus } : {}),
            ...(o.expectPayload !== undefined ? { expectPayload: o.expectPayload } : {}),
            ...(o.token !== undefined ? { token: o.token } : {}),
            ...(o.wait !== undefined ? { wait: o.wait } : {}),
            ...(o.messageType !== undefined ? { messageType: o.messageType } : {}),
          });
          break;
        case 'scmiReplyWord':
          p.scmiReplyWord(o.index);
          break;
      }
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      probs.add(ptr, `an op the guest-program builder accepts (${err.message})`, JSON.stringify(o.op));
    }
  });
}

function unique(probs: Problems, items: ReadonlyArray<{ key: string | number; ptr: string }>, what: string): void {
  const seen = new Set<string | number>();
  for (const it of items) {
    if (seen.has(it.key)) probs.add(it.ptr, `a ${what} not used before in the same list`, JSON.stringify(it.key));
    seen.add(it.key);
  }
}

/** The image and, for a holding cell, the VMM's answers to the 0x6000 reads (one queue per vCPU). */
function guestOf(vm: VmSpec, at: string, probs: Problems): { image: Uint8Array; reads: ReadPlan[] } {
  const g = vm.guest;
  if ('program' in g) {
    const b = guestProgram();
    addOps(b, g.program, `${at}/guest/program`, probs);
    return { image: b.build(), reads: [] };
  }
  if ('raw' in g) return { image: hexBytes(g.raw), reads: [] };
  const queues = new Map<number, bigint[]>();
  g.holdingCell.forEach((c, i) => {
    const ptr = `${at}/guest/holdingCell/${i}`;
    const vcpu = c.vcpu ?? 0;
    if (vcpu >= vm.vcpus) probs.add(`${ptr}/vcpu`, `a vCPU index below ${vm.vcpus}`, String(vcpu));
    const id = typeof c.cmd === 'number' ? c.cmd : HoldingCellCmd[c.cmd as keyof typeof HoldingCellCmd];
    const args = (c.args ?? []).map((x, k) => probs.value(`${ptr}/args/${k}`, x));
    const nargs = c.nargs ?? args.length;
    const q = queues.get(vcpu) ?? [];
    q.push(holdingCellWord(id, nargs, c.hold === true));
    // The guest reads the word's nargs arguments (none for an id it rejects), then the HOLD read.
    if (id <= HOLDING_CELL_MAX_ID) {
      for (let k = 0; k < nargs; k++) q.push(args[k] ?? 0n);
      if (c.hold === true && nargs <= (HOLDING_CELL_NARGS[id] ?? 0)) q.push(0n);
    }
    queues.set(vcpu, q);
  });
  const reads: ReadPlan[] = [];
  for (let v = 0; v < vm.vcpus; v++) {
    reads.push({ addr: BigInt(HoldingCellReg.CMD), vcpu: v, values: queues.get(v) ?? [], then: 'stop' });
  }
  return { image: holdingCellImage(), reads };
}

function regionsOf(vm: VmSpec, at: string, image: Uint8Array, probs: Problems, gh: boolean): { regions: RegionPlan[]; boot: number; dtbOffset: number } {
  const specs: readonly RegionSpec[] = vm.memory ?? [{ name: 'ram', guestAddr: '0x80000000', access: 'lend', allow: 'rwx', boot: true }];
  unique(probs, specs.map((r, i) => ({ key: r.name, ptr: `${at}/memory/${i}/name` })), 'region name');
  let boot = specs.findIndex((r) => r.boot === true);
  if (specs.filter((r) => r.boot === true).length > 1) {
    probs.add(`${at}/memory`, 'at most one region with "boot": true', `${specs.filter((r) => r.boot === true).length}`);
  }
  if (boot < 0) boot = 0;
  const binSize = pageAlign(image.length);
  const needed = binSize + PAGE + vm.vcpus * PAGE;
  const regions = specs.map((r, i): RegionPlan => {
    const ptr = `${at}/memory/${i}`;
    const isBoot = i === boot;
    const size = probs.size(`${ptr}/size`, r.size, isBoot ? needed : 0);
    if (r.size === undefined && !isBoot) probs.add(`${ptr}/size`, 'a size in bytes (only the boot region may leave it out)', 'nothing');
    if (isBoot && size < needed) {
      probs.add(`${ptr}/size`, `at least ${needed} bytes (image ${binSize}, DTB page, ${vm.vcpus} stack pages)`, String(r.size));
    }
    if (isBoot && r.map === 'later') probs.add(`${ptr}/map`, '"start" for the boot region', '"later"');
    const access = r.access ?? 'lend';
    // gh_: GH_MEM_ALLOW_READ 0x1 / WRITE 0x2 / EXEC 0x4 (the v17 ALLOW bits shifted down by 4).
    const flags = gh ? allowBits(r.allow ?? 'rwx') >> 4 : (access === 'lend' ? 1 : access === 'share' ? 2 : 0) | allowBits(r.allow ?? 'rwx');
    const init = (r.init ?? []).map((x, k) => ({
      offset: probs.size(`${ptr}/init/${k}/offset`, x.offset, 0),
      bytes: x.hex !== undefined ? hexBytes(x.hex) : le64(probs.value(`${ptr}/init/${k}/u64`, x.u64)),
    }));
    return {
      name: r.name,
      guestAddr: probs.u64(`${ptr}/guestAddr`, r.guestAddr),
      size,
      fileOffset: probs.size(`${ptr}/fileOffset`, r.fileOffset, 0),
      flags,
      label: r.label ?? i,
      share: access === 'share',
      boot: isBoot,
      mapAtStart: r.map !== 'later',
      init,
    };
  });
  return { regions, boot, dtbOffset: binSize };
}

function vmPlan(vm: VmSpec, index: number, probs: Problems, dialect: DialectName): VmPlan {
  const at = `/vms/${index}`;
  const gh = dialect === 'gh';
  dialectChecks(vm, at, probs, gh);
  const { image, reads: hcReads } = guestOf(vm, at, probs);
  const { regions, boot, dtbOffset } = regionsOf(vm, at, image, probs, gh);
  const regionNames = new Set(regions.map((r) => r.name));
  const doorbells = vm.doorbells ?? [];
  unique(probs, doorbells.map((d, i) => ({ key: d.label, ptr: `${at}/doorbells/${i}/label` })), 'doorbell label');
  const ioeventfds = vm.ioeventfds ?? [];
  unique(probs, ioeventfds.map((d, i) => ({ key: d.name, ptr: `${at}/ioeventfds/${i}/name` })), 'ioeventfd name');
  ioeventfds.forEach((d, i) => {
    probs.u64(`${at}/ioeventfds/${i}/addr`, d.addr);
    probs.u64(`${at}/ioeventfds/${i}/datamatch`, d.datamatch);
  });
  const irqfdLabels = new Set(doorbells.filter((d) => d.irqfd !== false).map((d) => d.label));
  const ioeNames = new Set(ioeventfds.map((d) => d.name));
  const vcpuOk = (ptr: string, v: number | undefined): void => {
    if (v !== undefined && v >= vm.vcpus) probs.add(ptr, `a vCPU index below ${vm.vcpus}`, String(v));
  };
  const regionOk = (ptr: string, name: string): void => {
    if (!regionNames.has(name)) probs.add(ptr, `a region of this VM (${[...regionNames].join(', ')})`, JSON.stringify(name));
  };
  if (vm.scmi) {
    regionOk(`${at}/scmi/ring`, vm.scmi.ring);
    const ring = regions.find((r) => r.name === vm.scmi?.ring);
    if (ring && !ring.share) probs.add(`${at}/scmi/ring`, 'a region with "access": "share" (the backend reads the rings)', JSON.stringify(vm.scmi.ring));
    const devices = defaultPlatform().devices.map((d) => d.name);
    vm.scmi.devices?.forEach((d, i) => {
      if (!devices.includes(d)) probs.add(`${at}/scmi/devices/${i}`, `a device of the default platform (${devices.join(', ')})`, JSON.stringify(d));
    });
    probs.u64(`${at}/scmi/mmioBase`, vm.scmi.mmioBase);
    probs.u64(`${at}/scmi/deviceMask`, vm.scmi.deviceMask);
  }
  const vmm = vm.vmm ?? {};
  const reads: ReadPlan[] = [...hcReads];
  (vmm.reads ?? []).forEach((r, i) => {
    const ptr = `${at}/vmm/reads/${i}`;
    vcpuOk(`${ptr}/vcpu`, r.vcpu);
    const values = r.values !== undefined ? r.values.map((x, k) => probs.value(`${ptr}/values/${k}`, x)) : [probs.value(`${ptr}/value`, r.value)];
    reads.push({ addr: probs.u64(`${ptr}/addr`, r.addr), vcpu: r.vcpu, values, then: r.then ?? 'repeat-last' });
  });
  (vmm.actions ?? []).forEach((rule, i) => {
    const ptr = `${at}/vmm/actions/${i}`;
    const w = rule.when;
    if (w.exit?.vm !== undefined && w.exit.vm !== vm.name) probs.add(`${ptr}/when/exit/vm`, `this VM's name ${JSON.stringify(vm.name)} (or nothing)`, JSON.stringify(w.exit.vm));
    vcpuOk(`${ptr}/when/exit/vcpu`, w.exit?.vcpu);
    vcpuOk(`${ptr}/when/errno/vcpu`, w.errno?.vcpu);
    vcpuOk(`${ptr}/when/pending/vcpu`, w.pending?.vcpu);
    vcpuOk(`${ptr}/when/beforeRun/vcpu`, w.beforeRun?.vcpu);
    if (w.exit?.addr !== undefined) probs.u64(`${ptr}/when/exit/addr`, w.exit.addr);
    rule.do.forEach((a, k) => {
      const ap = `${ptr}/do/${k}`;
      const keys = Object.keys(a).filter((x) => x !== 'vcpu');
      if (keys.length !== 1) probs.add(ap, 'exactly one action (plus an optional vcpu)', `an object with ${Object.keys(a).join(', ')}`);
      vcpuOk(`${ap}/vcpu`, a.vcpu);
      if (a.value !== undefined) probs.value(`${ap}/value`, a.value);
      if (a.punchHole) regionOk(`${ap}/punchHole/region`, a.punchHole.region);
      if (a.mapMem) regionOk(`${ap}/mapMem/region`, a.mapMem.region);
      if (a.unmapMem) regionOk(`${ap}/unmapMem/region`, a.unmapMem.region);
      if (a.ring && !irqfdLabels.has(a.ring.label)) probs.add(`${ap}/ring/label`, `the label of a doorbell with an irqfd (${[...irqfdLabels].join(', ') || 'none'})`, String(a.ring.label));
      if (a.removeIrqfd && !irqfdLabels.has(a.removeIrqfd.label)) probs.add(`${ap}/removeIrqfd/label`, `the label of a doorbell with an irqfd (${[...irqfdLabels].join(', ') || 'none'})`, String(a.removeIrqfd.label));
      if (a.readEventfd?.irqfd !== undefined && !irqfdLabels.has(a.readEventfd.irqfd)) {
        probs.add(`${ap}/readEventfd/irqfd`, `the label of a doorbell with an irqfd (${[...irqfdLabels].join(', ') || 'none'})`, String(a.readEventfd.irqfd));
      }
      const ioe = a.readEventfd?.ioeventfd ?? a.removeIoeventfd?.name;
      if (ioe !== undefined && !ioeNames.has(ioe)) {
        probs.add(`${ap}/${a.readEventfd ? 'readEventfd/ioeventfd' : 'removeIoeventfd/name'}`, `an ioeventfd of this VM (${[...ioeNames].join(', ') || 'none'})`, JSON.stringify(ioe));
      }
    });
  });
  const bootContext = (vm.bootContext ?? []).map((b, i) => ({
    reg: typeof b.reg === 'number' ? b.reg : named(BOOT_REGS, b.reg),
    value: probs.value(`${at}/bootContext/${i}/value`, b.value),
  }));
  return {
    index,
    name: vm.name,
    spec: vm,
    vcpus: vm.vcpus,
    image,
    regions,
    bootRegion: boot,
    dtbOffset,
    doorbells,
    ioeventfds,
    scmi: vm.scmi,
    bootContext,
    start: vm.start !== false,
    checkExtension: vm.checkExtension ?? [],
    reads,
    readDefault: probs.value(`${at}/vmm/readDefault`, vmm.readDefault),
    runsAfterExit: vmm.runsAfterExit ?? 0,
    clearImmediateExit: vmm.clearImmediateExit !== false,
    rules: vmm.actions ?? [],
  };
}

function faultPlan(s: Scenario, probs: Problems): FaultPlan | undefined {
  const f = s.faults;
  if (!f) return undefined;
  const plan: Record<string, unknown> = {};
  if (f.rm) {
    plan['rm'] = f.rm.map((x) => ({
      msgId: typeof x.msgId === 'number' ? x.msgId : RmMsgId[x.msgId as keyof typeof RmMsgId],
      error: x.error,
      ...(x.occurrence !== undefined ? { occurrence: x.occurrence } : {}),
      ...(x.sticky !== undefined ? { sticky: x.sticky } : {}),
    }));
  }
  if (f.hypercalls) plan['hypercalls'] = f.hypercalls.map((x) => ({ ...x }));
  if (f.vcpuRun) {
    plan['vcpuRun'] = f.vcpuRun.map((x, i) => ({
      ...x,
      state: named(VcpuRunState, x.state),
      ...(x.stateData ? { stateData: x.stateData.map((d, k) => probs.u64(`/faults/vcpuRun/${i}/stateData/${k}`, d)) } : {}),
    }));
  }
  if (f.vmExited) {
    plan['vmExited'] = f.vmExited.map((x) => ({
      ...x,
      ...(x.exitType !== undefined ? { exitType: named(ExitType, x.exitType) } : {}),
      ...(x.reason !== undefined ? { reason: [...hexBytes(x.reason)] } : {}),
    }));
  }
  return plan as FaultPlan;
}

/** Compile a schema-valid scenario; the problems, or the plan. */
export function compileScenario(s: Scenario): { ok: true; plan: ScenarioPlan } | { ok: false; errors: ScenarioError[] } {
  const probs = new Problems();
  unique(probs, s.vms.map((v, i) => ({ key: v.name, ptr: `/vms/${i}/name` })), 'VM name');
  const dialect: DialectName = s.machine?.dialect ?? 'v17';
  const vms = s.vms.map((vm, i) => vmPlan(vm, i, probs, dialect));
  const byName = new Map(vms.map((v) => [v.name, v]));
  let order: Array<{ vm: number; vcpu: number }> = [];
  if (s.run?.order) {
    s.run.order.forEach((entry, i) => {
      const [name, idx] = entry.split(':') as [string, string];
      const vm = byName.get(name);
      const vcpu = Number(idx);
      if (!vm) probs.add(`/run/order/${i}`, `"vm:vcpu" of a VM of this scenario (${[...byName.keys()].join(', ')})`, JSON.stringify(entry));
      else if (vcpu >= vm.vcpus) probs.add(`/run/order/${i}`, `a vCPU index below ${vm.vcpus} for ${name}`, JSON.stringify(entry));
      else if (order.some((o) => o.vm === vm.index && o.vcpu === vcpu)) probs.add(`/run/order/${i}`, 'each vCPU at most once', JSON.stringify(entry));
      else order.push({ vm: vm.index, vcpu });
    });
  } else {
    order = vms.flatMap((v) => Array.from({ length: v.vcpus }, (_, vcpu) => ({ vm: v.index, vcpu })));
  }
  s.expect.forEach((e, i) => {
    const body = (e.exit ?? e.ioctl ?? e.notification ?? e.pending ?? e.eventfd) as { vm?: string; vcpu?: number; ioeventfd?: string } | undefined;
    const key = Object.keys(e).find((k) => k !== 'note') ?? 'exit';
    if (body?.vm !== undefined) {
      const vm = byName.get(body.vm);
      if (!vm) probs.add(`/expect/${i}/${key}/vm`, `a VM of this scenario (${[...byName.keys()].join(', ')})`, JSON.stringify(body.vm));
      else {
        if (body.vcpu !== undefined && body.vcpu >= vm.vcpus) probs.add(`/expect/${i}/${key}/vcpu`, `a vCPU index below ${vm.vcpus}`, String(body.vcpu));
        if (body.ioeventfd !== undefined && !vm.ioeventfds.some((x) => x.name === body.ioeventfd)) {
          probs.add(`/expect/${i}/${key}/ioeventfd`, `an ioeventfd of ${vm.name}`, JSON.stringify(body.ioeventfd));
        }
      }
    }
    const ex = e.exit;
    if (dialect === 'gh') ghExitCheck(ex, `/expect/${i}/exit`, probs);
    opCheck(e.ioctl?.op, `/expect/${i}/ioctl/op`, dialect, probs);
    if (ex) {
      probs.u64(`/expect/${i}/exit/addr`, ex.addr);
      probs.value(`/expect/${i}/exit/data`, ex.data);
      probs.value(`/expect/${i}/exit/supplied`, ex.supplied);
    }
    if (e.eventfd?.value !== undefined) probs.u64(`/expect/${i}/eventfd/value`, e.eventfd.value);
  });
  const faults = faultPlan(s, probs);
  if (probs.list.length > 0) return { ok: false, errors: probs.list };
  const m = s.machine ?? {};
  const seed = m.seed ?? 1;
  const emulator: EmulatorOptions = {
    cpus: m.cpus ?? 8,
    ...(dialect === 'gh' ? { dialect } : {}),
    ...(faults ? { faults } : {}),
    ...(m.quirks ? { quirks: m.quirks } : {}),
    ...(m.rm ? { rm: { ...m.rm } } : {}),
    ...(m.scmi?.hostName ? { scmi: { hostName: m.scmi.hostName } } : {}),
  };
  const run = s.run ?? {};
  return {
    ok: true,
    plan: {
      scenario: s,
      dialect,
      emulator,
      seed,
      vms,
      order,
      schedule: run.schedule ?? 'round-robin',
      maxSteps: run.maxSteps ?? 1000,
      settleTurns: run.settleTurns ?? 64,
      errnoLimit: run.errnoLimit ?? 2,
      maxRunsPerVcpu: run.maxRunsPerVcpu ?? 500,
      expectations: s.expect,
    },
  };
}

/** Why a field means nothing in a gh_ scenario (docs/scenarios.md "The gh_ dialect"). */
const GH_NO = {
  bootContext: 'no bootContext in a gh_ scenario (the gh_ driver has no SET_BOOT_CONTEXT: the RM enters the DTB\'s region at its base with X0 = the DTB, B13)',
  fileOffset: 'no fileOffset in a gh_ scenario (a region is the VMM\'s anonymous memory, not a guest-memory file)',
  map: 'no map in a gh_ scenario (no MAP_MEM: every region is registered during set-up and goes to the RM at START)',
  access: '"lend" or "share" in a gh_ scenario (GH_VM_ANDROID_LEND_USER_MEM or GH_VM_SET_USER_MEM_REGION)',
  scmi: 'no scmi device in a gh_ scenario (the emulated RM maps only the image region into a gh_ VM, so the guest cannot reach a ring region; G13)',
  resume: 'no resume in a gh_ scenario (gh_ has no resume_action: a read completes with the value in mmio.data, a write by the next RUN; GV6)',
  punchHole: 'no punchHole in a gh_ scenario (a region is anonymous memory, pinned whole; there is no guest-memory file to punch)',
  mapMem: 'no mapMem in a gh_ scenario (gh_ has no MAP_MEM)',
  unmapMem: 'no unmapMem in a gh_ scenario (gh_ has no MAP_MEM)',
  pageFault: 'an exit kind other than "page-fault" in a gh_ scenario (gh_ has no page-fault exits; ADDRSPACE_PAGE_FAULT spins, GV4)',
  attempt: 'no attempt in a gh_ scenario (it belongs to page-fault exits, which gh_ does not have)',
} as const;

/** The fields of one dialect that the other cannot express. */
function dialectChecks(vm: VmSpec, at: string, probs: Problems, gh: boolean): void {
  if (!gh) {
    vm.memory?.forEach((r, j) => {
      if (r.label !== undefined) probs.add(`${at}/memory/${j}/label`, 'no label in a v17 scenario (labels belong to gh_ user-memory regions: "machine": {"dialect": "gh"})', String(r.label));
    });
    if (vm.checkExtension !== undefined) {
      probs.add(`${at}/checkExtension`, 'no checkExtension in a v17 scenario (GH_VM_CHECK_EXTENSION is gh_ only: "machine": {"dialect": "gh"})', describeValue(vm.checkExtension));
    }
    vm.vmm?.actions?.forEach((rule, i) => {
      opCheck(rule.when.errno?.op, `${at}/vmm/actions/${i}/when/errno/op`, 'v17', probs);
    });
    return;
  }
  if (vm.bootContext !== undefined) probs.add(`${at}/bootContext`, GH_NO.bootContext, describeValue(vm.bootContext));
  if (vm.scmi !== undefined) probs.add(`${at}/scmi`, GH_NO.scmi, describeValue(vm.scmi));
  vm.memory?.forEach((r, j) => {
    const ptr = `${at}/memory/${j}`;
    if (r.fileOffset !== undefined) probs.add(`${ptr}/fileOffset`, GH_NO.fileOffset, JSON.stringify(r.fileOffset));
    if (r.map !== undefined) probs.add(`${ptr}/map`, GH_NO.map, JSON.stringify(r.map));
    if (r.access === 'default') probs.add(`${ptr}/access`, GH_NO.access, '"default"');
  });
  vm.vmm?.actions?.forEach((rule, i) => {
    const ptr = `${at}/vmm/actions/${i}`;
    ghExitCheck(rule.when.exit, `${ptr}/when/exit`, probs);
    opCheck(rule.when.errno?.op, `${ptr}/when/errno/op`, 'gh', probs);
    rule.do.forEach((a, k) => {
      for (const f of ['resume', 'punchHole', 'mapMem', 'unmapMem'] as const) {
        if (a[f] !== undefined) probs.add(`${ptr}/do/${k}/${f}`, GH_NO[f], describeValue(a[f]));
      }
    });
  });
}

/** An exit match in a gh_ scenario: no page faults. */
function ghExitCheck(ex: { kind?: string; attempt?: string | number } | undefined, ptr: string, probs: Problems): void {
  if (ex?.kind === 'page-fault') probs.add(`${ptr}/kind`, GH_NO.pageFault, '"page-fault"');
  if (ex?.attempt !== undefined) probs.add(`${ptr}/attempt`, GH_NO.attempt, JSON.stringify(ex.attempt));
}

/** An ioctl name of the other dialect. */
function opCheck(op: string | undefined, ptr: string, dialect: DialectName, probs: Problems): void {
  if (op === undefined) return;
  const other = dialect === 'gh' ? V17_IOCTL_NAMES : GH_IOCTL_NAMES;
  const own = dialect === 'gh' ? GH_IOCTL_NAMES : V17_IOCTL_NAMES;
  if (other.includes(op) && !own.includes(op)) {
    probs.add(ptr, `an ioctl of the ${dialect === 'gh' ? 'gh_' : 'v17'} dialect (${own.join(', ')}) or fallocate, eventfd_write, eventfd_read`, JSON.stringify(op));
  }
}
