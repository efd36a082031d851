/**
 * The default platform description the SCMI backend exposes when the emulator is given none: a
 * small SoC with clocks described as ranges and as lists (one list longer than a reply page, so
 * CLOCK_DESCRIBE_RATES pages), two regulators (a list and a stepped range), power, perf and reset
 * domains, two thermal sensors, and devices grouping them for per-agent permissions
 * (scmi-virtio.md §12.3 "device@N" sketch). Format: ScmiPlatformDesc in src/scmi/api.ts.
 *
 * Host votes at start: the GPU clock (200 MHz) and its regulator (800 mV) are held on by the host,
 * as is the CPU power domain; the little-CPU perf domain runs at the host's level 2.
 */
import type { ScmiPlatformDesc } from './api.js';

/** Platform IDs of the default devices (BASE_SET_DEVICE_PERMISSIONS device_id). */
export const DefaultDevice = { SDHC: 0, I2C: 1, GPU: 2, UART: 3, DISPLAY: 4, CPU: 5 } as const;

/** A fresh copy of the default platform description. */
export function defaultPlatform(): ScmiPlatformDesc {
  const pixelRates: number[] = [];
  for (let k = 0; k < 20; k++) pixelRates.push(25_000_000 + k * 5_000_000);
  return {
    vendor: 'gunyah-emu',
    subVendor: 'scmi-virtio',
    implementationVersion: 0x0001_0000,
    clocks: [
      { name: 'sdhc-core', rates: { kind: 'list', values: [400_000, 25_000_000, 50_000_000, 100_000_000, 200_000_000] } },
      { name: 'i2c-bus', rates: { kind: 'range', min: 100_000, max: 1_000_000, step: 100_000 } },
      {
        name: 'gpu-core',
        rates: { kind: 'range', min: 100_000_000, max: 800_000_000, step: 1_000_000 },
        hostEnabled: true,
        hostRate: 200_000_000,
      },
      { name: 'uart', rates: { kind: 'list', values: [1_843_200, 3_686_400, 7_372_800, 14_745_600] } },
      { name: 'display-pixel', rates: { kind: 'list', values: pixelRates } },
    ],
    voltages: [
      { name: 'vdd-sdhc-io', levels: { kind: 'list', values: [1_800_000, 3_300_000] } },
      {
        name: 'vdd-gpu',
        levels: { kind: 'range', min: 600_000, max: 1_100_000, step: 12_500 },
        hostOn: true,
        hostMicrovolts: 800_000,
      },
    ],
    powerDomains: [{ name: 'gpu-pd' }, { name: 'display-pd' }, { name: 'sdhc-pd' }, { name: 'cpu-pd', hostOn: true }],
    perfDomains: [
      {
        name: 'gpu-perf',
        opps: [
          { level: 1, powerCost: 100, latencyUs: 50, freqKhz: 200_000 },
          { level: 2, powerCost: 250, latencyUs: 50, freqKhz: 400_000 },
          { level: 3, powerCost: 600, latencyUs: 80, freqKhz: 800_000 },
        ],
      },
      {
        name: 'cpu-little',
        opps: [
          { level: 1, powerCost: 50, latencyUs: 30, freqKhz: 300_000 },
          { level: 2, powerCost: 120, latencyUs: 30, freqKhz: 600_000 },
          { level: 3, powerCost: 300, latencyUs: 40, freqKhz: 1_200_000 },
          { level: 4, powerCost: 700, latencyUs: 40, freqKhz: 1_800_000 },
        ],
        hostLevel: 2,
      },
    ],
    resetDomains: [
      { name: 'sdhc-reset', latencyUs: 10 },
      { name: 'i2c-reset', latencyUs: 0xffff_ffff },
      { name: 'gpu-reset', latencyUs: 100 },
    ],
    sensors: [
      // Millidegrees Celsius (type 2, exponent −3): 40.0 °C rising by 0.1 °C per read, wrapping every 10.
      { name: 'soc-thermal', type: 2, unitExponent: -3, reading: (n) => 40_000n + BigInt(n % 10) * 100n },
      { name: 'gpu-thermal', type: 2, unitExponent: -3, reading: (n) => 45_000n + BigInt(n % 20) * 250n },
    ],
    devices: [
      { id: DefaultDevice.SDHC, name: 'sdhc', clocks: [0], voltages: [0], powerDomains: [2], resetDomains: [0] },
      { id: DefaultDevice.I2C, name: 'i2c', clocks: [1], resetDomains: [1] },
      { id: DefaultDevice.GPU, name: 'gpu', clocks: [2], voltages: [1], powerDomains: [0], perfDomains: [0], resetDomains: [2], sensors: [1] },
      { id: DefaultDevice.UART, name: 'uart', clocks: [3] },
      { id: DefaultDevice.DISPLAY, name: 'display', clocks: [4], powerDomains: [1] },
      { id: DefaultDevice.CPU, name: 'cpu', powerDomains: [3], perfDomains: [1], sensors: [0] },
    ],
  };
}
