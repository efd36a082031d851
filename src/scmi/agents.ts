/**
 * SCMI agents and their policy (scmi-virtio.md §9.2 BASE_DISCOVER_AGENT and BASE_SET_*_PERMISSIONS,
 * §12.2 per-VM bookkeeping, §12.3 permission ideas; docs/decisions.md section "SCMI").
 *
 * Agent 0 is the platform (never a sender); agent 1 the host, trusted, which sees and controls
 * every resource and protocol; VM agents (IDs 2..0xFFFFFFFE, unique among live agents) get a
 * policy: the devices they were given (each fully or read-only) and the protocols they may use.
 * An agent sees, of each resource kind, the union of the resources of its devices, reached
 * through a permitted protocol, not denied for that device; its ID k of a kind is the k-th of
 * those in platform order. Base is always permitted.
 */
import type { DeviceDesc, ResourceKind, ScmiAgent, ScmiPlatformDesc } from './api.js';
import { RESOURCE_PROTOCOL, ScmiProtocolId } from './api.js';
import { ErrnoError } from '../shared/errno.js';
import { isScmiName } from './platform-check.js';

export const PLATFORM_AGENT_ID = 0;
export const HOST_AGENT_ID = 1;
/** DISCOVER_AGENT's "the calling agent" (docs/decisions.md S7). */
export const CALLER_AGENT_ID = 0xffff_ffff;
export const PLATFORM_AGENT_NAME = 'platform';

/** A device given to an agent; `readOnly` lets it read but not change the device's resources. */
export interface DeviceGrant {
  readonly id: number;
  readonly readOnly?: boolean;
}

/** What an agent may see and use. A bare number in `devices` is a device given fully. */
export interface AgentPolicy {
  readonly devices: readonly (number | DeviceGrant)[];
  /** Protocol IDs (Base is always permitted; 0x10 in the list is ignored). */
  readonly protocols: readonly number[];
}

/** Arguments of ScmiBackend.openAgent. */
export interface OpenAgentSpec extends AgentPolicy {
  readonly agentId: number;
  /** 1..15 printable ASCII characters (u8 name[16]). */
  readonly name: string;
  readonly vmid?: number;
}

const DEVICE_FIELD: { readonly [K in ResourceKind]: keyof DeviceDesc } = {
  clock: 'clocks',
  voltage: 'voltages',
  power: 'powerDomains',
  perf: 'perfDomains',
  reset: 'resetDomains',
  sensor: 'sensors',
};

const KINDS: readonly ResourceKind[] = ['clock', 'voltage', 'power', 'perf', 'reset', 'sensor'];

interface View {
  readonly ids: readonly number[];
  readonly control: ReadonlySet<number>;
}

/** One agent: identity, current policy, per-protocol private state. */
export class AgentRecord implements ScmiAgent {
  /** Per protocol: state private to this agent (the negotiated version, for now). */
  readonly protocolState = new Map<number, { negotiatedVersion?: number }>();
  private devices = new Map<number, { readOnly: boolean }>();
  private protocolSet = new Set<number>();
  private deniedByDevice = new Map<number, Set<number>>();
  private views: Map<ResourceKind, View> | undefined;
  /** What BASE_RESET_AGENT_CONFIGURATION with its permissions flag returns to. */
  configuredPolicy: AgentPolicy;

  constructor(
    private readonly registry: AgentRegistry,
    readonly agentId: number,
    readonly name: string,
    readonly vmid: number | undefined,
    readonly trusted: boolean,
    policy: AgentPolicy,
  ) {
    this.configuredPolicy = policy;
    this.applyPolicy(policy);
  }

  protocols(): readonly number[] {
    if (this.trusted) return this.registry.implemented;
    return this.registry.implemented.filter((p) => this.protocolSet.has(p));
  }

  mayUseProtocol(protocolId: number): boolean {
    if (protocolId === ScmiProtocolId.BASE) return true;
    if (!this.registry.implemented.includes(protocolId)) return false;
    return this.trusted || this.protocolSet.has(protocolId);
  }

  resources(kind: ResourceKind): readonly number[] {
    return this.view(kind).ids;
  }

  platformId(kind: ResourceKind, agentResourceId: number): number | undefined {
    if (!Number.isInteger(agentResourceId) || agentResourceId < 0) return undefined;
    return this.view(kind).ids[agentResourceId];
  }

  mayControl(kind: ResourceKind, platformId: number): boolean {
    return this.trusted || this.view(kind).control.has(platformId);
  }

  /** Device IDs the agent holds, with their access (for inspection). */
  grants(): readonly DeviceGrant[] {
    return [...this.devices].map(([id, g]) => ({ id, readOnly: g.readOnly })).sort((a, b) => a.id - b.id);
  }

  /** Replace the current policy (validated by the registry). */
  applyPolicy(policy: AgentPolicy): void {
    this.devices = new Map();
    for (const d of policy.devices) {
      const g = typeof d === 'number' ? { id: d, readOnly: false } : { id: d.id, readOnly: d.readOnly ?? false };
      this.devices.set(g.id, { readOnly: g.readOnly });
    }
    this.protocolSet = new Set(policy.protocols.filter((p) => p !== ScmiProtocolId.BASE));
    this.deniedByDevice = new Map();
    this.views = undefined;
  }

  /** BASE_SET_DEVICE_PERMISSIONS: 'none' removes the device. */
  setDeviceAccess(deviceId: number, access: 'none' | 'read' | 'control'): void {
    if (access === 'none') this.devices.delete(deviceId);
    else this.devices.set(deviceId, { readOnly: access === 'read' });
    this.views = undefined;
  }

  /** BASE_SET_PROTOCOL_PERMISSIONS: allow or deny a protocol for one device of the agent. */
  setDeviceProtocol(deviceId: number, protocolId: number, allow: boolean): void {
    let denied = this.deniedByDevice.get(deviceId);
    if (allow) {
      denied?.delete(protocolId);
      this.protocolSet.add(protocolId);
    } else {
      if (!denied) this.deniedByDevice.set(deviceId, (denied = new Set()));
      denied.add(protocolId);
    }
    this.views = undefined;
  }

  private view(kind: ResourceKind): View {
    this.views ??= new Map();
    let v = this.views.get(kind);
    if (v) return v;
    const desc = this.registry.desc;
    const count = resourceCount(desc, kind);
    if (this.trusted) {
      const ids = Array.from({ length: count }, (_, i) => i);
      v = { ids, control: new Set(ids) };
    } else {
      const protocol = RESOURCE_PROTOCOL[kind];
      const seen = new Set<number>();
      const control = new Set<number>();
      if (this.protocolSet.has(protocol)) {
        for (const [deviceId, grant] of this.devices) {
          if (this.deniedByDevice.get(deviceId)?.has(protocol)) continue;
          const dev = this.registry.device(deviceId);
          const list = dev?.[DEVICE_FIELD[kind]] as readonly number[] | undefined;
          for (const r of list ?? []) {
            seen.add(r);
            if (!grant.readOnly) control.add(r);
          }
        }
      }
      v = { ids: [...seen].sort((a, b) => a - b), control };
    }
    this.views.set(kind, v);
    return v;
  }
}

function resourceCount(desc: ScmiPlatformDesc, kind: ResourceKind): number {
  switch (kind) {
    case 'clock':
      return desc.clocks.length;
    case 'voltage':
      return desc.voltages.length;
    case 'power':
      return desc.powerDomains.length;
    case 'perf':
      return desc.perfDomains.length;
    case 'reset':
      return desc.resetDomains.length;
    case 'sensor':
      return desc.sensors.length;
  }
}

/** The live agents of one backend. */
export class AgentRegistry {
  readonly host: AgentRecord;
  private readonly agents = new Map<number, AgentRecord>();
  private readonly devicesById: ReadonlyMap<number, DeviceDesc>;

  constructor(
    readonly desc: ScmiPlatformDesc,
    /** Non-Base protocol IDs the backend implements, ascending. */
    readonly implemented: readonly number[],
    hostName = 'host',
  ) {
    this.devicesById = new Map(desc.devices.map((d) => [d.id, d]));
    if (!isScmiName(hostName, 15)) throw new TypeError(`SCMI host agent name ${JSON.stringify(hostName)}: 1..15 printable ASCII characters`);
    this.host = new AgentRecord(this, HOST_AGENT_ID, hostName, undefined, true, { devices: [], protocols: [] });
    this.agents.set(HOST_AGENT_ID, this.host);
  }

  device(id: number): DeviceDesc | undefined {
    return this.devicesById.get(id);
  }

  get(agentId: number): AgentRecord | undefined {
    return this.agents.get(agentId);
  }

  /** Live agents (host and VMs, not the platform), ascending by ID. */
  live(): readonly AgentRecord[] {
    return [...this.agents.values()].sort((a, b) => a.agentId - b.agentId);
  }

  /** Add a VM agent. Invalid arguments or an ID clash: ErrnoError EINVAL, nothing added. */
  add(spec: OpenAgentSpec): AgentRecord {
    const { agentId, name, vmid } = spec;
    if (!Number.isInteger(agentId) || agentId < 2 || agentId >= CALLER_AGENT_ID) {
      throw new ErrnoError('EINVAL', `SCMI agent id ${String(agentId)}: must be 2..0xfffffffe`);
    }
    if (this.agents.has(agentId)) throw new ErrnoError('EINVAL', `SCMI agent id ${agentId} is already in use`);
    if (!isScmiName(name, 15)) throw new ErrnoError('EINVAL', `SCMI agent name ${JSON.stringify(name)}: 1..15 printable ASCII characters`);
    if (vmid !== undefined && (!Number.isInteger(vmid) || vmid < 0 || vmid > 0xffff)) {
      throw new ErrnoError('EINVAL', `SCMI agent vmid ${String(vmid)}: must be 0..0xffff`);
    }
    const policy = this.checkPolicy(spec);
    const rec = new AgentRecord(this, agentId, name, vmid, false, policy);
    this.agents.set(agentId, rec);
    return rec;
  }

  remove(agentId: number): void {
    if (agentId !== HOST_AGENT_ID) this.agents.delete(agentId);
  }

  /** Validate and copy a policy (ErrnoError EINVAL on an unknown device or protocol, or a duplicate device). */
  checkPolicy(policy: AgentPolicy): AgentPolicy {
    if (!Array.isArray(policy.devices) || !Array.isArray(policy.protocols)) {
      throw new ErrnoError('EINVAL', 'SCMI policy: devices and protocols must be arrays');
    }
    const seen = new Set<number>();
    const devices: DeviceGrant[] = [];
    for (const d of policy.devices) {
      const g: DeviceGrant = typeof d === 'number' ? { id: d, readOnly: false } : { id: d.id, readOnly: d.readOnly === true };
      if (!this.devicesById.has(g.id)) throw new ErrnoError('EINVAL', `SCMI policy: no device ${String(g.id)}`);
      if (seen.has(g.id)) throw new ErrnoError('EINVAL', `SCMI policy: device ${g.id} given twice`);
      seen.add(g.id);
      devices.push(g);
    }
    for (const p of policy.protocols) {
      if (p !== ScmiProtocolId.BASE && !this.implemented.includes(p)) {
        throw new ErrnoError('EINVAL', `SCMI policy: protocol ${String(p)} is not implemented`);
      }
    }
    return { devices, protocols: [...new Set(policy.protocols)] };
  }

  /** All resource kinds (iteration helper). */
  static readonly kinds = KINDS;
}
