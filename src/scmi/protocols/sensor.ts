/**
 * SCMI Sensor management protocol (0x15), version 3.0 (0x30000, as vhost-device-scmi), as
 * scmi-virtio.md §9.6 gives it.
 *
 * Implemented: the common messages (protocol-kit.ts), SENSOR_DESCRIPTION_GET (0x3),
 * SENSOR_READING_GET (0x6, synchronous only). Everything else (0x4 TRIP_POINT_NOTIFY, 0x5
 * TRIP_POINT_CONFIG, 0x7 AXIS_DESCRIPTION_GET, 0x8 LIST_UPDATE_INTERVALS, 0x9 CONFIG_GET, 0xA
 * CONFIG_SET, 0xB CONTINUOUS_UPDATE_NOTIFY, 0xC NAME_GET, 0xD AXIS_NAME_GET) → NOT_SUPPORTED and
 * NOT_FOUND from PROTOCOL_MESSAGE_ATTRIBUTES: their payloads are not given, and the notify ones
 * need a P2A channel (§5).
 *
 * PROTOCOL_ATTRIBUTES: the agent's sensor count, max_pending 0 (no async reads), no register
 * region. SENSOR_DESCRIPTION_GET pages at most 4 descriptors (4 + 28 × 4 = 116 bytes ≤ 128, §5):
 * {u32 id (the agent's own), u32 attributes_low, u32 attributes_high, u8 name[16]}, with
 * attributes_low = timestamps supported (bit 9), timestamp exponent 0 (bits 14:10), no async
 * read (bit 31), no update notifications (bit 30), no extended attributes (bit 8), no trip points
 * (bits 7:0); attributes_high = sensor type (bits 7:0) and the unit's power-of-ten exponent as a
 * signed 5-bit field (bits 15:11); every sensor is scalar (bit 8 and bits 21:16 zero).
 *
 * SENSOR_READING_GET (v3): one {value_low, value_high, timestamp_low, timestamp_high} group per
 * axis, so one group for a scalar sensor. The value is `PlatformState.readSensor` as a 64-bit two's
 * complement number. The timestamp is a deterministic counter (docs/decisions.md S25): the
 * number of readings of that platform sensor this handler instance has answered, 1 for the first,
 * reported in units of 10^0 s; it is the handler's only state.
 *
 * Check order (S20): short parameters → PROTOCOL_ERROR; unknown sensor → NOT_FOUND; flag bits
 * other than async → INVALID_PARAMETERS; async flag → NOT_SUPPORTED. A desc_index past the end
 * → OUT_OF_RANGE (an index equal to the count → an empty page, S26).
 */
import type { ScmiCall, ScmiProtocol, ScmiReply } from '../api.js';
import { SCMI_MAX_PAYLOAD, ScmiProtocolId, ScmiStatus } from '../api.js';
import { PayloadWriter, SHORT_NAME_BYTES, fail, ok } from '../wire.js';
import type { ParamReader } from '../wire.js';
import { defineProtocol, page, resolveResource, visibleCount } from './protocol-kit.js';

export const SENSOR_PROTOCOL_VERSION = 0x3_0000;

export const SensorMsg = {
  SENSOR_DESCRIPTION_GET: 0x3,
  SENSOR_TRIP_POINT_NOTIFY: 0x4,
  SENSOR_TRIP_POINT_CONFIG: 0x5,
  SENSOR_READING_GET: 0x6,
  SENSOR_AXIS_DESCRIPTION_GET: 0x7,
  SENSOR_LIST_UPDATE_INTERVALS: 0x8,
  SENSOR_CONFIG_GET: 0x9,
  SENSOR_CONFIG_SET: 0xa,
  SENSOR_CONTINUOUS_UPDATE_NOTIFY: 0xb,
  SENSOR_NAME_GET: 0xc,
  SENSOR_AXIS_NAME_GET: 0xd,
} as const;

/** attributes_low: timestamps supported (bit 9), exponent 0 in bits 14:10. */
const ATTR_LOW_TIMESTAMPED = 1 << 9;
/** SENSOR_READING_GET flags. */
const READ_FLAG_ASYNC = 1 << 0;

/** Bytes of one descriptor (no extended attributes), and the descriptors that fit one reply. */
const DESCRIPTOR_BYTES = 12 + SHORT_NAME_BYTES;
export const SENSOR_DESCRIPTORS_PER_REPLY = Math.floor((SCMI_MAX_PAYLOAD - 4) / DESCRIPTOR_BYTES);

function protocolAttributes(call: ScmiCall): ScmiReply {
  return ok(
    new PayloadWriter(16)
      .u16(visibleCount(call, 'sensor'))
      .u8(0) // max_pending: no asynchronous reads
      .u8(0) // reserved
      .u32(0) // reg_addr_low
      .u32(0) // reg_addr_high
      .u32(0).bytes, // reg_len
  );
}

function descriptionGet(call: ScmiCall, p: ParamReader): ScmiReply {
  const index = p.u32();
  const visible = call.agent.resources('sensor');
  const pg = page(visible.length, index, SENSOR_DESCRIPTORS_PER_REPLY);
  if (!pg) return fail(ScmiStatus.OUT_OF_RANGE);
  const w = new PayloadWriter(4 + DESCRIPTOR_BYTES * pg.count).u16(pg.count).u16(pg.remaining);
  for (let id = pg.first; id < pg.first + pg.count; id++) {
    const s = call.platform.desc.sensors[visible[id]!]!;
    const attrHigh = (s.type & 0xff) | ((s.unitExponent & 0x1f) << 11);
    w.u32(id).u32(ATTR_LOW_TIMESTAMPED).u32(attrHigh).name(s.name, SHORT_NAME_BYTES);
  }
  return ok(w.bytes);
}

/** The Sensor protocol handler. Holds the per-sensor reading counters used as timestamps. */
export function sensorProtocol(): ScmiProtocol {
  const readings = new Map<number, number>();

  const readingGet = (call: ScmiCall, p: ParamReader): ScmiReply => {
    const sensorId = p.u32();
    const flags = p.u32();
    const s = resolveResource(call, 'sensor', call.platform.desc.sensors, sensorId);
    if (!s) return fail(ScmiStatus.NOT_FOUND);
    if ((flags & ~READ_FLAG_ASYNC) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (flags & READ_FLAG_ASYNC) return fail(ScmiStatus.NOT_SUPPORTED);
    const value = BigInt.asUintN(64, call.platform.readSensor(s.pid));
    const stamp = (readings.get(s.pid) ?? 0) + 1;
    readings.set(s.pid, stamp);
    return ok(new PayloadWriter(16).u64(value).u64(stamp).bytes);
  };

  return defineProtocol({
    id: ScmiProtocolId.SENSOR,
    version: SENSOR_PROTOCOL_VERSION,
    olderVersions: [],
    attributes: protocolAttributes,
    handlers: new Map([
      [SensorMsg.SENSOR_DESCRIPTION_GET, { attributes: 0, handle: descriptionGet }],
      [SensorMsg.SENSOR_READING_GET, { attributes: 0, handle: readingGet }],
    ]),
  });
}
