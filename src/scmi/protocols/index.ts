/**
 * The protocol set an SCMI backend serves by default (scmi-virtio.md §8, §9.3–§9.8): Power
 * domain, Performance, Clock, Sensor, Reset domain and Voltage domain. Base (§9.2) is not in
 * the list: every backend builds its own, since Base answers from the backend's agent registry.
 */
import type { ScmiProtocol } from '../api.js';
import { clockProtocol } from './clock.js';
import { perfProtocol } from './perf.js';
import { powerProtocol } from './power.js';
import { resetProtocol } from './reset.js';
import { sensorProtocol } from './sensor.js';
import { voltageProtocol } from './voltage.js';

export {
  BASE_VERSION,
  BaseMsg,
  DEVICE_PERM_ALLOW,
  DEVICE_PERM_READ_ONLY,
  PROTOCOL_PERM_ALLOW,
  RESET_AGENT_PERMISSIONS,
  baseProtocol,
} from './base.js';
export type { BaseContext } from './base.js';
export { CLOCK_VERSION, ClockMsg, RateSetFlag, MAX_RATES_PER_REPLY, clockProtocol } from './clock.js';
export { VOLTAGE_VERSION, VoltageMsg, VoltageConfig, MAX_LEVELS_PER_REPLY, voltageProtocol } from './voltage.js';
export { POWER_PROTOCOL_VERSION, PowerMsg, PowerState, powerProtocol } from './power.js';
export { PERF_PROTOCOL_VERSION, PerfMsg, perfProtocol } from './perf.js';
export { RESET_PROTOCOL_VERSION, ResetMsg, ResetFlag, ResetState, resetProtocol } from './reset.js';
export { SENSOR_PROTOCOL_VERSION, SensorMsg, sensorProtocol } from './sensor.js';

/** Fresh instances of every non-Base protocol, ascending by protocol ID. */
export function defaultProtocols(): ScmiProtocol[] {
  return [powerProtocol(), perfProtocol(), clockProtocol(), sensorProtocol(), resetProtocol(), voltageProtocol()];
}
