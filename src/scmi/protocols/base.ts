/**
 * SCMI Base protocol (0x10), version 2.0 (scmi-virtio.md §9.2; docs/decisions.md "SCMI").
 *
 * Messages: PROTOCOL_VERSION, PROTOCOL_ATTRIBUTES, PROTOCOL_MESSAGE_ATTRIBUTES and
 * NEGOTIATE_PROTOCOL_VERSION (the first, third and last answered by the backend), DISCOVER_VENDOR,
 * DISCOVER_SUB_VENDOR, DISCOVER_IMPLEMENTATION_VERSION, DISCOVER_LIST_PROTOCOLS,
 * DISCOVER_AGENT, SET_DEVICE_PERMISSIONS, SET_PROTOCOL_PERMISSIONS, RESET_AGENT_CONFIGURATION.
 * NOTIFY_ERRORS (0x8) is not implemented: without P2A channels notifications are refused with
 * NOT_SUPPORTED and not advertised (§5).
 *
 * Everything is filtered by the caller: the protocols it may use, the agents it may know of
 * (a VM agent: the platform and itself; the trusted host: every live agent). The permission
 * messages are the trusted agent's only (DENIED for any other).
 */
import type { ScmiCall, ScmiPlatformDesc, ScmiProtocol, ScmiReply } from '../api.js';
import { ScmiProtocolId, ScmiStatus } from '../api.js';
import type { AgentRecord, AgentRegistry } from '../agents.js';
import { CALLER_AGENT_ID, PLATFORM_AGENT_ID, PLATFORM_AGENT_NAME } from '../agents.js';
import { ParamReader, PayloadWriter, SHORT_NAME_BYTES, fail, ok, okU32 } from '../wire.js';

export const BASE_VERSION = 0x0002_0000;

export const BaseMsg = {
  PROTOCOL_VERSION: 0x0,
  PROTOCOL_ATTRIBUTES: 0x1,
  PROTOCOL_MESSAGE_ATTRIBUTES: 0x2,
  DISCOVER_VENDOR: 0x3,
  DISCOVER_SUB_VENDOR: 0x4,
  DISCOVER_IMPLEMENTATION_VERSION: 0x5,
  DISCOVER_LIST_PROTOCOLS: 0x6,
  DISCOVER_AGENT: 0x7,
  NOTIFY_ERRORS: 0x8,
  SET_DEVICE_PERMISSIONS: 0x9,
  SET_PROTOCOL_PERMISSIONS: 0xa,
  RESET_AGENT_CONFIGURATION: 0xb,
} as const;

/** SET_DEVICE_PERMISSIONS flags: bit 0 access allowed; bit 1 read-only (ours, S8). */
export const DEVICE_PERM_ALLOW = 0x1;
export const DEVICE_PERM_READ_ONLY = 0x2;
/** SET_PROTOCOL_PERMISSIONS flags: bit 0 allowed. */
export const PROTOCOL_PERM_ALLOW = 0x1;
/** RESET_AGENT_CONFIGURATION flags: bit 0 also reset the permissions. */
export const RESET_AGENT_PERMISSIONS = 0x1;

/** What Base needs from the backend. */
export interface BaseContext {
  readonly desc: ScmiPlatformDesc;
  readonly registry: AgentRegistry;
  /** The agent's policy changed: drop its votes on what it may no longer control. */
  policyChanged(agent: AgentRecord): void;
  /** RESET_AGENT_CONFIGURATION: release every vote of the agent; optionally restore its configured policy. */
  resetAgent(agent: AgentRecord, resetPermissions: boolean): void;
}

/** Agents `caller` may know of (DISCOVER_AGENT; num_agents counts them, platform excluded). */
function visibleAgents(ctx: BaseContext, caller: AgentRecord): readonly AgentRecord[] {
  return caller.trusted ? ctx.registry.live() : [caller];
}

export function baseProtocol(ctx: BaseContext): ScmiProtocol {
  const messages = new Map<number, number>([
    [BaseMsg.PROTOCOL_VERSION, 0],
    [BaseMsg.PROTOCOL_ATTRIBUTES, 0],
    [BaseMsg.PROTOCOL_MESSAGE_ATTRIBUTES, 0],
    [BaseMsg.DISCOVER_VENDOR, 0],
    [BaseMsg.DISCOVER_SUB_VENDOR, 0],
    [BaseMsg.DISCOVER_IMPLEMENTATION_VERSION, 0],
    [BaseMsg.DISCOVER_LIST_PROTOCOLS, 0],
    [BaseMsg.DISCOVER_AGENT, 0],
    [BaseMsg.SET_DEVICE_PERMISSIONS, 0],
    [BaseMsg.SET_PROTOCOL_PERMISSIONS, 0],
    [BaseMsg.RESET_AGENT_CONFIGURATION, 0],
  ]);

  const callerRecord = (call: ScmiCall): AgentRecord | undefined => ctx.registry.get(call.agent.agentId);

  /** Resolve the target of a permission message (the caller is trusted). */
  const target = (agentId: number): AgentRecord | ScmiReply => {
    const t = agentId === PLATFORM_AGENT_ID ? undefined : ctx.registry.get(agentId);
    if (!t) return fail(ScmiStatus.NOT_FOUND);
    if (t.trusted) return fail(ScmiStatus.DENIED);
    return t;
  };

  const handle = (call: ScmiCall): ScmiReply => {
    const caller = callerRecord(call);
    if (!caller) return fail(ScmiStatus.DENIED);
    const r = new ParamReader(call.params);
    switch (call.header.messageId) {
      case BaseMsg.PROTOCOL_ATTRIBUTES: {
        const nProto = Math.min(caller.protocols().length, 0xff);
        const nAgents = Math.min(visibleAgents(ctx, caller).length, 0xff);
        return ok(new PayloadWriter(4).u8(nProto).u8(nAgents).u16(0).bytes);
      }
      case BaseMsg.DISCOVER_VENDOR:
        return ok(new PayloadWriter(SHORT_NAME_BYTES).name(ctx.desc.vendor, SHORT_NAME_BYTES).bytes);
      case BaseMsg.DISCOVER_SUB_VENDOR:
        return ok(new PayloadWriter(SHORT_NAME_BYTES).name(ctx.desc.subVendor, SHORT_NAME_BYTES).bytes);
      case BaseMsg.DISCOVER_IMPLEMENTATION_VERSION:
        return okU32(ctx.desc.implementationVersion);
      case BaseMsg.DISCOVER_LIST_PROTOCOLS: {
        const skip = r.u32();
        const list = caller.protocols();
        if (skip > list.length) return fail(ScmiStatus.INVALID_PARAMETERS);
        const ids = list.slice(skip);
        const words = Math.ceil(ids.length / 4);
        const w = new PayloadWriter(4 + 4 * words).u32(ids.length);
        // Packed four per u32, the first protocol in the lowest byte (word i / 4, byte i % 4).
        ids.forEach((id, i) => {
          w.bytes[4 + 4 * Math.floor(i / 4) + (i % 4)] = id;
        });
        return ok(w.bytes);
      }
      case BaseMsg.DISCOVER_AGENT: {
        const id = r.u32();
        if (id === PLATFORM_AGENT_ID) {
          return ok(new PayloadWriter(4 + SHORT_NAME_BYTES).u32(0).name(PLATFORM_AGENT_NAME, SHORT_NAME_BYTES).bytes);
        }
        const want = id === CALLER_AGENT_ID ? caller.agentId : id;
        const a = visibleAgents(ctx, caller).find((x) => x.agentId === want);
        if (!a) return fail(ScmiStatus.NOT_FOUND);
        return ok(new PayloadWriter(4 + SHORT_NAME_BYTES).u32(a.agentId).name(a.name, SHORT_NAME_BYTES).bytes);
      }
      case BaseMsg.SET_DEVICE_PERMISSIONS: {
        if (!caller.trusted) return fail(ScmiStatus.DENIED);
        const agentId = r.u32();
        const deviceId = r.u32();
        const flags = r.u32();
        const t = target(agentId);
        if (!('agentId' in t)) return t;
        if (!ctx.registry.device(deviceId)) return fail(ScmiStatus.NOT_FOUND);
        if ((flags & ~(DEVICE_PERM_ALLOW | DEVICE_PERM_READ_ONLY)) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
        if (flags === DEVICE_PERM_READ_ONLY) return fail(ScmiStatus.INVALID_PARAMETERS);
        t.setDeviceAccess(deviceId, flags === 0 ? 'none' : flags & DEVICE_PERM_READ_ONLY ? 'read' : 'control');
        ctx.policyChanged(t);
        return ok();
      }
      case BaseMsg.SET_PROTOCOL_PERMISSIONS: {
        if (!caller.trusted) return fail(ScmiStatus.DENIED);
        const agentId = r.u32();
        const deviceId = r.u32();
        const protocolId = r.u32();
        const flags = r.u32();
        const t = target(agentId);
        if (!('agentId' in t)) return t;
        if (!ctx.registry.device(deviceId)) return fail(ScmiStatus.NOT_FOUND);
        if (protocolId === ScmiProtocolId.BASE) return fail(ScmiStatus.INVALID_PARAMETERS);
        if (!ctx.registry.implemented.includes(protocolId)) return fail(ScmiStatus.NOT_FOUND);
        if ((flags & ~PROTOCOL_PERM_ALLOW) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
        t.setDeviceProtocol(deviceId, protocolId, flags === PROTOCOL_PERM_ALLOW);
        ctx.policyChanged(t);
        return ok();
      }
      case BaseMsg.RESET_AGENT_CONFIGURATION: {
        if (!caller.trusted) return fail(ScmiStatus.DENIED);
        const agentId = r.u32();
        const flags = r.u32();
        const t = target(agentId);
        if (!('agentId' in t)) return t;
        if ((flags & ~RESET_AGENT_PERMISSIONS) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
        ctx.resetAgent(t, flags === RESET_AGENT_PERMISSIONS);
        return ok();
      }
      default:
        return fail(ScmiStatus.NOT_SUPPORTED);
    }
  };

  return { id: ScmiProtocolId.BASE, version: BASE_VERSION, messages, handle };
}
