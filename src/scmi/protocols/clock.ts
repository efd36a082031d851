/**
 * SCMI Clock protocol (0x14), version 3.0 (scmi-virtio.md §9.5; docs/decisions.md "SCMI").
 *
 * Messages: PROTOCOL_ATTRIBUTES, CLOCK_ATTRIBUTES, DESCRIBE_RATES, RATE_SET, RATE_GET,
 * CONFIG_SET (v2.1+ layout), NAME_GET, CONFIG_GET, plus the common ones the backend answers.
 * Not implemented (NOT_SUPPORTED; PROTOCOL_MESSAGE_ATTRIBUTES → NOT_FOUND): the notification
 * requests 0x9/0xA (no P2A channels, §5) and the parent/permission messages 0xC–0xF.
 *
 * Every clock ID is the caller's own (agents.ts). Enabled state and rate reported to an agent
 * are its own vote (rate: its own request, else the clock's aggregate rate). max_async_req is 0
 * and RATE_SET with ASYNC → NOT_SUPPORTED.
 */
import type { ScmiCall, ScmiProtocol, ScmiReply } from '../api.js';
import { SCMI_MAX_PAYLOAD, ScmiProtocolId, ScmiStatus } from '../api.js';
import type { RoundMode } from '../levels.js';
import { roundInSet, setCount } from '../levels.js';
import { LONG_NAME_BYTES, ParamReader, PayloadWriter, SHORT_NAME_BYTES, fail, ok } from '../wire.js';

export const CLOCK_VERSION = 0x0003_0000;

export const ClockMsg = {
  PROTOCOL_VERSION: 0x0,
  PROTOCOL_ATTRIBUTES: 0x1,
  PROTOCOL_MESSAGE_ATTRIBUTES: 0x2,
  ATTRIBUTES: 0x3,
  DESCRIBE_RATES: 0x4,
  RATE_SET: 0x5,
  RATE_GET: 0x6,
  CONFIG_SET: 0x7,
  NAME_GET: 0x8,
  RATE_NOTIFY: 0x9,
  RATE_CHANGE_REQUESTED_NOTIFY: 0xa,
  CONFIG_GET: 0xb,
} as const;

/** CLOCK_RATE_SET flags. */
export const RateSetFlag = { ASYNC: 0x1, IGNORE_DELAYED_RESP: 0x2, ROUND_UP: 0x4, ROUND_AUTO: 0x8 } as const;

/** CLOCK_ATTRIBUTES attribute bits. */
export const CLOCK_ATTR_ENABLED = 1 << 0;
export const CLOCK_ATTR_EXTENDED_NAME = 1 << 29;

/** DESCRIBE_RATES num_rates_flags bit 12: range triplet. */
export const RATES_RANGE_FORMAT = 1 << 12;

/** Rates per DESCRIBE_RATES reply: 4 + 8 × n ≤ SCMI_MAX_PAYLOAD. */
export const MAX_RATES_PER_REPLY = Math.floor((SCMI_MAX_PAYLOAD - 4) / 8);

/** CONFIG_SET attributes: bits 1:0 state, bits 23:16 OEM config type; others reserved. */
const CONFIG_STATE_MASK = 0x3;
const CONFIG_OEM_MASK = 0xff << 16;
const ConfigState = { DISABLE: 0, ENABLE: 1, UNCHANGED: 3 } as const;

export function clockProtocol(): ScmiProtocol {
  const messages = new Map<number, number>([
    [ClockMsg.PROTOCOL_VERSION, 0],
    [ClockMsg.PROTOCOL_ATTRIBUTES, 0],
    [ClockMsg.PROTOCOL_MESSAGE_ATTRIBUTES, 0],
    [ClockMsg.ATTRIBUTES, 0],
    [ClockMsg.DESCRIBE_RATES, 0],
    [ClockMsg.RATE_SET, 0],
    [ClockMsg.RATE_GET, 0],
    [ClockMsg.CONFIG_SET, 0],
    [ClockMsg.NAME_GET, 0],
    [ClockMsg.CONFIG_GET, 0],
  ]);

  const handle = (call: ScmiCall): ScmiReply => {
    const { agent, platform } = call;
    const r = new ParamReader(call.params);
    const voter = agent.agentId;
    if (call.header.messageId === ClockMsg.PROTOCOL_ATTRIBUTES) {
      return ok(new PayloadWriter(4).u16(agent.resources('clock').length).u8(0).u8(0).bytes);
    }
    // RATE_SET starts with u32 flags; every other message with u32 clock_id.
    if (call.header.messageId === ClockMsg.RATE_SET) {
      const flags = r.u32();
      const target = agent.platformId('clock', r.u32());
      const rate = r.u64();
      if (target === undefined) return fail(ScmiStatus.NOT_FOUND);
      if ((flags & ~0xf) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
      if (flags & RateSetFlag.ASYNC) return fail(ScmiStatus.NOT_SUPPORTED);
      if (!agent.mayControl('clock', target)) return fail(ScmiStatus.DENIED);
      if (rate > BigInt(Number.MAX_SAFE_INTEGER)) return fail(ScmiStatus.OUT_OF_RANGE);
      // ROUND_AUTO overrides ROUND_UP; neither: round down.
      const mode: RoundMode = flags & RateSetFlag.ROUND_AUTO ? 'nearest' : flags & RateSetFlag.ROUND_UP ? 'up' : 'down';
      const rounded = roundInSet(platform.desc.clocks[target]!.rates, Number(rate), mode);
      if (rounded === undefined) return fail(ScmiStatus.OUT_OF_RANGE);
      if (platform.clockSetRate(voter, target, rounded, false) === undefined) return fail(ScmiStatus.OUT_OF_RANGE);
      return ok();
    }
    const pid = agent.platformId('clock', r.u32());
    switch (call.header.messageId) {
      case ClockMsg.ATTRIBUTES: {
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        const c = platform.desc.clocks[pid]!;
        let attrs = platform.clockVote(voter, pid).enabled ? CLOCK_ATTR_ENABLED : 0;
        if (c.name.length > SHORT_NAME_BYTES - 1) attrs |= CLOCK_ATTR_EXTENDED_NAME;
        return ok(new PayloadWriter(4 + SHORT_NAME_BYTES + 4).u32(attrs).name(c.name, SHORT_NAME_BYTES).u32(0).bytes);
      }
      case ClockMsg.DESCRIBE_RATES: {
        const index = r.u32();
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        const rates = platform.desc.clocks[pid]!.rates;
        if (rates.kind === 'range') {
          if (index !== 0) return fail(ScmiStatus.OUT_OF_RANGE);
          return ok(new PayloadWriter(4 + 3 * 8).u32(3 | RATES_RANGE_FORMAT).u64(rates.min).u64(rates.max).u64(rates.step).bytes);
        }
        const total = setCount(rates);
        if (index >= total) return fail(ScmiStatus.OUT_OF_RANGE);
        const n = Math.min(MAX_RATES_PER_REPLY, total - index);
        const w = new PayloadWriter(4 + 8 * n).u32(n | ((total - index - n) << 16));
        for (let i = 0; i < n; i++) w.u64(rates.values[index + i]!);
        return ok(w.bytes);
      }
      case ClockMsg.RATE_GET: {
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        return ok(new PayloadWriter(8).u64(platform.clockVote(voter, pid).rate ?? platform.clockAggregate(pid).rate).bytes);
      }
      case ClockMsg.CONFIG_SET: {
        const attrs = r.u32();
        r.u32(); // oem_config_val: meaningful only with an OEM config type, none of which is supported
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        if ((attrs & ~(CONFIG_STATE_MASK | CONFIG_OEM_MASK)) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
        if ((attrs & CONFIG_OEM_MASK) !== 0) return fail(ScmiStatus.NOT_SUPPORTED);
        const state = attrs & CONFIG_STATE_MASK;
        if (state === 2) return fail(ScmiStatus.INVALID_PARAMETERS);
        if (!agent.mayControl('clock', pid)) return fail(ScmiStatus.DENIED);
        if (state !== ConfigState.UNCHANGED) platform.clockEnable(voter, pid, state === ConfigState.ENABLE);
        return ok();
      }
      case ClockMsg.NAME_GET: {
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        return ok(new PayloadWriter(4 + LONG_NAME_BYTES).u32(0).name(platform.desc.clocks[pid]!.name, LONG_NAME_BYTES).bytes);
      }
      case ClockMsg.CONFIG_GET: {
        const flags = r.u32();
        if (pid === undefined) return fail(ScmiStatus.NOT_FOUND);
        if ((flags & ~0xff) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
        if ((flags & 0xff) !== 0) return fail(ScmiStatus.NOT_SUPPORTED);
        const enabled = platform.clockVote(voter, pid).enabled;
        return ok(new PayloadWriter(12).u32(0).u32(enabled ? 1 : 0).u32(0).bytes);
      }
      default:
        return fail(ScmiStatus.NOT_SUPPORTED);
    }
  };

  return { id: ScmiProtocolId.CLOCK, version: CLOCK_VERSION, messages, handle };
}
