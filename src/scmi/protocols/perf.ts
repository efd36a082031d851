/**
 * SCMI Performance domain management protocol (0x13), version 3.0, as scmi-virtio.md §9.4 gives it.
 *
 * Implemented: the common messages (protocol-kit.ts), PERF_DOMAIN_ATTRIBUTES (0x3),
 * PERF_DESCRIBE_LEVELS (0x4), PERF_LIMITS_SET (0x5), PERF_LIMITS_GET (0x6), PERF_LEVEL_SET (0x7),
 * PERF_LEVEL_GET (0x8). Not implemented (NOT_SUPPORTED, NOT_FOUND from
 * PROTOCOL_MESSAGE_ATTRIBUTES): PERF_NOTIFY_LIMITS (0x9) and PERF_NOTIFY_LEVEL (0xA), since there
 * is no P2A channel (§5); PERF_DESCRIBE_FASTCHANNEL (0xB), since virtio has no FastChannels;
 * PERF_DOMAIN_NAME_GET (0xC, payload not given). Message attributes are 0 (no fastchannel bit).
 *
 * Levels are the OPP `level` values of the platform description; power costs are milliwatts
 * (PROTOCOL_ATTRIBUTES flags bit 0). PERF_DOMAIN_ATTRIBUTES reports the highest OPP as the
 * sustained level and frequency, and sets the set-limits / set-level bits only where the agent
 * may change the domain. PERF_DESCRIBE_LEVELS pages at most 10 levels (4 + 12 × 10 = 124 bytes ≤
 * 128, §5). The GET messages answer the agent's own requests, never the aggregate (decisions
 * S22): LEVEL_GET its level (else its own min limit, else the lowest OPP), LIMITS_GET its limits
 * (else the domain's whole OPP range).
 *
 * Check order (S20): short parameters → PROTOCOL_ERROR; unknown domain → NOT_FOUND;
 * min > max → INVALID_PARAMETERS; read-only domain → DENIED; then the platform decides: a level
 * that is not an OPP or is outside the agent's own limits, or limits outside the OPP range →
 * OUT_OF_RANGE. A level_index past the end → OUT_OF_RANGE.
 */
import type { PerfDomainDesc, ScmiCall, ScmiProtocol, ScmiReply } from '../api.js';
import { SCMI_MAX_PAYLOAD, ScmiProtocolId, ScmiStatus } from '../api.js';
import { PayloadWriter, SHORT_NAME_BYTES, fail, ok, okU32 } from '../wire.js';
import type { ParamReader } from '../wire.js';
import { defineProtocol, page, resolveResource, visibleCount } from './protocol-kit.js';

export const PERF_PROTOCOL_VERSION = 0x3_0000;

export const PerfMsg = {
  PERF_DOMAIN_ATTRIBUTES: 0x3,
  PERF_DESCRIBE_LEVELS: 0x4,
  PERF_LIMITS_SET: 0x5,
  PERF_LIMITS_GET: 0x6,
  PERF_LEVEL_SET: 0x7,
  PERF_LEVEL_GET: 0x8,
  PERF_NOTIFY_LIMITS: 0x9,
  PERF_NOTIFY_LEVEL: 0xa,
  PERF_DESCRIBE_FASTCHANNEL: 0xb,
  PERF_DOMAIN_NAME_GET: 0xc,
} as const;

/** PROTOCOL_ATTRIBUTES flags: power costs in milliwatts. */
const POWER_IN_MW = 1 << 0;
/** PERF_DOMAIN_ATTRIBUTES flags. */
const ATTR_SET_LIMITS = 1 << 31;
const ATTR_SET_LEVEL = 1 << 30;

/** Bytes of one level entry in PERF_DESCRIBE_LEVELS, and the levels that fit one reply. */
const LEVEL_ENTRY_BYTES = 12;
export const PERF_LEVELS_PER_REPLY = Math.floor((SCMI_MAX_PAYLOAD - 4) / LEVEL_ENTRY_BYTES);

function lowestLevel(d: PerfDomainDesc): number {
  return d.opps[0]?.level ?? 0;
}

function highestOpp(d: PerfDomainDesc): PerfDomainDesc['opps'][number] | undefined {
  return d.opps[d.opps.length - 1];
}

function protocolAttributes(call: ScmiCall): ScmiReply {
  return ok(
    new PayloadWriter(16)
      .u16(visibleCount(call, 'perf'))
      .u16(POWER_IN_MW)
      .u32(0) // stats_addr_low
      .u32(0) // stats_addr_high
      .u32(0).bytes, // stats_size
  );
}

function domainAttributes(call: ScmiCall, p: ParamReader): ScmiReply {
  const dom = resolveResource(call, 'perf', call.platform.desc.perfDomains, p.u32());
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  const flags = call.agent.mayControl('perf', dom.pid) ? ATTR_SET_LIMITS | ATTR_SET_LEVEL : 0;
  const top = highestOpp(dom.desc);
  return ok(
    new PayloadWriter(16 + SHORT_NAME_BYTES)
      .u32(flags)
      .u32(0) // rate_limit_us
      .u32(top?.freqKhz ?? 0) // sustained_freq_khz
      .u32(top?.level ?? 0) // sustained_perf_level
      .name(dom.desc.name, SHORT_NAME_BYTES).bytes,
  );
}

function describeLevels(call: ScmiCall, p: ParamReader): ScmiReply {
  const domainId = p.u32();
  const index = p.u32();
  const dom = resolveResource(call, 'perf', call.platform.desc.perfDomains, domainId);
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  const pg = page(dom.desc.opps.length, index, PERF_LEVELS_PER_REPLY);
  if (!pg) return fail(ScmiStatus.OUT_OF_RANGE);
  const w = new PayloadWriter(4 + LEVEL_ENTRY_BYTES * pg.count).u16(pg.count).u16(pg.remaining);
  for (let i = pg.first; i < pg.first + pg.count; i++) {
    const opp = dom.desc.opps[i]!;
    w.u32(opp.level).u32(opp.powerCost).u16(Math.min(opp.latencyUs, 0xffff)).u16(0);
  }
  return ok(w.bytes);
}

function limitsSet(call: ScmiCall, p: ParamReader): ScmiReply {
  const domainId = p.u32();
  const max = p.u32();
  const min = p.u32();
  const dom = resolveResource(call, 'perf', call.platform.desc.perfDomains, domainId);
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  if (min > max) return fail(ScmiStatus.INVALID_PARAMETERS);
  if (!call.agent.mayControl('perf', dom.pid)) return fail(ScmiStatus.DENIED);
  return call.platform.perfSetLimits(call.agent.agentId, dom.pid, max, min) ? ok() : fail(ScmiStatus.OUT_OF_RANGE);
}

function limitsGet(call: ScmiCall, p: ParamReader): ScmiReply {
  const dom = resolveResource(call, 'perf', call.platform.desc.perfDomains, p.u32());
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  const own = call.platform.perfVote(call.agent.agentId, dom.pid);
  const max = own.max ?? highestOpp(dom.desc)?.level ?? 0;
  const min = own.min ?? lowestLevel(dom.desc);
  return ok(new PayloadWriter(8).u32(max).u32(min).bytes);
}

function levelSet(call: ScmiCall, p: ParamReader): ScmiReply {
  const domainId = p.u32();
  const level = p.u32();
  const dom = resolveResource(call, 'perf', call.platform.desc.perfDomains, domainId);
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  if (!call.agent.mayControl('perf', dom.pid)) return fail(ScmiStatus.DENIED);
  return call.platform.perfSetLevel(call.agent.agentId, dom.pid, level) ? ok() : fail(ScmiStatus.OUT_OF_RANGE);
}

function levelGet(call: ScmiCall, p: ParamReader): ScmiReply {
  const dom = resolveResource(call, 'perf', call.platform.desc.perfDomains, p.u32());
  if (!dom) return fail(ScmiStatus.NOT_FOUND);
  const own = call.platform.perfVote(call.agent.agentId, dom.pid);
  return okU32(own.level ?? own.min ?? lowestLevel(dom.desc));
}

/** The Performance domain protocol handler (stateless; one instance may serve every agent). */
export function perfProtocol(): ScmiProtocol {
  return defineProtocol({
    id: ScmiProtocolId.PERF,
    version: PERF_PROTOCOL_VERSION,
    olderVersions: [0x1_0000, 0x2_0000],
    attributes: protocolAttributes,
    handlers: new Map([
      [PerfMsg.PERF_DOMAIN_ATTRIBUTES, { attributes: 0, handle: domainAttributes }],
      [PerfMsg.PERF_DESCRIBE_LEVELS, { attributes: 0, handle: describeLevels }],
      [PerfMsg.PERF_LIMITS_SET, { attributes: 0, handle: limitsSet }],
      [PerfMsg.PERF_LIMITS_GET, { attributes: 0, handle: limitsGet }],
      [PerfMsg.PERF_LEVEL_SET, { attributes: 0, handle: levelSet }],
      [PerfMsg.PERF_LEVEL_GET, { attributes: 0, handle: levelGet }],
    ]),
  });
}
