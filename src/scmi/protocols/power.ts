/**
 * SCMI Power domain management protocol (0x11), version 3.0, as scmi-virtio.md §9.3 gives it.
 *
 * Implemented: the common messages (protocol-kit.ts), POWER_DOMAIN_ATTRIBUTES (0x3),
 * POWER_STATE_SET (0x4), POWER_STATE_GET (0x5). Not implemented (NOT_SUPPORTED, NOT_FOUND from
 * PROTOCOL_MESSAGE_ATTRIBUTES): POWER_STATE_NOTIFY (0x6) and POWER_STATE_CHANGE_REQUESTED_NOTIFY
 * (0x7), since there is no P2A channel (§5), and POWER_DOMAIN_NAME_GET (0x8, payload not given).
 *
 * Domains are the agent's own IDs (§12). POWER_STATE_SET votes through `PlatformState.powerSet`
 * (a domain is on while any voter holds it on). POWER_STATE_GET answers with the agent's own
 * vote, never the aggregate, so an agent cannot learn whether another one holds the domain on
 * (docs/decisions.md S21). No statistics region: stats_addr 0, stats_size 0.
 *
 * Check order (S20): short parameters → PROTOCOL_ERROR; unknown domain → NOT_FOUND; flag bits
 * other than async → INVALID_PARAMETERS; async flag → NOT_SUPPORTED; a state other than
 * GENERIC_ON/GENERIC_OFF → INVALID_PARAMETERS; a domain the agent may only read → DENIED.
 */
import type { ScmiCall, ScmiProtocol, ScmiReply } from '../api.js';
import { ScmiProtocolId, ScmiStatus } from '../api.js';
import { PayloadWriter, SHORT_NAME_BYTES, fail, ok, okU32 } from '../wire.js';
import type { ParamReader } from '../wire.js';
import { defineProtocol, resolveResource, visibleCount } from './protocol-kit.js';

export const POWER_PROTOCOL_VERSION = 0x3_0000;

export const PowerMsg = {
  POWER_DOMAIN_ATTRIBUTES: 0x3,
  POWER_STATE_SET: 0x4,
  POWER_STATE_GET: 0x5,
  POWER_STATE_NOTIFY: 0x6,
  POWER_STATE_CHANGE_REQUESTED_NOTIFY: 0x7,
  POWER_DOMAIN_NAME_GET: 0x8,
} as const;

/** Power states (`type << 30 | id`). */
export const PowerState = { GENERIC_ON: 0x0000_0000, GENERIC_OFF: 0x4000_0000 } as const;

/** POWER_STATE_SET flags. */
const SET_FLAG_ASYNC = 1 << 0;
/** POWER_DOMAIN_ATTRIBUTES flags. */
const ATTR_SYNC_SET = 1 << 29;

function protocolAttributes(call: ScmiCall): ScmiReply {
  return ok(
    new PayloadWriter(16)
      .u16(visibleCount(call, 'power'))
      .u16(0) // reserved
      .u32(0) // stats_addr_low
      .u32(0) // stats_addr_high
      .u32(0).bytes, // stats_size
  );
}

function domainAttributes(call: ScmiCall, p: ParamReader): ScmiReply {
  const dom = resolveResource(call, 'power', call.platform.desc.powerDomains, p.u32());
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  // No notifications (bit 31), no async set (bit 30), no extended name (bit 27). Synchronous set
  // (bit 29) only where the agent may change the domain.
  const flags = call.agent.mayControl('power', dom.pid) ? ATTR_SYNC_SET : 0;
  return ok(new PayloadWriter(4 + SHORT_NAME_BYTES).u32(flags).name(dom.desc.name, SHORT_NAME_BYTES).bytes);
}

function stateSet(call: ScmiCall, p: ParamReader): ScmiReply {
  const flags = p.u32();
  const domainId = p.u32();
  const state = p.u32();
  const dom = resolveResource(call, 'power', call.platform.desc.powerDomains, domainId);
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  if ((flags & ~SET_FLAG_ASYNC) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
  if (flags & SET_FLAG_ASYNC) return fail(ScmiStatus.NOT_SUPPORTED);
  if (state !== PowerState.GENERIC_ON && state !== PowerState.GENERIC_OFF) {
    return fail(ScmiStatus.INVALID_PARAMETERS);
  }
  if (!call.agent.mayControl('power', dom.pid)) return fail(ScmiStatus.DENIED);
  call.platform.powerSet(call.agent.agentId, dom.pid, state === PowerState.GENERIC_ON);
  return ok();
}

function stateGet(call: ScmiCall, p: ParamReader): ScmiReply {
  const dom = resolveResource(call, 'power', call.platform.desc.powerDomains, p.u32());
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  const on = call.platform.powerVote(call.agent.agentId, dom.pid);
  return okU32(on ? PowerState.GENERIC_ON : PowerState.GENERIC_OFF);
}

/** The Power domain protocol handler (stateless; one instance may serve every agent). */
export function powerProtocol(): ScmiProtocol {
  return defineProtocol({
    id: ScmiProtocolId.POWER,
    version: POWER_PROTOCOL_VERSION,
    olderVersions: [0x1_0000, 0x2_0000],
    attributes: protocolAttributes,
    handlers: new Map([
      [PowerMsg.POWER_DOMAIN_ATTRIBUTES, { attributes: 0, handle: domainAttributes }],
      [PowerMsg.POWER_STATE_SET, { attributes: 0, handle: stateSet }],
      [PowerMsg.POWER_STATE_GET, { attributes: 0, handle: stateGet }],
    ]),
  });
}
