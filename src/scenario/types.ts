/**
 * The scenario file format as TypeScript types: what `validateScenario` guarantees about a file
 * that passed the JSON schema (schema.ts) and the cross-reference checks (validate.ts). A scenario
 * describes a machine, VMs built through the /dev/gunyah contract, the VMM's answers to exits,
 * fault injections, and the ordered expectations a run must meet.
 *
 * Reference: docs/scenarios.md (the format, field by field); uapi.md §3–§5 (structs, flags, run
 * page), §8.4–§8.14 (what the VMM sees); vmm-flows.md §2 (boot order), §6 (holding cell), §8
 * (fault-injection points); docs/guest-images.md (guest programs).
 */

/** A u64: a non-negative safe integer, or a decimal or "0x…" string (underscores allowed). */
export type U64 = number | string;
/** A register value: a safe integer (negative: two's complement), or a string as U64 with an optional "-". */
export type Value = number | string;

export interface Scenario {
  readonly $schema?: string;
  readonly description: string;
  readonly machine?: MachineSpec;
  readonly faults?: FaultsSpec;
  readonly vms: readonly VmSpec[];
  readonly run?: RunSpec;
  readonly expect: readonly Expectation[];
}

/** The UAPI dialect of /dev/gunyah: 'v17' (`gunyah_`, default) or 'gh' (v14 / Android `gh_`, docs/gh-dialect.md). */
export type DialectName = 'v17' | 'gh';

export interface MachineSpec {
  /** The dialect the emulated kernel speaks and the VMM is written against (default 'v17'). */
  readonly dialect?: DialectName;
  readonly cpus?: number;
  readonly seed?: number;
  readonly scmi?: { readonly platform?: 'default'; readonly hostName?: string };
  readonly quirks?: Readonly<Record<string, boolean>>;
  readonly rm?: { readonly firmware?: 'v17' | 'public-12-2023'; readonly onAssert?: 'reply' | 'crash' };
}

export interface FaultsSpec {
  readonly rm?: ReadonlyArray<{ readonly msgId: string | number; readonly occurrence?: number; readonly error: string | number; readonly sticky?: boolean }>;
  readonly hypercalls?: ReadonlyArray<{ readonly call: string; readonly occurrence?: number; readonly error: string | number; readonly sticky?: boolean }>;
  readonly vcpuRun?: ReadonlyArray<VcpuRunFaultSpec>;
  readonly vmExited?: ReadonlyArray<VmExitedFaultSpec>;
}

/** A rewritten NOTIFY_VM_EXITED (passed through to the emulator's fault plan). */
export interface VmExitedFaultSpec {
  readonly vmid?: number;
  readonly occurrence?: number;
  readonly sticky?: boolean;
  readonly exitType?: string | number;
  /** The reason bytes as hex; their count becomes exit_reason_size. */
  readonly reason?: string;
}

/** A forced vcpu_run state (passed through to the emulator's fault plan). */
export interface VcpuRunFaultSpec {
  readonly vmid?: number;
  readonly vcpu?: number;
  readonly occurrence?: number;
  readonly state: number | string;
  readonly stateData?: readonly U64[];
  readonly sticky?: boolean;
}

export type Access = 'lend' | 'share' | 'default';

export interface RegionSpec {
  readonly name: string;
  readonly guestAddr: U64;
  /** Bytes, a multiple of 4096. Optional for the boot region (then: image, DTB page, stacks). */
  readonly size?: U64;
  readonly access?: Access;
  /** "rwx", "rw-", "r-x", "r--", … (ALLOW_READ / WRITE / EXEC). */
  readonly allow?: string;
  /** Where the image, the DTB and the stacks go (default: the first region). */
  readonly boot?: boolean;
  /** "start": MAP_MEM during set-up (default); "later": only by a `mapMem` action. */
  readonly map?: 'start' | 'later';
  readonly fileOffset?: U64;
  /** gh_ only: the region's label (default: its index in `memory`). */
  readonly label?: number;
  readonly init?: ReadonlyArray<{ readonly offset: U64; readonly u64?: Value; readonly hex?: string }>;
}

export interface DoorbellSpec {
  readonly label: number;
  readonly line: number;
  readonly trigger?: 'edge' | 'level';
  /** Bind an irqfd to it (default true). */
  readonly irqfd?: boolean;
  /** eventfd writes before the irqfd is bound and before START (uapi.md §8.13: dropped). */
  readonly premature?: { readonly beforeBind?: number; readonly beforeStart?: number };
}

export interface IoeventfdSpec {
  readonly name: string;
  readonly addr: U64;
  /** 0: any length (no DATAMATCH); with `datamatch`: 1, 2, 4 or 8. */
  readonly len: number;
  readonly datamatch?: U64;
}

export interface ScmiDeviceSpec {
  readonly agentId: number;
  readonly name: string;
  /** Platform device names of the default platform ("uart", …) given to the agent. */
  readonly devices?: readonly string[];
  readonly deviceMask?: U64;
  readonly protocolMask?: number;
  readonly mmioBase?: U64;
  /** The shared region holding the virtqueues. */
  readonly ring: string;
  readonly doorbell?: { readonly label: number; readonly line: number };
  readonly level?: boolean;
  readonly ioeventfd?: boolean;
  readonly queueSize?: number;
}

export type GuestSpec =
  | { readonly program: readonly OpSpec[] }
  | { readonly holdingCell: readonly HoldingCellCommandSpec[] }
  | { readonly raw: string };

export interface HoldingCellCommandSpec {
  readonly vcpu?: number;
  readonly cmd: string | number;
  readonly args?: readonly Value[];
  /** nargs of the command word when it differs from the argument count. */
  readonly nargs?: number;
  /** Bit 12 (HOLD): one more read of 0x6000 before the handler runs. */
  readonly hold?: boolean;
}

/** One guest-program op: the builder method's name and its arguments (docs/guest-images.md). */
export type OpSpec =
  | { readonly op: 'load' | 'mmioRead'; readonly addr: U64; readonly len?: number }
  | { readonly op: 'store' | 'mmioWrite'; readonly addr: U64; readonly len: number; readonly value: Value }
  | { readonly op: 'touch'; readonly addr: U64 }
  | { readonly op: 'hvc'; readonly fn: U64; readonly args?: readonly Value[] }
  | { readonly op: 'psciCpuOn'; readonly target: U64; readonly entry: U64; readonly context?: Value }
  | { readonly op: 'systemOff' | 'systemReset' | 'cpuOff' | 'wfi' | 'spin' | 'udf' }
  | { readonly op: 'relinquish'; readonly addr: U64; readonly size: U64; readonly flags: U64 }
  | { readonly op: 'expect'; readonly value: Value }
  | { readonly op: 'repeat'; readonly count: U64; readonly body: readonly OpSpec[] }
  | { readonly op: 'forever'; readonly body: readonly OpSpec[] }
  | { readonly op: 'onCpu'; readonly cpu: number; readonly body: readonly OpSpec[] }
  | { readonly op: 'virtioScmiProbe'; readonly mmioBase: U64; readonly ringBase: U64; readonly queueSize?: number; readonly p2a?: boolean }
  | {
      readonly op: 'scmiCall';
      readonly protocolId: number;
      readonly messageId: number;
      readonly params?: readonly number[];
      readonly expectStatus?: number;
      readonly expectPayload?: readonly number[];
      readonly token?: number;
      readonly wait?: 'irq' | 'poll';
      readonly messageType?: number;
    }
  | { readonly op: 'scmiReplyWord'; readonly index: number };

export interface VmSpec {
  readonly name: string;
  readonly description?: string;
  readonly vcpus: number;
  readonly memory?: readonly RegionSpec[];
  readonly guest: GuestSpec;
  readonly doorbells?: readonly DoorbellSpec[];
  readonly ioeventfds?: readonly IoeventfdSpec[];
  readonly scmi?: ScmiDeviceSpec;
  readonly bootContext?: ReadonlyArray<{ readonly reg: string | number; readonly value: Value }>;
  /** GUNYAH_VM_START during set-up (default true). gh_: false leaves the start to the first GH_VCPU_RUN. */
  readonly start?: boolean;
  /** gh_ only: GH_VM_CHECK_EXTENSION of these capability ids during set-up (crosvm asks 0). */
  readonly checkExtension?: readonly number[];
  readonly vmm?: VmmSpec;
}

export interface ReadSpec {
  readonly addr: U64;
  readonly vcpu?: number;
  readonly value?: Value;
  readonly values?: readonly Value[];
  /** When `values` run out: keep the last (default), start again, answer 0, or stop the vCPU. */
  readonly then?: 'repeat-last' | 'cycle' | 'zero' | 'stop';
}

export interface VmmSpec {
  readonly reads?: readonly ReadSpec[];
  readonly readDefault?: Value;
  readonly runsAfterExit?: number;
  readonly clearImmediateExit?: boolean;
  readonly actions?: readonly ActionRuleSpec[];
}

export interface ActionRuleSpec {
  readonly when: TriggerSpec;
  readonly do: readonly ActionSpec[];
  readonly note?: string;
}

export interface TriggerSpec {
  readonly exit?: ExitMatchSpec;
  readonly errno?: { readonly vcpu?: number; readonly op?: string; readonly errno?: string };
  readonly pending?: { readonly vcpu?: number };
  readonly beforeRun?: { readonly vcpu: number; readonly run: number };
  readonly afterStart?: true;
  readonly end?: true;
  /** Fire at the nth matching event (default 1). */
  readonly occurrence?: number;
  /** Fire at every matching event (from `occurrence` on). */
  readonly every?: boolean;
}

export type ResumeName = 'HANDLED' | 'FAULT' | 'RETRY';

export interface ActionSpec {
  readonly resume?: ResumeName | number;
  readonly value?: Value;
  readonly immediateExit?: boolean;
  readonly vcpu?: number;
  readonly punchHole?: { readonly region: string; readonly offset?: U64; readonly length?: U64 };
  readonly mapMem?: { readonly region: string };
  readonly unmapMem?: { readonly region: string };
  readonly ring?: { readonly label: number; readonly value?: U64 };
  readonly readEventfd?: { readonly ioeventfd?: string; readonly irqfd?: number };
  readonly removeIrqfd?: { readonly label: number };
  readonly removeIoeventfd?: { readonly name: string };
  readonly start?: true;
  readonly stop?: true;
  readonly scmiHost?: { readonly protocolId: number; readonly messageId: number; readonly params?: readonly number[] };
  readonly scmiVotes?: { readonly clock: number };
}

export type ExitKind = 'mmio' | 'status' | 'page-fault' | 'unknown' | 'unrecognized';

export interface ExitMatchSpec {
  readonly vm?: string;
  readonly vcpu?: number;
  readonly phase?: Phase;
  readonly kind?: ExitKind;
  readonly addr?: U64;
  readonly len?: number;
  readonly write?: boolean;
  readonly data?: Value;
  readonly supplied?: Value;
  readonly device?: boolean;
  readonly status?: string | number;
  readonly exitType?: string | number;
  readonly reasonSize?: number;
  readonly reason?: string;
  readonly attempt?: string | number;
  readonly exitReason?: number;
}

export type Phase = 'setup' | 'run' | 'teardown';

export interface IoctlMatchSpec {
  readonly vm?: string;
  readonly vcpu?: number;
  readonly phase?: Phase;
  readonly op?: string;
  readonly fn?: 'vcpu' | 'irqfd' | 'ioeventfd' | 'scmi';
  readonly errno?: string;
  readonly result?: number;
}

export interface NotificationMatchSpec {
  readonly vm?: string;
  readonly phase?: Phase;
  readonly name?: string;
  readonly exitType?: string | number;
  readonly reason?: string;
  readonly vmStatus?: string | number;
  readonly osStatus?: string | number;
}

export interface ScmiMatchSpec {
  readonly what?: 'result' | 'vote' | 'aggregate' | 'agent';
  readonly agent?: number;
  readonly clock?: number;
  readonly enabled?: boolean;
  readonly rate?: number;
  readonly connected?: boolean;
  readonly protocolId?: number;
  readonly messageId?: number;
  readonly status?: string | number;
  readonly payload?: readonly number[];
}

export interface Expectation {
  readonly note?: string;
  readonly exit?: ExitMatchSpec;
  readonly ioctl?: IoctlMatchSpec;
  readonly notification?: NotificationMatchSpec;
  readonly scmi?: ScmiMatchSpec;
  readonly pending?: { readonly vm?: string; readonly vcpu?: number };
  readonly eventfd?: { readonly vm?: string; readonly ioeventfd?: string; readonly irqfd?: number; readonly value?: U64 };
  readonly fault?: { readonly layer?: string; readonly what?: string; readonly occurrence?: number };
  readonly shutdown?: { readonly clean?: boolean; readonly rmVms?: number; readonly parcels?: number };
}

export interface RunSpec {
  /** "vm:vcpu" entries: the fixed order vCPUs are stepped in (default: VMs in file order, vCPUs by id). */
  readonly order?: readonly string[];
  /** "round-robin" (default): every vCPU in turn; "vm-by-vm": one VM's vCPUs until it is done, then the next VM's. */
  readonly schedule?: 'round-robin' | 'vm-by-vm';
  readonly maxSteps?: number;
  readonly settleTurns?: number;
  readonly errnoLimit?: number;
  readonly maxRunsPerVcpu?: number;
}
