/**
 * SCMI Voltage domain protocol (0x17), version 2.0 (scmi-virtio.md §9.8; docs/decisions.md "SCMI").
 *
 * Messages 0x0–0x9: PROTOCOL_ATTRIBUTES, DOMAIN_ATTRIBUTES, DESCRIBE_LEVELS (segmented triplet
 * or a paged list), CONFIG_SET / CONFIG_GET (0 = off, 7 = on, architectural modes; unverified
 * values), LEVEL_SET (ASYNC → NOT_SUPPORTED: no P2A channels), LEVEL_GET, DOMAIN_NAME_GET.
 * Domain IDs are the caller's own; the state reported to an agent is its own vote (level: its own
 * request, else the domain's aggregate level).
 */
import type { ScmiCall, ScmiProtocol, ScmiReply } from '../api.js';
import { SCMI_MAX_PAYLOAD, ScmiProtocolId, ScmiStatus } from '../api.js';
import { setCount } from '../levels.js';
import { LONG_NAME_BYTES, ParamReader, PayloadWriter, SHORT_NAME_BYTES, fail, ok } from '../wire.js';

export const VOLTAGE_VERSION = 0x0002_0000;

export const VoltageMsg = {
  PROTOCOL_VERSION: 0x0,
  PROTOCOL_ATTRIBUTES: 0x1,
  PROTOCOL_MESSAGE_ATTRIBUTES: 0x2,
  DOMAIN_ATTRIBUTES: 0x3,
  DESCRIBE_LEVELS: 0x4,
  CONFIG_SET: 0x5,
  CONFIG_GET: 0x6,
  LEVEL_SET: 0x7,
  LEVEL_GET: 0x8,
  DOMAIN_NAME_GET: 0x9,
} as const;

/** Architectural config modes (bits 3:0; bit 3 clear). */
export const VoltageConfig = { OFF: 0x0, ON: 0x7 } as const;
/** DOMAIN_ATTRIBUTES bit 30: the name is longer than name[16] holds. */
export const VOLTAGE_ATTR_EXTENDED_NAME = 1 << 30;
/** DESCRIBE_LEVELS flags bit 12: segmented triplet (min, max, step). */
export const LEVELS_SEGMENTED = 1 << 12;
/** LEVEL_SET flags bit 0: asynchronous. */
export const LEVEL_SET_ASYNC = 0x1;
/** Levels per DESCRIBE_LEVELS reply: 4 + 4 × n ≤ SCMI_MAX_PAYLOAD. */
export const MAX_LEVELS_PER_REPLY = Math.floor((SCMI_MAX_PAYLOAD - 4) / 4);

export function voltageProtocol(): ScmiProtocol {
  const messages = new Map<number, number>(Object.values(VoltageMsg).map((id) => [id, 0]));

  const handle = (call: ScmiCall): ScmiReply => {
    const { agent, platform } = call;
    const r = new ParamReader(call.params);
    const voter = agent.agentId;
    if (call.header.messageId === VoltageMsg.PROTOCOL_ATTRIBUTES) {
      return ok(new PayloadWriter(4).u32(agent.resources('voltage').length & 0xffff).bytes);
    }
    const pid = agent.platformId('voltage', r.u32());
    switch (call.header.messageId) {
      case VoltageMsg.DOMAIN_ATTRIBUTES: {
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        const d = platform.desc.voltages[pid]!;
        const attrs = d.name.length > SHORT_NAME_BYTES - 1 ? VOLTAGE_ATTR_EXTENDED_NAME : 0;
        return ok(new PayloadWriter(4 + SHORT_NAME_BYTES).u32(attrs).name(d.name, SHORT_NAME_BYTES).bytes);
      }
      case VoltageMsg.DESCRIBE_LEVELS: {
        const index = r.u32();
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        const levels = platform.desc.voltages[pid]!.levels;
        if (levels.kind === 'range') {
          if (index !== 0) return fail(ScmiStatus.OUT_OF_RANGE);
          return ok(new PayloadWriter(16).u32(3 | LEVELS_SEGMENTED).s32(levels.min).s32(levels.max).s32(levels.step).bytes);
        }
        const total = setCount(levels);
        if (index >= total) return fail(ScmiStatus.OUT_OF_RANGE);
        const n = Math.min(MAX_LEVELS_PER_REPLY, total - index);
        const w = new PayloadWriter(4 + 4 * n).u32(n | ((total - index - n) << 16));
        for (let i = 0; i < n; i++) w.s32(levels.values[index + i]!);
        return ok(w.bytes);
      }
      case VoltageMsg.CONFIG_SET: {
        const config = r.u32();
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        if ((config & ~0xf) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
        // Bit 3 set: an implementation-defined mode, none supported; 1–6: reserved architectural modes.
        if (config & 0x8) return fail(ScmiStatus.NOT_SUPPORTED);
        if (config !== VoltageConfig.OFF && config !== VoltageConfig.ON) return fail(ScmiStatus.INVALID_PARAMETERS);
        if (!agent.mayControl('voltage', pid)) return fail(ScmiStatus.DENIED);
        platform.voltageConfig(voter, pid, config === VoltageConfig.ON);
        return ok();
      }
      case VoltageMsg.CONFIG_GET: {
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        const on = platform.voltageVote(voter, pid).on;
        return ok(new PayloadWriter(4).u32(on ? VoltageConfig.ON : VoltageConfig.OFF).bytes);
      }
      case VoltageMsg.LEVEL_SET: {
        const flags = r.u32();
        const microvolts = r.s32();
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        if ((flags & ~LEVEL_SET_ASYNC) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
        if (flags & LEVEL_SET_ASYNC) return fail(ScmiStatus.NOT_SUPPORTED);
        if (!agent.mayControl('voltage', pid)) return fail(ScmiStatus.DENIED);
        if (!platform.voltageSetLevel(voter, pid, microvolts)) return fail(ScmiStatus.OUT_OF_RANGE);
        return ok();
      }
      case VoltageMsg.LEVEL_GET: {
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        const v = platform.voltageVote(voter, pid).microvolts ?? platform.voltageAggregate(pid).microvolts;
        return ok(new PayloadWriter(4).s32(v).bytes);
      }
      case VoltageMsg.DOMAIN_NAME_GET: {
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        return ok(new PayloadWriter(4 + LONG_NAME_BYTES).u32(0).name(platform.desc.voltages[pid]!.name, LONG_NAME_BYTES).bytes);
      }
      default:
        return fail(ScmiStatus.NOT_SUPPORTED);
    }
  };

  return { id: ScmiProtocolId.VOLTAGE, version: VOLTAGE_VERSION, messages, handle };
}
