/**
 * Test support for the SCMI core tests (test/scmi/{header,base,clock,voltage,votes,policy,backend}):
 * a small hand-made platform whose values the golden vectors of those tests are typed from, hex
 * helpers, and `ask`, which sends hand-typed request bytes (scmi-virtio.md §5/§6) from one agent
 * through ScmiBackend.dispatch and returns the response as canonical hex.
 */
import type { ScmiPlatformDesc } from '../../../src/scmi/api.js';
import type { ScmiAgentHandle, ScmiBackendOptions } from '../../../src/scmi/backend.js';
import { ScmiBackend } from '../../../src/scmi/backend.js';

export { hex, toHex, norm } from './hex.js';
import { hex, toHex } from './hex.js';

/** `n` zero bytes as hex text (name padding). */
export function zeros(n: number): string {
  return '00 '.repeat(n);
}

/**
 * The core test platform.
 * Clocks: 0 clk-list {1000, 2000, 4000} Hz; 1 clk-range 100..200 MHz step 1 MHz, host enabled at
 * 120 MHz; 2 clk-big {2^32, 2^33}; 3 clk-long 1000..20000 step-list of 20; 4
 * a-clock-with-a-rather-long-name {32768}.
 * Voltages: 0 vdd-list {1.8 V, 3.3 V}; 1 vdd-range 600..1000 mV step 50 mV, host on at 700 mV;
 * 2 vdd-neg {−1 V, −0.5 V}; 3 vdd-many 40 levels 10 mV..400 mV.
 * One power, perf, reset domain and sensor. Devices: 0 dev-a (clocks 0,1; voltage 0), 1 dev-b
 * (clocks 1,2; voltage 1), 2 dev-c (clocks 3,4; voltages 2,3; the power/perf/reset/sensor).
 */
export function corePlatform(): ScmiPlatformDesc {
  return {
    vendor: 'scmi-core-test',
    subVendor: 'sub',
    implementationVersion: 0x0102_0304,
    clocks: [
      { name: 'clk-list', rates: { kind: 'list', values: [1000, 2000, 4000] } },
      { name: 'clk-range', rates: { kind: 'range', min: 100_000_000, max: 200_000_000, step: 1_000_000 }, hostEnabled: true, hostRate: 120_000_000 },
      { name: 'clk-big', rates: { kind: 'list', values: [2 ** 32, 2 ** 33] } },
      { name: 'clk-long', rates: { kind: 'list', values: Array.from({ length: 20 }, (_, i) => (i + 1) * 1000) } },
      { name: 'a-clock-with-a-rather-long-name', rates: { kind: 'list', values: [32768] } },
    ],
    voltages: [
      { name: 'vdd-list', levels: { kind: 'list', values: [1_800_000, 3_300_000] } },
      { name: 'vdd-range', levels: { kind: 'range', min: 600_000, max: 1_000_000, step: 50_000 }, hostOn: true, hostMicrovolts: 700_000 },
      { name: 'vdd-neg', levels: { kind: 'list', values: [-1_000_000, -500_000] } },
      { name: 'vdd-many', levels: { kind: 'list', values: Array.from({ length: 40 }, (_, i) => (i + 1) * 10_000) } },
    ],
    powerDomains: [{ name: 'pd0' }],
    perfDomains: [{ name: 'perf0', opps: [{ level: 1, powerCost: 10, latencyUs: 5, freqKhz: 100_000 }] }],
    resetDomains: [{ name: 'rst0', latencyUs: 0 }],
    sensors: [{ name: 's0', type: 2, unitExponent: 0, reading: () => 25n }],
    devices: [
      { id: 0, name: 'dev-a', clocks: [0, 1], voltages: [0] },
      { id: 1, name: 'dev-b', clocks: [1, 2], voltages: [1] },
      { id: 2, name: 'dev-c', clocks: [3, 4], voltages: [2, 3], powerDomains: [0], perfDomains: [0], resetDomains: [0], sensors: [0] },
    ],
  };
}

/** A backend on the core platform (options override). */
export function coreBackend(options: ScmiBackendOptions = {}): ScmiBackend {
  return new ScmiBackend({ platform: corePlatform(), ...options });
}

/** Send hand-typed request bytes; the response as canonical hex. */
export function ask(backend: ScmiBackend, agent: ScmiAgentHandle, request: string): string {
  return toHex(backend.dispatch(agent, hex(request)));
}
