/**
 * The timeline of a trace: the records of a `--trace` file (docs/tracing.md) laid out as
 * processes, thread tracks, slices, instants, flows and counters — what the Perfetto export
 * (src/trace/perfetto.ts) writes as Chrome trace-event JSON and what the HTML view
 * (src/trace/html-view.ts) draws.
 *
 * Layout (docs/reproducing-an-exit-reason-bug.md shows it):
 * - one process for the host kernel (the Linux VM manager model): a track for ioctls on files
 *   other than VM and vCPU files (/dev/gunyah), one for its RM client (each call from
 *   `rm.call` to the reply, notifications, frames), one for host hypercalls, one for the
 *   kernel's own events, one for injected faults;
 * - one process for the Resource Manager: one track, a slice per request it handled (from the
 *   request frame it received to the reply frame it sent), notifications, VM state changes,
 *   frames; flows from each client call to the RM's handling (`request`) and from the RM's
 *   reply back to the client (`reply`), and from each notification the RM sent to its delivery;
 * - one process per VM of the kernel (`kernel.vm-created`): a `VMM` track for the ioctls on the
 *   VM file and the VM's kernel events, and one track per vCPU: a slice per GUNYAH_VCPU_RUN
 *   (from `ioctl.enter` to its `ioctl` return) with a nested slice per hypervisor vcpu_run
 *   (`vcpu.state`, from the vCPU's first guest operation of that call to the answer), instants
 *   for guest operations, exits and ioctl returns; a `memory` counter (`mem.lent`);
 * - one process for the SCMI platform when the trace has SCMI records: a track per agent with a
 *   slice per message (`scmi.msg` begin to end), and a counter per voted resource.
 *
 * Times stay in the trace's virtual nanoseconds (`t`); a record is 1000 ns after the previous
 * one, so a slice that stands for one record spans ±250 ns around it. Slices of one track that
 * would overlap without nesting (two RUNs of one vCPU in flight, overlapping RM calls) go to
 * extra lanes of that track, so every track nests properly.
 *
 * Reference: docs/tracing.md (records and fields); uapi.md §8.4–§8.10 (RUN, vcpu_run, exits);
 * rm-rpc.md §3–§5 (requests, replies, notifications); the Chrome trace-event format's rules for
 * slices and flows (nesting per thread, flow binding to the enclosing slice).
 */
import type { TraceEvent } from '../shared/trace.js';
import type { TraceHeaderEvent } from '../shared/trace-events.js';

/** What a track shows (the HTML view colours by it). */
export type TrackKind = 'vcpu' | 'vmm' | 'ioctl' | 'rm' | 'rm-client' | 'hyp' | 'kernel' | 'faults' | 'scmi';

export interface TimelineProcess {
  readonly pid: number;
  readonly name: string;
  readonly kind: 'kernel' | 'rm' | 'scmi' | 'vm';
}

export interface TimelineTrack {
  /** Thread id in the export; unique over the whole timeline. */
  readonly tid: number;
  readonly pid: number;
  readonly name: string;
  readonly kind: TrackKind;
  /** 0 for a track's first lane; 1, 2, … for the lanes slices that would overlap went to. */
  readonly lane: number;
  /** Depth of the deepest slice (0: no nesting). */
  readonly maxDepth: number;
}

/** Fields shown with an event: the trace record it came from (and a few derived values). */
export type EventArgs = Readonly<Record<string, unknown>>;

export interface TimelineSlice {
  readonly tid: number;
  /** Virtual ns. */
  readonly start: number;
  readonly end: number;
  readonly name: string;
  /** Category: run, vcpu_run, ioctl, rm, notify, scmi. */
  readonly cat: string;
  /** Nesting depth on its track (0 = outermost). */
  readonly depth: number;
  readonly args: EventArgs;
}

export interface TimelineInstant {
  readonly tid: number;
  readonly t: number;
  readonly name: string;
  /** Category: exit, ioctl, guest, frame, rm, kernel, hyp, fault, status. */
  readonly cat: string;
  readonly args: EventArgs;
}

export interface TimelineFlow {
  readonly id: number;
  /** request, reply, notify. */
  readonly name: string;
  readonly from: { readonly tid: number; readonly t: number };
  readonly to: { readonly tid: number; readonly t: number };
}

export interface TimelineCounter {
  readonly pid: number;
  readonly name: string;
  readonly t: number;
  readonly values: Readonly<Record<string, number>>;
}

export interface Timeline {
  readonly header: TraceHeaderEvent | undefined;
  readonly processes: readonly TimelineProcess[];
  /** In display order. */
  readonly tracks: readonly TimelineTrack[];
  readonly slices: readonly TimelineSlice[];
  readonly instants: readonly TimelineInstant[];
  readonly flows: readonly TimelineFlow[];
  readonly counters: readonly TimelineCounter[];
  /** Virtual ns of the first and last record (0, 0 for an empty trace). */
  readonly start: number;
  readonly end: number;
}

/** Half the width of a slice that stands for one record. */
const HALF = 250;
/** The RM link of the host VM (rm-rpc.md §2: the host is VMID 3); its frames pair with the kernel's RM client. */
const HOST_VMID = 3;
const PID_KERNEL = 1;
const PID_RM = 2;
const PID_SCMI = 3;
const PID_VM_BASE = 10;
/** Kernel VMs are numbered from 1; a VM seen only by vmid gets a process above this. */
const PID_VMID_BASE = 100_000;
/** Thread ids start here, above every pid, so no tid equals a pid. */
const TID_BASE = 1_000_000;

// ── record accessors ──────────────────────────────────────────────────────────────────────

const num = (ev: TraceEvent, k: string): number | undefined => (typeof ev[k] === 'number' ? (ev[k] as number) : undefined);
const str = (ev: TraceEvent, k: string): string | undefined => (typeof ev[k] === 'string' ? (ev[k] as string) : undefined);
const hexOf = (n: number): string => `0x${n.toString(16)}`;

/** The record as the fields shown with an event: without `t` (the event's time says it), with `seq` (to find it in the file). */
function fields(ev: TraceEvent): EventArgs {
  const { t: _t, ...rest } = ev;
  return rest;
}

// ── building ──────────────────────────────────────────────────────────────────────────────

/** A slice before lanes are assigned. */
interface RawSlice {
  readonly track: LogicalTrack;
  start: number;
  end: number;
  name: string;
  readonly cat: string;
  args: Record<string, unknown>;
  /** Tie-break for equal intervals: lower is the outer one. */
  readonly rank: number;
  readonly order: number;
  lane?: number;
  depth?: number;
}

interface LogicalTrack {
  readonly key: string;
  readonly pid: number;
  readonly name: string;
  readonly kind: TrackKind;
  readonly sort: number;
  readonly order: number;
  readonly slices: RawSlice[];
  /** tid of each lane, set when lanes are assigned. */
  tids: number[];
}

interface RawInstant {
  readonly track: LogicalTrack;
  readonly t: number;
  readonly name: string;
  readonly cat: string;
  readonly args: EventArgs;
}

interface RawFlow {
  readonly name: string;
  readonly from: { readonly slice: RawSlice; readonly t: number };
  readonly to: { readonly slice: RawSlice; readonly t: number };
}

/** A GUNYAH ioctl between its enter and return records. */
interface OpenIoctl {
  readonly enter: TraceEvent;
  readonly track: LogicalTrack;
  readonly isRun: boolean;
  /** CREATE_VM: the VM it created. */
  createdVm?: number;
  /** RUN: the exit it gave. */
  exit?: TraceEvent;
}

/** Per-vCPU state for the vcpu_run slices. */
interface VcpuCursor {
  /** The first guest operation since the last RUN entry or vcpu_run answer. */
  firstOp: number | undefined;
}

/** An RM request the client sent (kernel side) or the RM received. */
interface RmOpen {
  readonly slice: RawSlice;
  readonly msgId: number;
  readonly rmSeq: number;
  /** RM side: where the reply flow leaves; client side: where the reply frame arrived. */
  replyAt?: number;
  replied?: boolean;
  /** RM side: replied, its reply frame not seen yet. */
  frameDue?: boolean;
  /** Client side: the RM's handling it was paired with. */
  peer?: RmOpen;
}

class TimelineBuilder {
  readonly processes = new Map<number, TimelineProcess & { readonly sort: number }>();
  readonly tracks = new Map<string, LogicalTrack>();
  readonly slices: RawSlice[] = [];
  readonly instants: RawInstant[] = [];
  readonly flows: RawFlow[] = [];
  readonly counters: TimelineCounter[] = [];

  /** fd → kernel VM number (VM files); fd → VM and vCPU (vCPU files). */
  readonly vmFds = new Map<number, number>();
  readonly vcpuFds = new Map<number, { vm: number; vcpu: number }>();
  readonly vmVmid = new Map<number, number>();
  readonly openIoctls = new Map<string, OpenIoctl>();
  /** RUNs in flight per vCPU track, oldest first. */
  readonly openRuns = new Map<LogicalTrack, OpenIoctl[]>();
  readonly cursors = new Map<LogicalTrack, VcpuCursor>();
  readonly clientCalls: RmOpen[] = [];
  readonly rmRequests: RmOpen[] = [];
  readonly rmNotifications: Array<{ slice: RawSlice; msgId: number; rmSeq: number; t: number }> = [];
  readonly scmiOpen = new Map<string, RawSlice[]>();
  end = 0;

  constructor(
    /** vmid → kernel VM number, the pairs in the order they were seen. */
    private readonly vmidPairs: ReadonlyArray<{ vmid: number; vm: number; t: number }>,
  ) {}

  process(pid: number, name: string, kind: TimelineProcess['kind'], sort: number): number {
    if (!this.processes.has(pid)) this.processes.set(pid, { pid, name, kind, sort });
    return pid;
  }

  track(pid: number, key: string, name: string, kind: TrackKind, sort: number): LogicalTrack {
    const k = `${pid}/${key}`;
    let tr = this.tracks.get(k);
    if (!tr) {
      tr = { key: k, pid, name, kind, sort, order: this.tracks.size, slices: [], tids: [] };
      this.tracks.set(k, tr);
    }
    return tr;
  }

  slice(track: LogicalTrack, start: number, end: number, name: string, cat: string, args: Record<string, unknown>, rank = 1): RawSlice {
    const s: RawSlice = { track, start, end: Math.max(end, start), name, cat, args, rank, order: this.slices.length };
    track.slices.push(s);
    this.slices.push(s);
    return s;
  }

  instant(track: LogicalTrack, t: number, name: string, cat: string, args: EventArgs): void {
    this.instants.push({ track, t, name, cat, args });
  }

  // ── processes and tracks ──

  kernelTrack(key: 'ioctl' | 'rm-client' | 'hyp' | 'kernel' | 'faults'): LogicalTrack {
    this.process(PID_KERNEL, 'host kernel', 'kernel', 0);
    const names = { ioctl: '/dev/gunyah ioctls', 'rm-client': 'RM client', hyp: 'hypercalls', kernel: 'kernel', faults: 'faults injected' } as const;
    const sort = { ioctl: 0, 'rm-client': 1, hyp: 2, kernel: 3, faults: 4 } as const;
    return this.track(PID_KERNEL, key, names[key], key, sort[key]);
  }

  rmTrack(): LogicalTrack {
    this.process(PID_RM, 'Resource Manager', 'rm', 1);
    return this.track(PID_RM, 'rm', 'RM', 'rm', 0);
  }

  scmiTrack(agent: number): LogicalTrack {
    this.process(PID_SCMI, 'SCMI platform', 'scmi', 2);
    return this.track(PID_SCMI, `agent${agent}`, `agent ${agent}`, 'scmi', agent);
  }

  /** The process of kernel VM `vm`. */
  vmPid(vm: number): number {
    const vmid = this.vmVmid.get(vm);
    const pid = PID_VM_BASE + vm;
    const existing = this.processes.get(pid);
    const name = `VM ${vm}${vmid !== undefined ? ` (vmid ${hexOf(vmid)})` : ''}`;
    if (!existing || existing.name !== name) this.processes.set(pid, { pid, name, kind: 'vm', sort: 10 + vm });
    return pid;
  }

  /** The process of a VM known only by its vmid (no kernel VM record names it). */
  vmidPid(vmid: number): number {
    return this.process(PID_VMID_BASE + vmid, `vmid ${hexOf(vmid)}`, 'vm', PID_VMID_BASE + vmid);
  }

  vmmTrack(vm: number): LogicalTrack {
    return this.track(this.vmPid(vm), 'vmm', 'VMM', 'vmm', -1);
  }

  vcpuTrack(pid: number, vcpu: number): LogicalTrack {
    return this.track(pid, `vcpu${vcpu}`, `vCPU ${vcpu}`, 'vcpu', vcpu);
  }

  /** The kernel VM of `vmid` at time `t` (vmids may be reused by later VMs). */
  vmOfVmid(vmid: number, t: number): number | undefined {
    let best: number | undefined;
    for (const p of this.vmidPairs) {
      if (p.vmid !== vmid) continue;
      if (best === undefined || p.t <= t) best = p.vm;
      if (p.t > t) break;
    }
    return best;
  }

  /** The process of the VM a record names by vmid. */
  pidOfVmid(vmid: number, t: number): number {
    const vm = this.vmOfVmid(vmid, t);
    if (vm === undefined) return this.vmidPid(vmid);
    if (!this.vmVmid.has(vm)) this.vmVmid.set(vm, vmid);
    return this.vmPid(vm);
  }

  // ── records ──

  add(ev: TraceEvent): void {
    const t = num(ev, 't') ?? this.end;
    this.end = Math.max(this.end, t);
    switch (ev.kind) {
      case 'ioctl.enter':
        return this.ioctlEnter(ev, t);
      case 'ioctl':
        return this.ioctlReturn(ev, t);
      case 'kernel.vm-created': {
        const vm = num(ev, 'vm');
        if (vm === undefined) return;
        const open = [...this.openIoctls.values()].reverse().find((o) => v17Name(str(o.enter, 'name')) === 'GUNYAH_CREATE_VM' && o.createdVm === undefined);
        if (open) open.createdVm = vm;
        this.instant(this.vmmTrack(vm), t, 'VM created', 'kernel', fields(ev));
        return;
      }
      case 'kernel.vm-freed':
      case 'kernel.function-added':
      case 'kernel.function-removed':
      case 'vm.status': {
        const vm = num(ev, 'vm');
        const vmid = num(ev, 'vmid');
        if (vm === undefined) return;
        if (vmid !== undefined && vmid !== 0xffff) this.vmVmid.set(vm, vmid);
        const name =
          ev.kind === 'vm.status'
            ? `status ${str(ev, 'statusName') ?? String(num(ev, 'status'))}`
            : ev.kind === 'kernel.vm-freed'
              ? 'VM freed'
              : ev.kind === 'kernel.function-added'
                ? `function ${String(num(ev, 'type'))} added`
                : `function ${String(num(ev, 'type'))} removed`;
        this.instant(this.vmmTrack(vm), t, name, ev.kind === 'vm.status' ? 'status' : 'kernel', fields(ev));
        return;
      }
      case 'kernel.scmi-queue-broken':
        this.instant(this.kernelTrack('kernel'), t, `SCMI queue broken: ${str(ev, 'reason') ?? ''}`, 'kernel', fields(ev));
        return;
      case 'vcpu.state':
        return this.vcpuState(ev, t);
      case 'guest.op':
      case 'guest.exception':
        return this.guest(ev, t);
      case 'vcpu.exit':
        return this.vcpuExit(ev, t);
      case 'hyp.call':
        this.instant(this.kernelTrack('hyp'), t, `${str(ev, 'call') ?? 'hypercall'} ${str(ev, 'errorName') ?? ''}`.trim(), 'hyp', fields(ev));
        return;
      case 'mem.lent': {
        const vmid = num(ev, 'vmid');
        if (vmid === undefined) return;
        this.counters.push({ pid: this.pidOfVmid(vmid, t), name: 'memory', t, values: { lent: num(ev, 'lent') ?? 0, shared: num(ev, 'shared') ?? 0 } });
        return;
      }
      case 'rm.call':
        return this.rmCall(ev, t);
      case 'rm.frame':
        return this.rmFrame(ev, t);
      case 'rm.reply':
        return this.rmReply(ev, t);
      case 'rm.notification':
        return this.rmNotification(ev, t);
      case 'rm.drop':
      case 'rm.assertion': {
        const track = str(ev, 'side') === 'client' ? this.kernelTrack('rm-client') : this.rmTrack();
        const what = ev.kind === 'rm.drop' ? `drop: ${str(ev, 'reason') ?? ''}` : `assertion: ${str(ev, 'what') ?? ''}`;
        this.instant(track, t, what, 'rm', fields(ev));
        return;
      }
      case 'rm.vm-state':
        this.instant(this.rmTrack(), t, `vm ${hexOf(num(ev, 'vmid') ?? 0)} ${str(ev, 'from') ?? ''} → ${str(ev, 'to') ?? ''}`, 'rm', fields(ev));
        return;
      case 'scmi.msg':
        return this.scmiMsg(ev, t);
      case 'scmi.vote': {
        this.process(PID_SCMI, 'SCMI platform', 'scmi', 2);
        const name = `${str(ev, 'resource') ?? 'resource'} ${String(num(ev, 'id') ?? 0)}`;
        const voters = Array.isArray(ev['voters']) ? (ev['voters'] as unknown[]).length : 0;
        this.counters.push({ pid: PID_SCMI, name, t, values: { value: num(ev, 'value') ?? 0 } });
        this.counters.push({ pid: PID_SCMI, name: `${name} voters`, t, values: { voters } });
        return;
      }
      case 'fault.injected':
        this.instant(this.kernelTrack('faults'), t, `fault ${str(ev, 'layer') ?? ''} ${str(ev, 'what') ?? ''}`.trim(), 'fault', fields(ev));
        return;
      default:
        return;
    }
  }

  ioctlKey(ev: TraceEvent): string {
    return `${String(num(ev, 'call'))}/${String(num(ev, 'fd'))}/${str(ev, 'request') ?? ''}`;
  }

  /** The track an ioctl on `fd` belongs to (and whether it is a vCPU's). */
  ioctlTrack(ev: TraceEvent): LogicalTrack {
    const fd = num(ev, 'fd') ?? -1;
    const vcpu = this.vcpuFds.get(fd);
    const file = str(ev, 'file') ?? '';
    if (vcpu && (file === '' || !file.startsWith('gunyah'))) return this.vcpuTrack(this.vmPid(vcpu.vm), vcpu.vcpu);
    const vm = this.vmFds.get(fd);
    if (vm !== undefined && file === 'gunyah-vm') return this.vmmTrack(vm);
    return this.kernelTrack('ioctl');
  }

  ioctlEnter(ev: TraceEvent, _t: number): void {
    const track = this.ioctlTrack(ev);
    const isRun = v17Name(str(ev, 'name')) === 'GUNYAH_VCPU_RUN';
    const open: OpenIoctl = { enter: ev, track, isRun };
    this.openIoctls.set(this.ioctlKey(ev), open);
    if (isRun) {
      const runs = this.openRuns.get(track) ?? [];
      runs.push(open);
      this.openRuns.set(track, runs);
      this.cursor(track).firstOp = undefined;
    }
  }

  ioctlReturn(ev: TraceEvent, t: number): void {
    const key = this.ioctlKey(ev);
    const open = this.openIoctls.get(key);
    this.openIoctls.delete(key);
    const name = str(ev, 'name') ?? str(ev, 'request') ?? 'ioctl';
    const short = name.replace(/^GUNYAH_/, '');
    const result = num(ev, 'result');
    const errno = str(ev, 'errno');
    const outcome = errno ?? (result !== undefined ? String(result) : '?');
    const track = open?.track ?? this.ioctlTrack(ev);
    if (open?.isRun) {
      const runs = this.openRuns.get(track) ?? [];
      if (runs.includes(open)) runs.splice(runs.indexOf(open), 1);
      this.slice(track, num(open.enter, 't') ?? t, t, `RUN → ${errno ?? (open.exit ? exitLabel(open.exit) : outcome)}`, 'run', { ...fields(ev), ...(open.exit ? { exit: fields(open.exit) } : {}) }, 0);
    } else if (open) {
      this.slice(track, num(open.enter, 't') ?? t, t, short, 'ioctl', { ...fields(ev) }, 0);
    }
    this.instant(track, t, `${short} = ${outcome}`, 'ioctl', fields(ev));
    // fds the call created.
    if (result !== undefined && result >= 0) {
      const fd = num(ev, 'fd') ?? -1;
      if (v17Name(name) === 'GUNYAH_CREATE_VM' && open?.createdVm !== undefined) this.vmFds.set(result, open.createdVm);
      const args = ev['args'] as Record<string, unknown> | undefined;
      const vm = this.vmFds.get(fd);
      if (v17Name(name) === 'GUNYAH_VM_ADD_FUNCTION' && vm !== undefined && args && (args['typeName'] === 'GUNYAH_FN_VCPU' || args['type'] === 1)) {
        const fn = args['fn'] as Record<string, unknown> | undefined;
        const id = typeof fn?.['id'] === 'number' ? fn['id'] : 0;
        this.vcpuFds.set(result, { vm, vcpu: id });
        this.vmFds.delete(result);
      } else if (name === 'GUNYAH_CREATE_VM') {
        this.vcpuFds.delete(result);
      }
    }
  }

  cursor(track: LogicalTrack): VcpuCursor {
    let c = this.cursors.get(track);
    if (!c) this.cursors.set(track, (c = { firstOp: undefined }));
    return c;
  }

  /** The track of vCPU `vcpu` of the VM `vmid` names. */
  vcpuTrackOf(vmid: number, vcpu: number, t: number): LogicalTrack {
    return this.vcpuTrack(this.pidOfVmid(vmid, t), vcpu);
  }

  vcpuState(ev: TraceEvent, t: number): void {
    const vmid = num(ev, 'vmid');
    const vcpu = num(ev, 'vcpu');
    const state = str(ev, 'stateName') ?? String(num(ev, 'state'));
    const errorName = str(ev, 'errorName') ?? 'OK';
    const label = `vcpu_run → ${errorName === 'OK' ? state : errorName}${ev['forced'] === true ? ' (forced)' : ''}`;
    if (vmid === undefined || vcpu === undefined) {
      this.instant(this.kernelTrack('hyp'), t, label, 'hyp', fields(ev));
      return;
    }
    const track = this.vcpuTrackOf(vmid, vcpu, t);
    const c = this.cursor(track);
    const start = (c.firstOp ?? t) - 2 * HALF;
    c.firstOp = undefined;
    this.slice(track, start, t, label, 'vcpu_run', { ...fields(ev) }, 1);
  }

  guest(ev: TraceEvent, t: number): void {
    const vmid = num(ev, 'vmid');
    const vcpu = num(ev, 'vcpu');
    if (vmid === undefined || vcpu === undefined) return;
    const track = this.vcpuTrackOf(vmid, vcpu, t);
    const c = this.cursor(track);
    if (c.firstOp === undefined) c.firstOp = t;
    const name =
      ev.kind === 'guest.exception'
        ? `exception: ${str(ev, 'why') ?? ''}`
        : `${str(ev, 'op') ?? 'op'}${str(ev, 'addr') ? ` ${str(ev, 'addr')}` : ''}${num(ev, 'len') !== undefined ? `/${String(num(ev, 'len'))}` : ''}`;
    this.instant(track, t, name, 'guest', fields(ev));
  }

  vcpuExit(ev: TraceEvent, t: number): void {
    const vm = num(ev, 'vm');
    const vcpu = num(ev, 'vcpu') ?? 0;
    const vmid = num(ev, 'vmid');
    if (vm !== undefined && vmid !== undefined && vmid !== 0xffff) this.vmVmid.set(vm, vmid);
    const track = vm !== undefined ? this.vcpuTrack(this.vmPid(vm), vcpu) : this.vcpuTrackOf(vmid ?? 0, vcpu, t);
    // The exit belongs to the oldest RUN in flight on the vCPU that has none yet.
    const run = this.openRuns.get(track)?.find((r) => r.exit === undefined);
    if (run) run.exit = ev;
    this.instant(track, t, `exit ${exitLabel(ev)}`, 'exit', fields(ev));
  }

  // ── RM ──

  rmCall(ev: TraceEvent, t: number): void {
    const msgId = num(ev, 'msgId') ?? 0;
    const rmSeq = num(ev, 'rmSeq') ?? 0;
    const s = this.slice(this.kernelTrack('rm-client'), t, t, str(ev, 'name') ?? hexOf(msgId), 'rm', { call: fields(ev) }, 0);
    this.clientCalls.push({ slice: s, msgId, rmSeq });
  }

  rmFrame(ev: TraceEvent, t: number): void {
    const side = str(ev, 'side');
    const type = str(ev, 'type');
    const dir = str(ev, 'dir');
    const msgId = num(ev, 'msgId');
    const rmSeq = num(ev, 'rmSeq');
    const track = side === 'client' ? this.kernelTrack('rm-client') : this.rmTrack();
    this.instant(track, t, `${dir ?? ''} ${type ?? 'frame'} ${str(ev, 'name') ?? ''}`.replace(/\s+/g, ' ').trim(), 'frame', fields(ev));
    if (msgId === undefined || rmSeq === undefined) return;
    if (side === 'rm' && dir === 'rx' && type === 'request') {
      const s = this.slice(track, t, t, str(ev, 'name') ?? hexOf(msgId), 'rm', { vmid: num(ev, 'vmid'), request: fields(ev) }, 0);
      const open: RmOpen = { slice: s, msgId, rmSeq };
      this.rmRequests.push(open);
      if (num(ev, 'vmid') === HOST_VMID) {
        const call = this.clientCalls.find((c) => c.peer === undefined && !c.replied && c.msgId === msgId && c.rmSeq === rmSeq);
        if (call) call.peer = open;
      }
    } else if (side === 'rm' && dir === 'tx' && type === 'reply') {
      // The handling ends when the reply frame leaves.
      const i = this.rmRequests.findIndex((r) => r.frameDue === true && r.msgId === msgId && r.rmSeq === rmSeq);
      const req = i >= 0 ? this.rmRequests[i] : undefined;
      if (req) {
        req.slice.end = Math.max(req.slice.end, t);
        this.rmRequests.splice(i, 1);
      }
    } else if (side === 'client' && dir === 'rx' && type === 'reply') {
      const call = this.clientCalls.find((c) => !c.replied && c.msgId === msgId && c.rmSeq === rmSeq);
      if (call && call.replyAt === undefined) call.replyAt = t;
    }
  }

  rmReply(ev: TraceEvent, t: number): void {
    const msgId = num(ev, 'msgId') ?? 0;
    const rmSeq = num(ev, 'rmSeq') ?? 0;
    const err = str(ev, 'err') ?? '?';
    if (str(ev, 'side') === 'rm') {
      const i = this.rmRequests.findIndex((r) => !r.replied && r.msgId === msgId && r.rmSeq === rmSeq && num(ev, 'vmid') === r.slice.args['vmid']);
      const req = i >= 0 ? this.rmRequests[i] : undefined;
      if (!req) {
        this.instant(this.rmTrack(), t, `reply ${str(ev, 'name') ?? hexOf(msgId)} ${err}`, 'rm', fields(ev));
        return;
      }
      req.replied = true;
      req.frameDue = true;
      req.replyAt = t;
      req.slice.end = t + 2 * HALF;
      req.slice.name = `${req.slice.name} → ${err}`;
      req.slice.args['reply'] = fields(ev);
      return;
    }
    const i = this.clientCalls.findIndex((c) => !c.replied && c.msgId === msgId && c.rmSeq === rmSeq);
    const call = i >= 0 ? this.clientCalls[i] : undefined;
    if (!call) {
      this.instant(this.kernelTrack('rm-client'), t, `reply ${str(ev, 'name') ?? hexOf(msgId)} ${err}`, 'rm', fields(ev));
      return;
    }
    call.replied = true;
    this.clientCalls.splice(i, 1);
    call.slice.end = t;
    call.slice.name = `${call.slice.name} → ${err}`;
    call.slice.args['reply'] = fields(ev);
    const peer = call.peer;
    if (peer) {
      this.flows.push({ name: 'request', from: { slice: call.slice, t: call.slice.start + HALF }, to: { slice: peer.slice, t: peer.slice.start + HALF } });
      if (peer.replied && peer.replyAt !== undefined) {
        this.flows.push({ name: 'reply', from: { slice: peer.slice, t: peer.replyAt }, to: { slice: call.slice, t: Math.min(call.replyAt ?? t - HALF, t - HALF) } });
      }
    }
  }

  rmNotification(ev: TraceEvent, t: number): void {
    const msgId = num(ev, 'msgId') ?? 0;
    const rmSeq = num(ev, 'rmSeq') ?? 0;
    const name = str(ev, 'name') ?? hexOf(msgId);
    if (str(ev, 'side') === 'rm') {
      const s = this.slice(this.rmTrack(), t - HALF, t + HALF, `notify ${name}`, 'notify', { ...fields(ev) }, 2);
      if (num(ev, 'vmid') === HOST_VMID) this.rmNotifications.push({ slice: s, msgId, rmSeq, t });
      return;
    }
    const s = this.slice(this.kernelTrack('rm-client'), t - HALF, t + HALF, `notification ${name}`, 'notify', { ...fields(ev) }, 2);
    const i = this.rmNotifications.findIndex((n) => n.msgId === msgId && n.rmSeq === rmSeq);
    const sent = i >= 0 ? this.rmNotifications[i] : undefined;
    if (sent) {
      this.rmNotifications.splice(i, 1);
      this.flows.push({ name: 'notify', from: { slice: sent.slice, t: sent.t }, to: { slice: s, t } });
    }
  }

  // ── SCMI ──

  scmiMsg(ev: TraceEvent, t: number): void {
    const agent = num(ev, 'agent') ?? 0;
    const track = this.scmiTrack(agent);
    const key = `${agent}/${String(num(ev, 'token'))}`;
    if (str(ev, 'phase') === 'begin') {
      const name = `proto ${hexOf(num(ev, 'protocol') ?? 0)} msg ${hexOf(num(ev, 'message') ?? 0)}`;
      const s = this.slice(track, t, t + 2 * HALF, name, 'scmi', { begin: fields(ev) }, 0);
      const list = this.scmiOpen.get(key) ?? [];
      list.push(s);
      this.scmiOpen.set(key, list);
      return;
    }
    const s = this.scmiOpen.get(key)?.shift();
    if (!s) {
      this.instant(track, t, `end ${str(ev, 'statusName') ?? ''}`, 'scmi', fields(ev));
      return;
    }
    s.end = Math.max(s.end, t);
    s.name = `${s.name} → ${str(ev, 'statusName') ?? String(num(ev, 'status'))}`;
    s.args['end'] = fields(ev);
  }

  // ── finishing ──

  /** Close what the trace left open at its end. */
  finish(): void {
    const end = this.end + 2 * HALF;
    for (const o of this.openIoctls.values()) {
      const start = num(o.enter, 't') ?? end;
      const name = (str(o.enter, 'name') ?? 'ioctl').replace(/^GUNYAH_/, '');
      this.slice(o.track, start, end, o.isRun ? 'RUN (no return)' : `${name} (no return)`, o.isRun ? 'run' : 'ioctl', { ...fields(o.enter), unfinished: true }, 0);
    }
    for (const c of this.clientCalls) {
      if (c.replied) continue;
      c.slice.end = end;
      c.slice.name = `${c.slice.name} (no reply)`;
      c.slice.args['unfinished'] = true;
    }
    for (const r of this.rmRequests) {
      if (r.replied) continue;
      r.slice.end = Math.max(r.slice.end, r.slice.start + 2 * HALF);
      r.slice.name = `${r.slice.name} (no reply)`;
      r.slice.args['unfinished'] = true;
    }
  }

  /**
   * Give each slice a lane of its track and a depth: slices sorted by start (outer first) go
   * to the first lane where they nest in what is open there.
   */
  assignLanes(): void {
    for (const tr of this.tracks.values()) {
      const sorted = [...tr.slices].sort((a, b) => a.start - b.start || b.end - a.end || a.rank - b.rank || a.order - b.order);
      const lanes: RawSlice[][] = [];
      for (const s of sorted) {
        let lane = 0;
        for (; ; lane++) {
          const stack = (lanes[lane] ??= []);
          while (stack.length > 0 && stack[stack.length - 1]!.end <= s.start) stack.pop();
          const top = stack[stack.length - 1];
          if (top === undefined || s.end <= top.end) {
            s.lane = lane;
            s.depth = stack.length;
            stack.push(s);
            break;
          }
        }
      }
      tr.tids = new Array<number>(Math.max(1, lanes.length)).fill(0);
    }
  }

  build(header: TraceHeaderEvent | undefined, start: number): Timeline {
    this.finish();
    this.assignLanes();
    const procs = [...this.processes.values()].sort((a, b) => a.sort - b.sort || a.pid - b.pid);
    const tracks: TimelineTrack[] = [];
    let nextTid = TID_BASE;
    for (const p of procs) {
      const own = [...this.tracks.values()].filter((tr) => tr.pid === p.pid).sort((a, b) => a.sort - b.sort || a.order - b.order);
      for (const tr of own) {
        for (let lane = 0; lane < tr.tids.length; lane++) {
          const tid = nextTid++;
          tr.tids[lane] = tid;
          const depth = tr.slices.filter((s) => s.lane === lane).reduce((m, s) => Math.max(m, s.depth ?? 0), 0);
          tracks.push({ tid, pid: tr.pid, name: lane === 0 ? tr.name : `${tr.name} (${lane + 1})`, kind: tr.kind, lane, maxDepth: depth });
        }
      }
    }
    const tidOf = (s: RawSlice): number => s.track.tids[s.lane ?? 0] ?? s.track.tids[0]!;
    const slices: TimelineSlice[] = this.slices
      .map((s) => ({ tid: tidOf(s), start: s.start, end: s.end, name: s.name, cat: s.cat, depth: s.depth ?? 0, args: s.args }))
      .sort((a, b) => a.start - b.start || b.end - a.end || a.depth - b.depth || a.tid - b.tid);
    const instants: TimelineInstant[] = this.instants.map((i) => ({ tid: i.track.tids[0]!, t: i.t, name: i.name, cat: i.cat, args: i.args }));
    const inside = (s: RawSlice, t: number): number => (s.end - s.start < 2 ? s.start : Math.min(Math.max(t, s.start + 1), s.end - 1));
    const flows: TimelineFlow[] = this.flows.map((f, i) => ({
      id: i + 1,
      name: f.name,
      from: { tid: tidOf(f.from.slice), t: inside(f.from.slice, f.from.t) },
      to: { tid: tidOf(f.to.slice), t: inside(f.to.slice, f.to.t) },
    }));
    return {
      header,
      processes: procs.map(({ pid, name, kind }) => ({ pid, name, kind })),
      tracks,
      slices,
      instants,
      flows,
      counters: this.counters,
      start,
      end: this.end,
    };
  }
}

/** A short text for an exit record: `MMIO W 0x6000/8 = 0x0`, `STATUS EXITED`, `PAGE_FAULT 0x…`. */
export function exitLabel(ev: TraceEvent): string {
  const reason = str(ev, 'reason') ?? '?';
  if (reason === 'MMIO') {
    const data = str(ev, 'data');
    return `MMIO ${ev['write'] === true ? 'W' : 'R'} ${str(ev, 'addr') ?? '?'}/${String(num(ev, 'len') ?? '?')}${data !== undefined ? ` = ${data}` : ''}`;
  }
  if (reason === 'STATUS') return `STATUS ${str(ev, 'statusName') ?? String(num(ev, 'status'))}${ev['repeat'] === true ? ' (again)' : ''}`;
  if (reason === 'PAGE_FAULT') return `PAGE_FAULT ${str(ev, 'addr') ?? '?'}`;
  return reason;
}

/** vmid ↔ kernel VM pairs, in the order the records show them. */
function vmidPairs(events: readonly TraceEvent[]): Array<{ vmid: number; vm: number; t: number }> {
  const pairs: Array<{ vmid: number; vm: number; t: number }> = [];
  const last = new Map<number, number>();
  for (const ev of events) {
    if (ev.kind !== 'vcpu.exit' && ev.kind !== 'vm.status' && ev.kind !== 'kernel.vm-freed') continue;
    const vm = num(ev, 'vm');
    const vmid = num(ev, 'vmid');
    if (vm === undefined || vmid === undefined || vmid === 0xffff) continue;
    if (last.get(vmid) === vm) continue;
    last.set(vmid, vm);
    pairs.push({ vmid, vm, t: num(ev, 't') ?? 0 });
  }
  return pairs;
}

/**
 * Lay out the records of a trace (the `events` of `parseJsonLines`, or a memory sink's records)
 * as a timeline. The header, when given, is kept for the viewers' titles.
 */
export function buildTimeline(trace: { readonly header?: TraceHeaderEvent | undefined; readonly events: readonly TraceEvent[] }): Timeline {
  const events = trace.events.filter((e) => e.kind !== 'trace.header');
  const b = new TimelineBuilder(vmidPairs(events));
  for (const ev of events) b.add(ev);
  const first = events.find((e) => typeof e['t'] === 'number');
  return b.build(trace.header, first ? (first['t'] as number) : 0);
}

/** gh_ traces carry the gh_ names of the calls both dialects share (docs/decisions.md G14): the v17 name. */
function v17Name(name: string | undefined): string | undefined {
  switch (name) {
    case 'GH_CREATE_VM':
      return 'GUNYAH_CREATE_VM';
    case 'GH_VM_ADD_FUNCTION':
      return 'GUNYAH_VM_ADD_FUNCTION';
    case 'GH_VCPU_RUN':
      return 'GUNYAH_VCPU_RUN';
    default:
      return name;
  }
}
