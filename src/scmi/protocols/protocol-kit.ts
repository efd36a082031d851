/**
 * Shared frame of the Power, Performance, Reset and Sensor protocol handlers: the messages common
 * to every protocol (scmi-virtio.md §9.1: PROTOCOL_VERSION 0x0, PROTOCOL_ATTRIBUTES 0x1,
 * PROTOCOL_MESSAGE_ATTRIBUTES 0x2, NEGOTIATE_PROTOCOL_VERSION 0x10), dispatch by message ID, and
 * the agent-local resource lookup (§12, docs/decisions.md "SCMI").
 *
 * Rules applied here, once for all four protocols:
 * - A message ID without a handler → NOT_SUPPORTED; PROTOCOL_MESSAGE_ATTRIBUTES names it
 *   NOT_FOUND (every ID above 0xFF included). Notification-enable messages have no handler:
 *   without a P2A channel they are neither accepted nor advertised (§5 "Without P2A").
 * - Parameters are read through wire.ts's `ParamReader`; a read past the end throws
 *   `ScmiParamError`, answered here with the status it carries (PROTOCOL_ERROR, decisions S4).
 * - NEGOTIATE_PROTOCOL_VERSION: SUCCESS for the implemented version or a listed older one whose
 *   implemented messages are answered the same; anything else NOT_SUPPORTED (decisions S27).
 *   The backend answers 0x0 and 0x2 itself from `version` and `messages` (same answers as here)
 *   and hands 0x10 to the handler, since `messages` lists it.
 * - A message_type other than command → NOT_SUPPORTED (the backend filters these first).
 */
import type { ResourceKind, ScmiCall, ScmiProtocol, ScmiReply } from '../api.js';
import { ScmiCommonMsg, ScmiMessageType, ScmiStatus } from '../api.js';
import { ParamReader, ScmiParamError, fail, ok, okU32 } from '../wire.js';

/** A message handler: the call and a reader positioned at the first parameter. */
export type MessageHandler = (call: ScmiCall, params: ParamReader) => ScmiReply;

export interface ProtocolDefinition {
  readonly id: number;
  /** PROTOCOL_VERSION: major in bits 31:16, minor in 15:0. */
  readonly version: number;
  /** Older versions NEGOTIATE_PROTOCOL_VERSION accepts. */
  readonly olderVersions: readonly number[];
  /** PROTOCOL_ATTRIBUTES (0x1). */
  readonly attributes: (call: ScmiCall) => ScmiReply;
  /** Protocol-specific messages (ID ≥ 0x3), each with its PROTOCOL_MESSAGE_ATTRIBUTES value. */
  readonly handlers: ReadonlyMap<number, { readonly attributes: number; readonly handle: MessageHandler }>;
}

/** Builds an `ScmiProtocol` from a definition. The result holds no state of its own. */
export function defineProtocol(def: ProtocolDefinition): ScmiProtocol {
  const messages = new Map<number, number>([
    [ScmiCommonMsg.PROTOCOL_VERSION, 0],
    [ScmiCommonMsg.PROTOCOL_ATTRIBUTES, 0],
    [ScmiCommonMsg.PROTOCOL_MESSAGE_ATTRIBUTES, 0],
    [ScmiCommonMsg.NEGOTIATE_PROTOCOL_VERSION, 0],
  ]);
  for (const [msgId, h] of def.handlers) messages.set(msgId, h.attributes);

  const dispatch = (call: ScmiCall, p: ParamReader): ScmiReply => {
    switch (call.header.messageId) {
      case ScmiCommonMsg.PROTOCOL_VERSION:
        return okU32(def.version);
      case ScmiCommonMsg.PROTOCOL_ATTRIBUTES:
        return def.attributes(call);
      case ScmiCommonMsg.PROTOCOL_MESSAGE_ATTRIBUTES: {
        const attrs = messages.get(p.u32());
        return attrs === undefined ? fail(ScmiStatus.NOT_FOUND) : okU32(attrs);
      }
      case ScmiCommonMsg.NEGOTIATE_PROTOCOL_VERSION: {
        const v = p.u32();
        return v === def.version || def.olderVersions.includes(v) ? ok() : fail(ScmiStatus.NOT_SUPPORTED);
      }
      default: {
        const h = def.handlers.get(call.header.messageId);
        return h ? h.handle(call, p) : fail(ScmiStatus.NOT_SUPPORTED);
      }
    }
  };

  return {
    id: def.id,
    version: def.version,
    messages,
    handle(call: ScmiCall): ScmiReply {
      if (call.header.messageType !== ScmiMessageType.COMMAND) return fail(ScmiStatus.NOT_SUPPORTED);
      try {
        return dispatch(call, new ParamReader(call.params));
      } catch (e) {
        if (e instanceof ScmiParamError) return fail(e.status);
        throw e;
      }
    },
  };
}

/**
 * The platform resource behind an agent's resource ID: its platform ID and description, or
 * undefined when the agent has no such resource (→ NOT_FOUND).
 */
export function resolveResource<T>(
  call: ScmiCall,
  kind: ResourceKind,
  descs: readonly T[],
  agentResourceId: number,
): { readonly pid: number; readonly desc: T } | undefined {
  const pid = call.agent.platformId(kind, agentResourceId);
  if (pid === undefined) return undefined;
  const desc = descs[pid];
  return desc === undefined ? undefined : { pid, desc };
}

/** The number of resources of `kind` the agent sees (PROTOCOL_ATTRIBUTES counts). */
export function visibleCount(call: ScmiCall, kind: ResourceKind): number {
  return call.agent.resources(kind).length;
}

/**
 * Which page of a described list a request gets: `perPage` entries from `index`, or undefined
 * when `index` is past the end (→ OUT_OF_RANGE). `index` equal to the count gives an empty page
 * (docs/decisions.md S26), so an agent with no sensors still gets a well-formed answer to the
 * SENSOR_DESCRIPTION_GET(0) a driver sends at probe.
 */
export function page(total: number, index: number, perPage: number): { readonly first: number; readonly count: number; readonly remaining: number } | undefined {
  if (index > total) return undefined;
  const count = Math.min(perPage, total - index);
  return { first: index, count, remaining: total - index - count };
}
