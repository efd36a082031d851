/**
 * SCMI Reset domain management protocol (0x16), version 3.0, as scmi-virtio.md §9.7 gives it.
 *
 * Implemented: the common messages (protocol-kit.ts), RESET_DOMAIN_ATTRIBUTES (0x3), RESET (0x4).
 * Not implemented (NOT_SUPPORTED, NOT_FOUND from PROTOCOL_MESSAGE_ATTRIBUTES): RESET_NOTIFY (0x5),
 * since there is no P2A channel (§5), and RESET_DOMAIN_NAME_GET (0x6, payload not given).
 *
 * RESET flags: bit 0 AUTONOMOUS (a whole assert/deassert cycle; bit 1 is then ignored), bit 1
 * EXPLICIT_ASSERT (1 assert, 0 deassert), bit 2 ASYNC (needs a delayed response → NOT_SUPPORTED
 * without P2A); any other bit → INVALID_PARAMETERS. An autonomous reset and an explicit assert
 * each count one reset of the domain (`PlatformState.reset`); a deassert changes nothing.
 * reset_state: 0 (architectural cold reset) and 0x80000001 (what Linux sends as ARCH_COLD_RESET,
 * vendor-specific by the bit-31 rule) are accepted; every other value → INVALID_PARAMETERS
 * (docs/decisions.md S24). The older-Linux quirk (domain_id 0x80000001, reset_state 0) meets an
 * unknown domain → NOT_FOUND.
 *
 * Check order (S20): short parameters → PROTOCOL_ERROR; unknown domain → NOT_FOUND; reserved
 * flag bits → INVALID_PARAMETERS; ASYNC → NOT_SUPPORTED; unknown reset_state →
 * INVALID_PARAMETERS; read-only domain → DENIED.
 */
import type { ScmiCall, ScmiProtocol, ScmiReply } from '../api.js';
import { ScmiProtocolId, ScmiStatus } from '../api.js';
import { PayloadWriter, SHORT_NAME_BYTES, fail, ok } from '../wire.js';
import type { ParamReader } from '../wire.js';
import { defineProtocol, resolveResource, visibleCount } from './protocol-kit.js';

export const RESET_PROTOCOL_VERSION = 0x3_0000;

export const ResetMsg = {
  RESET_DOMAIN_ATTRIBUTES: 0x3,
  RESET: 0x4,
  RESET_NOTIFY: 0x5,
  RESET_DOMAIN_NAME_GET: 0x6,
} as const;

/** RESET flags. */
export const ResetFlag = { AUTONOMOUS: 1 << 0, EXPLICIT_ASSERT: 1 << 1, ASYNC: 1 << 2 } as const;
const KNOWN_FLAGS = ResetFlag.AUTONOMOUS | ResetFlag.EXPLICIT_ASSERT | ResetFlag.ASYNC;

/** reset_state values accepted. */
export const ResetState = { ARCH_COLD: 0x0000_0000, LINUX_ARCH_COLD: 0x8000_0001 } as const;

function protocolAttributes(call: ScmiCall): ScmiReply {
  return ok(new PayloadWriter(4).u32(visibleCount(call, 'reset') & 0xffff).bytes);
}

function domainAttributes(call: ScmiCall, p: ParamReader): ScmiReply {
  const dom = resolveResource(call, 'reset', call.platform.desc.resetDomains, p.u32());
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  // No async reset (bit 31), no notifications (bit 30), no extended name (bit 29).
  return ok(
    new PayloadWriter(8 + SHORT_NAME_BYTES).u32(0).u32(dom.desc.latencyUs).name(dom.desc.name, SHORT_NAME_BYTES).bytes,
  );
}

function reset(call: ScmiCall, p: ParamReader): ScmiReply {
  const domainId = p.u32();
  const flags = p.u32();
  const state = p.u32();
  const dom = resolveResource(call, 'reset', call.platform.desc.resetDomains, domainId);
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  if ((flags & ~KNOWN_FLAGS) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
  if (flags & ResetFlag.ASYNC) return fail(ScmiStatus.NOT_SUPPORTED);
  if (state !== ResetState.ARCH_COLD && state !== ResetState.LINUX_ARCH_COLD) {
    return fail(ScmiStatus.INVALID_PARAMETERS);
  }
  if (!call.agent.mayControl('reset', dom.pid)) return fail(ScmiStatus.DENIED);
  if (flags & (ResetFlag.AUTONOMOUS | ResetFlag.EXPLICIT_ASSERT)) call.platform.reset(call.agent.agentId, dom.pid);
  return ok();
}

/** The Reset domain protocol handler (stateless; one instance may serve every agent). */
export function resetProtocol(): ScmiProtocol {
  return defineProtocol({
    id: ScmiProtocolId.RESET,
    version: RESET_PROTOCOL_VERSION,
    olderVersions: [0x1_0000, 0x2_0000],
    attributes: protocolAttributes,
    handlers: new Map([
      [ResetMsg.RESET_DOMAIN_ATTRIBUTES, { attributes: 0, handle: domainAttributes }],
      [ResetMsg.RESET, { attributes: 0, handle: reset }],
    ]),
  });
}
