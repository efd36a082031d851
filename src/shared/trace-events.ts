/**
 * The catalogue of trace events: every kind of record a layer of the emulator writes to the
 * trace, with its fields. A record is plain JSON data (numbers, strings, booleans, arrays and
 * objects of those): 64-bit values and addresses are lowercase `0x…` strings, byte strings are
 * hex without separators. `kind` discriminates the union.
 *
 * Reference: docs/tracing.md (the same table, with the human-log line of each kind);
 * uapi.md §2 (ioctls), §8.4–§8.10 (vcpu_run states, exits), rm-rpc.md §3–§5 (frames),
 * hypervisor.md §6 (vcpu_run), scmi-virtio.md §6 (SCMI header).
 *
 * Stamping: the emulator wraps the user's sink and adds `seq` (1, 2, 3, … per emulator) and `t`
 * (virtual nanoseconds) to each record before the sink sees it (`StampedTraceEvent`); so no
 * event has fields of those names (an RPC sequence number is `rmSeq`, an SCMI token `token`). Layers
 * never stamp; they build an event only when a tracer is attached (`tracer?.emit({...})`, which
 * evaluates nothing when there is none).
 */

/** `0x…` lowercase hex of an integer (bigint made unsigned 64-bit; a negative number stays signed). */
export function hx(v: number | bigint): string {
  if (typeof v === 'bigint') return `0x${BigInt.asUintN(64, v).toString(16)}`;
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

// ── host process ─────────────────────────────────────────────────────────────────────────

/** An ioctl entered HostProcess (before the file runs it). Pairs with `ioctl` by `call`. */
export type IoctlEnterEvent = {
  readonly kind: 'ioctl.enter';
  /** Per-process call number (1, 2, …), the same in the matching `ioctl` record. */
  readonly call: number;
  readonly fd: number;
  /** The kernel file's name ('gunyah-vm', 'gunyah-vcpu:0', …; '' when the fd is not open). */
  readonly file: string;
  /** The request number, `0x…`. */
  readonly request: string;
  /** The upstream name (GUNYAH_VCPU_RUN, …) when the number is a v17 request. */
  readonly name?: string;
};

/** An ioctl returned: the decoded argument struct (read at entry) and its result or errno. */
export type IoctlEvent = {
  readonly kind: 'ioctl';
  readonly call: number;
  readonly fd: number;
  readonly file: string;
  readonly request: string;
  readonly name?: string;
  /**
   * The argument: for the v17 requests the struct read from user memory at entry, decoded with
   * the uapi codecs (field names as in uapi.md, camelCase; 64-bit values as `0x…`); for an
   * immediate argument `{ arg }`; `{ arg, unreadable: true }` when the pointer could not be read.
   */
  readonly args?: Readonly<Record<string, unknown>>;
  /** The non-negative return (a new fd for the fd-creating requests). */
  readonly result?: number;
  /** The errno name when the call failed. */
  readonly errno?: string;
};

// ── RM RPC ───────────────────────────────────────────────────────────────────────────────

/** One frame on an RM link, as sent or received (rm-rpc.md §3: 8-byte header). */
export type RmFrameEvent = {
  readonly kind: 'rm.frame';
  /** Who saw it: the RM's end of the link, or an RM client (the host kernel). */
  readonly side: 'rm' | 'client';
  /** The VM at the other end of the RM's link (RM side only). */
  readonly vmid?: number;
  /** 'rx' = received by `side`, 'tx' = sent by `side`. */
  readonly dir: 'tx' | 'rx';
  /** The whole frame, hex. */
  readonly hex: string;
  /** Decoded header (absent for a frame shorter than 8 bytes). */
  readonly type?: 'request' | 'reply' | 'notification' | 'continuation';
  readonly fragments?: number;
  readonly rmSeq?: number;
  readonly msgId?: number;
  /** Message name (`VM_START`, `NOTIFY_VM_EXITED`, or `0x…` when unknown). */
  readonly name?: string;
};

/** A request the RM client sent (whole payload, before fragmentation). */
export type RmCallEvent = {
  readonly kind: 'rm.call';
  readonly side: 'client';
  readonly msgId: number;
  readonly name: string;
  readonly rmSeq: number;
  /** Request payload, hex. */
  readonly hex: string;
};

/** A reply: queued by the RM (side 'rm') or completed at the client (side 'client'). */
export type RmReplyEvent = {
  readonly kind: 'rm.reply';
  readonly side: 'rm' | 'client';
  /** The caller's VM (RM side). */
  readonly vmid?: number;
  readonly msgId: number;
  readonly name: string;
  readonly rmSeq: number;
  /** RM error name ('OK', 'NOMEM', …) or `0x…` for a code the RM does not name. */
  readonly err: string;
  /** The error code on the wire. */
  readonly code: number;
  /** Reply data, hex (client side). */
  readonly hex?: string;
};

/** A notification: sent by the RM (side 'rm', to `vmid`) or dispatched by the client. */
export type RmNotificationEvent = {
  readonly kind: 'rm.notification';
  readonly side: 'rm' | 'client';
  readonly vmid?: number;
  readonly msgId: number;
  readonly name: string;
  readonly rmSeq: number;
  /** Payload, hex. */
  readonly hex?: string;
};

/** Input or output an end of an RM link dropped (rm-rpc.md §8, §9). */
export type RmDropEvent = {
  readonly kind: 'rm.drop';
  readonly side: 'rm' | 'client';
  readonly vmid?: number;
  readonly reason: string;
  readonly detail: string;
};

/** An assertion the real RM would hit (rm-rpc.md §17). */
export type RmAssertionEvent = {
  readonly kind: 'rm.assertion';
  readonly what: string;
  readonly mode: string;
};

/** The RM's VM state machine moved (rm-rpc.md §14). */
export type RmVmStateEvent = {
  readonly kind: 'rm.vm-state';
  readonly vmid: number;
  readonly from: string;
  readonly to: string;
};

// ── hypervisor ───────────────────────────────────────────────────────────────────────────

/** A host hypercall other than vcpu_run (which is `vcpu.state`), with its arguments and answer. */
export type HypCallEvent = {
  readonly kind: 'hyp.call';
  /** 'doorbell_send', 'doorbell_mask', 'memextent_donate', 'addrspace_map', 'addrspace_unmap'. */
  readonly call: string;
  /** Arguments by the hypervisor.md names (capids and addresses as `0x…`). */
  readonly args: Readonly<Record<string, string | number>>;
  /** Hypervisor error code (0 = OK). */
  readonly error: number;
  /** Its name (`OK`, `ERROR_BUSY`, …). */
  readonly errorName: string;
  /** Output values other than the error (doorbell_send: old flags). */
  readonly out?: Readonly<Record<string, string | number>>;
};

/** One vcpu_run: the host's call and the hypervisor's answer (hypervisor.md §6). */
export type VcpuStateEvent = {
  readonly kind: 'vcpu.state';
  /** The vCPU's VM and affinity index (absent when the capid names no vCPU). */
  readonly vmid?: number;
  readonly vcpu?: number;
  readonly capid: string;
  /** Resume words 0..2. */
  readonly resume: readonly [string, string, string];
  /** Hypervisor error (0 = OK: state and data are meaningful). */
  readonly error: number;
  readonly errorName: string;
  /** State number and name (READY, EXPECTS_WAKEUP, …; `0x…` for an unknown one). */
  readonly state: number;
  readonly stateName: string;
  /** State data words 0..2. */
  readonly data: readonly [string, string, string];
  /** True when a fault plan forced this answer (`faults.vcpuRun`). */
  readonly forced?: boolean;
};

/** An operation the guest engine of a vCPU performed (src/guest/api.ts GuestOp). */
export type GuestOpEvent = {
  readonly kind: 'guest.op';
  readonly vmid: number;
  readonly vcpu: number;
  readonly op: 'load' | 'store' | 'fetch' | 'hvc' | 'wfi' | 'spin';
  readonly addr?: string;
  readonly len?: number;
  /** store: the value written. */
  readonly value?: string;
  /** hvc: SMCCC function ID and arguments X1… */
  readonly fn?: string;
  readonly args?: readonly string[];
};

/** A synchronous exception delivered into a guest engine (data abort, undefined instruction). */
export type GuestExceptionEvent = {
  readonly kind: 'guest.exception';
  readonly vmid: number;
  readonly vcpu: number;
  readonly esr: string;
  readonly far: string;
  readonly why: string;
};

/** Bytes of memory each guest VM holds: lent (owned by the VM) and shared (other VMs' RAM mapped in). */
export type MemLentEvent = {
  readonly kind: 'mem.lent';
  readonly vmid: number;
  readonly lent: number;
  readonly shared: number;
};

// ── kernel (Linux VM manager model) ───────────────────────────────────────────────────────

/** An exit GUNYAH_VCPU_RUN gives userspace, as written into the run page (uapi.md §5, §8.6–§8.10). */
export type VcpuExitEvent = {
  readonly kind: 'vcpu.exit';
  /** The kernel's VM number and the VM's vmid (0xffff before start). */
  readonly vm: number;
  readonly vmid: number;
  readonly vcpu: number;
  readonly reason: 'MMIO' | 'STATUS' | 'PAGE_FAULT';
  /** MMIO and PAGE_FAULT: the guest physical address. */
  readonly addr?: string;
  /** MMIO: access length, direction and (write) the value. */
  readonly len?: number;
  readonly write?: boolean;
  readonly data?: string;
  /** PAGE_FAULT: the negative errno of the attempt. */
  readonly attempt?: number;
  /** STATUS: status.status, exit_info type, reason_size and the 8 reason bytes (hex). */
  readonly status?: number;
  readonly statusName?: string;
  readonly exitType?: number;
  readonly reasonSize?: number;
  readonly reasonHex?: string;
  /** STATUS in SYSTEM_DOWN: the exit repeats and the page was not rewritten (§8.10). */
  readonly repeat?: boolean;
};

/** The kernel's copy of a VM's status changed (uapi.md §7 "Status"). */
export type VmStatusEvent = {
  readonly kind: 'vm.status';
  readonly vm: number;
  readonly vmid: number;
  /** LinuxVmStatus number and name. */
  readonly status: number;
  readonly statusName: string;
};

export type KernelVmCreatedEvent = { readonly kind: 'kernel.vm-created'; readonly vm: number };
export type KernelVmFreedEvent = { readonly kind: 'kernel.vm-freed'; readonly vm: number; readonly vmid: number };
export type KernelFunctionAddedEvent = { readonly kind: 'kernel.function-added'; readonly vm: number; readonly type: number; readonly result: number };
export type KernelFunctionRemovedEvent = { readonly kind: 'kernel.function-removed'; readonly vm: number; readonly type: number; readonly count: number };
/** The SCMI function stopped serving a broken ring. */
export type KernelScmiQueueBrokenEvent = { readonly kind: 'kernel.scmi-queue-broken'; readonly agent: number; readonly reason: string };

// ── SCMI ─────────────────────────────────────────────────────────────────────────────────

/** One SCMI command through the backend: 'begin' when dispatched, 'end' with the status. */
export type ScmiMsgEvent = {
  readonly kind: 'scmi.msg';
  readonly phase: 'begin' | 'end';
  readonly agent: number;
  readonly protocol: number;
  readonly message: number;
  /** The header's token (the Linux tracepoints' `seq`). */
  readonly token: number;
  /** 'end': the s32 status and its name. */
  readonly status?: number;
  readonly statusName?: string;
};

/** An SCMI resource's aggregate changed (a counter): its value and who votes. */
export type ScmiVoteEvent = {
  readonly kind: 'scmi.vote';
  readonly resource: 'clock' | 'voltage' | 'power' | 'perf' | 'reset';
  readonly id: number;
  /** clock: rate (Hz) when enabled else 0; voltage: µV when on else 0; power: 1/0; perf: level; reset: count. */
  readonly value: number;
  readonly voters: readonly number[];
};

// ── faults ───────────────────────────────────────────────────────────────────────────────

/** A fault-plan entry fired (src/shared/faults.ts). */
export type FaultInjectedEvent = {
  readonly kind: 'fault.injected';
  readonly layer: 'rm' | 'hypercall' | 'vcpu_run' | 'vm_exited';
  /** The RM message ID (`0x…`), the hypercall name, or `vm 0x… vcpu n`. */
  readonly what: string;
  readonly occurrence: number;
  /** The error answered (rm, hypercall), or a description of the forced answer. */
  readonly error: string | number;
};

/** The first record of a trace file: what produced it, so it can be run again. */
export type TraceHeaderEvent = {
  readonly kind: 'trace.header';
  readonly version: 1;
  readonly seed: number;
  /** The whole scenario (JSON), or "default" for the embedded default scenario. */
  readonly scenario: unknown;
  /** gunyah-emu's package version. */
  readonly emulator: string;
};

/** Every event a layer emits (unstamped). */
export type TraceEventData =
  | IoctlEnterEvent
  | IoctlEvent
  | RmFrameEvent
  | RmCallEvent
  | RmReplyEvent
  | RmNotificationEvent
  | RmDropEvent
  | RmAssertionEvent
  | RmVmStateEvent
  | HypCallEvent
  | VcpuStateEvent
  | GuestOpEvent
  | GuestExceptionEvent
  | MemLentEvent
  | VcpuExitEvent
  | VmStatusEvent
  | KernelVmCreatedEvent
  | KernelVmFreedEvent
  | KernelFunctionAddedEvent
  | KernelFunctionRemovedEvent
  | KernelScmiQueueBrokenEvent
  | ScmiMsgEvent
  | ScmiVoteEvent
  | FaultInjectedEvent;

export type TraceEventKind = TraceEventData['kind'];

/** Every kind a layer emits, in catalogue order (docs/tracing.md). */
export const TRACE_EVENT_KINDS: readonly TraceEventKind[] = [
  'ioctl.enter',
  'ioctl',
  'rm.frame',
  'rm.call',
  'rm.reply',
  'rm.notification',
  'rm.drop',
  'rm.assertion',
  'rm.vm-state',
  'hyp.call',
  'vcpu.state',
  'guest.op',
  'guest.exception',
  'mem.lent',
  'vcpu.exit',
  'vm.status',
  'kernel.vm-created',
  'kernel.vm-freed',
  'kernel.function-added',
  'kernel.function-removed',
  'kernel.scmi-queue-broken',
  'scmi.msg',
  'scmi.vote',
  'fault.injected',
];

/** What the stamping adds: the emulator's sequence number and virtual time (ns). */
export type TraceStamp = { readonly seq: number; readonly t: number };

/** An event as a sink receives it from an emulator. */
export type StampedTraceEvent = TraceStamp & TraceEventData;

/** What layers emit into: the emulator's stamping tracer, or any TraceSink. */
export interface Tracer {
  emit(ev: TraceEventData): void;
}
