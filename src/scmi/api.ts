/**
 * The SCMI backend's internal contracts: status codes, protocol and message identifiers, the
 * decoded request, the reply a protocol handler gives, the agent a request comes from, and the
 * platform state (resources and votes) handlers act on. Every protocol handler in
 * src/scmi/protocols/ is written against this file only.
 *
 * Reference: scmi-virtio.md §6 (header), §7 (status codes), §8 (protocol IDs), §9 (messages),
 * §12 (per-VM agents, votes, permissions).
 *
 *   virtqueue chain ─▶ ScmiBackend.dispatch(agent, bytes) ─▶ ScmiProtocol.handle(call)
 *                                                             │ reads/changes PlatformState
 *   response bytes  ◀── header echoed, s32 status, payload ◀──┘ (ScmiReply)
 *
 * Pure types and constants; no state.
 */

/** SCMI status codes (s32), scmi-virtio.md §7. */
export const ScmiStatus = {
  SUCCESS: 0,
  NOT_SUPPORTED: -1,
  INVALID_PARAMETERS: -2,
  DENIED: -3,
  NOT_FOUND: -4,
  OUT_OF_RANGE: -5,
  BUSY: -6,
  COMMS_ERROR: -7,
  GENERIC_ERROR: -8,
  HARDWARE_ERROR: -9,
  PROTOCOL_ERROR: -10,
} as const;
export type ScmiStatusName = keyof typeof ScmiStatus;
export type ScmiStatusCode = (typeof ScmiStatus)[ScmiStatusName];

/** Protocol IDs, scmi-virtio.md §8. */
export const ScmiProtocolId = {
  BASE: 0x10,
  POWER: 0x11,
  SYSTEM_POWER: 0x12,
  PERF: 0x13,
  CLOCK: 0x14,
  SENSOR: 0x15,
  RESET: 0x16,
  VOLTAGE: 0x17,
} as const;

/** Message IDs common to every protocol, scmi-virtio.md §9.1. */
export const ScmiCommonMsg = {
  PROTOCOL_VERSION: 0x0,
  PROTOCOL_ATTRIBUTES: 0x1,
  PROTOCOL_MESSAGE_ATTRIBUTES: 0x2,
  NEGOTIATE_PROTOCOL_VERSION: 0x10,
} as const;

/**
 * Largest return-value payload (after the status) a reply may carry: Linux posts 136-byte
 * response buffers, 8 of which hold the header and the status (scmi-virtio.md §5). Paged
 * replies (rate, level and descriptor lists) return at most what fits.
 */
export const SCMI_MAX_PAYLOAD = 128;

/** message_type field of the header, scmi-virtio.md §6. */
export const ScmiMessageType = { COMMAND: 0, DELAYED_RESPONSE: 2, NOTIFICATION: 3 } as const;

/** The header fields (bits 7:0 id, 9:8 type, 17:10 protocol, 27:18 token; 31:28 reserved). */
export interface ScmiHeader {
  readonly messageId: number;
  readonly messageType: number;
  readonly protocolId: number;
  readonly token: number;
}

/**
 * The reply of a handler. Anything but SUCCESS is sent as header and status only (used length
 * 8, scmi-virtio.md §5); `payload` is then ignored.
 */
export interface ScmiReply {
  readonly status: ScmiStatusCode;
  /** Return values after the status (little-endian), SUCCESS only. */
  readonly payload?: Uint8Array;
}

/** Kinds of platform resource an agent can be given. */
export type ResourceKind = 'clock' | 'voltage' | 'power' | 'perf' | 'reset' | 'sensor';

/** The protocol through which each kind of resource is reached. */
export const RESOURCE_PROTOCOL: { readonly [K in ResourceKind]: number } = {
  clock: ScmiProtocolId.CLOCK,
  voltage: ScmiProtocolId.VOLTAGE,
  power: ScmiProtocolId.POWER,
  perf: ScmiProtocolId.PERF,
  reset: ScmiProtocolId.RESET,
  sensor: ScmiProtocolId.SENSOR,
};

/**
 * Who sends a request: an SCMI agent. Agent 0 is the platform itself (never a sender); the host
 * is a trusted agent; every VM that has the SCMI function is one agent.
 *
 * Resource IDs an agent uses are its own: agent ID k of a kind is the k-th platform resource of
 * that kind the agent was given (in platform order). An agent never sees the platform IDs or
 * the count of what it was not given.
 */
export interface ScmiAgent {
  readonly agentId: number;
  /** At most 15 bytes are reported (u8 name[16], NUL-terminated). */
  readonly name: string;
  /** The VM it speaks for; undefined for the host. */
  readonly vmid: number | undefined;
  /** May change permissions of other agents (BASE_SET_*_PERMISSIONS, BASE_RESET_AGENT_CONFIGURATION). */
  readonly trusted: boolean;
  /** Protocols the agent may use, Base excluded (Base is always allowed). */
  protocols(): readonly number[];
  /** The platform IDs the agent sees for `kind`, in its own ID order. */
  resources(kind: ResourceKind): readonly number[];
  /** Platform ID of the agent's resource `agentResourceId`, or undefined (→ NOT_FOUND). */
  platformId(kind: ResourceKind, agentResourceId: number): number | undefined;
  /** Whether the agent may change (not only read) a resource it sees (false → DENIED). */
  mayControl(kind: ResourceKind, platformId: number): boolean;
}

/** One request as a protocol handler sees it. */
export interface ScmiCall {
  readonly agent: ScmiAgent;
  readonly header: ScmiHeader;
  /** Parameters after the header. */
  readonly params: Uint8Array;
  /** The platform: resource descriptions and the vote book. */
  readonly platform: PlatformState;
}

/** A protocol implementation (one per protocol ID). */
export interface ScmiProtocol {
  readonly id: number;
  /** PROTOCOL_VERSION answer: major in bits 31:16, minor in 15:0. */
  readonly version: number;
  /**
   * Messages implemented, with the u32 PROTOCOL_MESSAGE_ATTRIBUTES answer of each (0 for most).
   * The common messages 0x0–0x2 are included by every protocol.
   */
  readonly messages: ReadonlyMap<number, number>;
  /**
   * Handle one command (message_type 0) addressed to this protocol. The backend answers
   * PROTOCOL_VERSION (0x0) and PROTOCOL_MESSAGE_ATTRIBUTES (0x2) itself from `version` and
   * `messages`, and NEGOTIATE_PROTOCOL_VERSION (0x10) too unless `messages` lists 0x10 (then the
   * handler decides which versions it accepts); it calls this only for IDs `messages` lists.
   */
  handle(call: ScmiCall): ScmiReply;
  /** Optional hook: an agent that may use this protocol connected (per-agent private state). */
  open?(agent: ScmiAgent): void;
  /** Optional hook: the agent went away (its votes are released by the backend afterwards). */
  close?(agent: ScmiAgent): void;
}

// ── platform description (data given to the emulator) ──────────────────────────────────────

/** A rate or level set: a range with a step, or a discrete ascending list. */
export type LevelSet =
  | { readonly kind: 'range'; readonly min: number; readonly max: number; readonly step: number }
  | { readonly kind: 'list'; readonly values: readonly number[] };

export interface ClockDesc {
  readonly name: string;
  /** Rates in Hz (u64 on the wire, numbers here; ≤ 2^53). */
  readonly rates: LevelSet;
  /** The host's own vote: enabled and at this rate from the start (default: not enabled, min rate). */
  readonly hostEnabled?: boolean;
  readonly hostRate?: number;
}

export interface VoltageDesc {
  readonly name: string;
  /** Levels in microvolts (s32). */
  readonly levels: LevelSet;
  readonly hostOn?: boolean;
  readonly hostMicrovolts?: number;
}

export interface PowerDomainDesc {
  readonly name: string;
  /** The host keeps it on (default false). */
  readonly hostOn?: boolean;
}

export interface PerfDomainDesc {
  readonly name: string;
  /** Operating points, ascending by level. */
  readonly opps: readonly { readonly level: number; readonly powerCost: number; readonly latencyUs: number; readonly freqKhz: number }[];
  readonly hostLevel?: number;
}

export interface ResetDomainDesc {
  readonly name: string;
  /** 0xFFFFFFFF = unknown. */
  readonly latencyUs: number;
}

export interface SensorDesc {
  readonly name: string;
  /** SCMI sensor type (e.g. 2 = degrees C). */
  readonly type: number;
  /** Power-of-ten exponent of the unit (s5, e.g. -3 for milli). */
  readonly unitExponent: number;
  /** The value of the n-th reading (deterministic). */
  readonly reading: (n: number) => bigint;
}

/** A device groups resources; permissions are given per device (BASE_SET_DEVICE_PERMISSIONS). */
export interface DeviceDesc {
  readonly id: number;
  readonly name: string;
  readonly clocks?: readonly number[];
  readonly voltages?: readonly number[];
  readonly powerDomains?: readonly number[];
  readonly perfDomains?: readonly number[];
  readonly resetDomains?: readonly number[];
  readonly sensors?: readonly number[];
}

export interface ScmiPlatformDesc {
  /** BASE_DISCOVER_VENDOR, ≤ 15 bytes. */
  readonly vendor: string;
  readonly subVendor: string;
  readonly implementationVersion: number;
  readonly clocks: readonly ClockDesc[];
  readonly voltages: readonly VoltageDesc[];
  readonly powerDomains: readonly PowerDomainDesc[];
  readonly perfDomains: readonly PerfDomainDesc[];
  readonly resetDomains: readonly ResetDomainDesc[];
  readonly sensors: readonly SensorDesc[];
  readonly devices: readonly DeviceDesc[];
}

// ── platform state: votes and their aggregate ──────────────────────────────────────────────

/** Who a vote belongs to: an agent ID (the host's own votes are under its agent ID). */
export type VoterId = number;

/**
 * The vote book and the aggregate it yields (scmi-virtio.md §12.2, the rules): a clock
 * is enabled while any voter holds it enabled and runs at the highest rate requested by a voter
 * that holds it enabled; a voltage domain is on while any voter holds it on, at the highest level
 * requested; a power domain is on while any voter holds it on; a perf domain runs at the highest
 * level requested within the limits. Releasing a voter removes all its votes and recomputes.
 */
export interface PlatformState {
  readonly desc: ScmiPlatformDesc;

  clockEnable(voter: VoterId, clock: number, on: boolean): void;
  /** @returns the rate the request rounds to (within the clock's set), or undefined → OUT_OF_RANGE */
  clockSetRate(voter: VoterId, clock: number, rate: number, roundUp: boolean): number | undefined;
  /** The voter's own view: enabled by it, and its requested rate (else the aggregate). */
  clockVote(voter: VoterId, clock: number): { readonly enabled: boolean; readonly rate: number | undefined };
  clockAggregate(clock: number): { readonly enabled: boolean; readonly rate: number };

  voltageConfig(voter: VoterId, domain: number, on: boolean): void;
  /** @returns false when `microvolts` is not in the domain's set (→ OUT_OF_RANGE) */
  voltageSetLevel(voter: VoterId, domain: number, microvolts: number): boolean;
  voltageVote(voter: VoterId, domain: number): { readonly on: boolean; readonly microvolts: number | undefined };
  voltageAggregate(domain: number): { readonly on: boolean; readonly microvolts: number };

  powerSet(voter: VoterId, domain: number, on: boolean): void;
  powerAggregate(domain: number): boolean;
  /**
   * The voter's own power vote: true while it holds the domain on (no vote → false). Never
   * reflects other voters (POWER_STATE_GET answers from it).
   */
  powerVote(voter: VoterId, domain: number): boolean;

  /** @returns false when the level is not an OPP or outside the limits (→ OUT_OF_RANGE) */
  perfSetLevel(voter: VoterId, domain: number, level: number): boolean;
  perfSetLimits(voter: VoterId, domain: number, max: number, min: number): boolean;
  perfAggregate(domain: number): { readonly level: number; readonly max: number; readonly min: number };
  /**
   * The voter's own perf requests: its level and its limits, undefined where it made none.
   * Never reflects other voters (PERF_LEVEL_GET / PERF_LIMITS_GET answer from it).
   */
  perfVote(
    voter: VoterId,
    domain: number,
  ): { readonly level: number | undefined; readonly max: number | undefined; readonly min: number | undefined };

  /** Count of resets performed on a domain (for tests and traces). */
  reset(voter: VoterId, domain: number): void;
  resetCount(domain: number): number;

  /** The next reading of a sensor. */
  readSensor(sensor: number): bigint;

  /** Drop every vote of `voter` and recompute the aggregates. */
  releaseVoter(voter: VoterId): void;
  /** Subscribe to aggregate changes (kind, platform ID). Returns unsubscribe. */
  onChange(fn: (kind: ResourceKind, id: number) => void): () => void;
}
