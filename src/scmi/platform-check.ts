/**
 * Validation of a platform description (ScmiPlatformDesc, src/scmi/api.ts) before the backend
 * uses it. A bad description is a programming error of the emulator's user: TypeError naming
 * the field. The limits come from the wire formats of scmi-virtio.md §9: u16 resource counts,
 * u8 name[16] / name[64] fields, u64 clock rates, s32 microvolts, u32 perf levels and costs,
 * u16 OPP latency, u8 sensor type.
 */
import type { LevelSet, ScmiPlatformDesc } from './api.js';
import { setContains } from './levels.js';

/** Longest resource name (NAME_GET's name[64] keeps a NUL). */
export const MAX_RESOURCE_NAME = 63;
/** Longest vendor string (name[16] keeps a NUL). */
export const MAX_SHORT_NAME = 15;
/** Resources of one kind (u16 counts in PROTOCOL_ATTRIBUTES). */
export const MAX_RESOURCES = 0xffff;

const U32_MAX = 0xffff_ffff;

function fail(path: string, what: string): never {
  throw new TypeError(`SCMI platform: ${path}: ${what}`);
}

/** Printable ASCII, no NUL. */
export function isScmiName(s: unknown, max: number): s is string {
  return typeof s === 'string' && s.length >= 1 && s.length <= max && /^[\x20-\x7e]+$/.test(s);
}

function checkName(path: string, s: unknown, max: number): void {
  if (!isScmiName(s, max)) fail(path, `must be 1..${max} printable ASCII characters, got ${JSON.stringify(s)}`);
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function checkUint(path: string, v: unknown, max: number): void {
  if (!isUint(v, max)) fail(path, `must be an integer in 0..${max}, got ${String(v)}`);
}

function checkLevelSet(path: string, set: LevelSet | undefined, lo: number, hi: number): void {
  if (typeof set !== 'object' || set === null) fail(path, 'missing');
  const inBounds = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  if (set.kind === 'range') {
    if (!inBounds(set.min) || !inBounds(set.max)) fail(path, `min and max must be integers in ${lo}..${hi}`);
    if (set.min > set.max) fail(path, `min ${set.min} > max ${set.max}`);
    if (!isUint(set.step, hi - lo) || set.step < 1) fail(`${path}.step`, 'must be a positive integer');
    if ((set.max - set.min) % set.step !== 0) fail(path, `max − min must be a multiple of step ${set.step}`);
  } else if (set.kind === 'list') {
    if (!Array.isArray(set.values) || set.values.length === 0) fail(`${path}.values`, 'must be a non-empty list');
    // The describe replies count what remains in a u16.
    if (set.values.length > MAX_RESOURCES) fail(`${path}.values`, `at most ${MAX_RESOURCES} values`);
    set.values.forEach((v, i) => {
      if (!inBounds(v)) fail(`${path}.values[${i}]`, `must be an integer in ${lo}..${hi}`);
      if (i > 0 && v <= set.values[i - 1]!) fail(`${path}.values[${i}]`, 'values must be strictly ascending');
    });
  } else {
    fail(`${path}.kind`, "must be 'range' or 'list'");
  }
}

function checkList(path: string, list: unknown): void {
  if (!Array.isArray(list)) fail(path, 'must be an array');
  if (list.length > MAX_RESOURCES) fail(path, `at most ${MAX_RESOURCES} entries`);
}

/** Throw TypeError unless `desc` is a usable platform description. */
export function checkPlatformDesc(desc: ScmiPlatformDesc): void {
  if (typeof desc !== 'object' || desc === null) fail('desc', 'must be an object');
  checkName('vendor', desc.vendor, MAX_SHORT_NAME);
  checkName('subVendor', desc.subVendor, MAX_SHORT_NAME);
  checkUint('implementationVersion', desc.implementationVersion, U32_MAX);

  checkList('clocks', desc.clocks);
  desc.clocks.forEach((c, i) => {
    const p = `clocks[${i}]`;
    checkName(`${p}.name`, c.name, MAX_RESOURCE_NAME);
    checkLevelSet(`${p}.rates`, c.rates, 0, Number.MAX_SAFE_INTEGER);
    if (c.hostEnabled !== undefined && typeof c.hostEnabled !== 'boolean') fail(`${p}.hostEnabled`, 'must be boolean');
    if (c.hostRate !== undefined && !setContains(c.rates, c.hostRate)) fail(`${p}.hostRate`, `${c.hostRate} is not one of the clock's rates`);
  });

  checkList('voltages', desc.voltages);
  desc.voltages.forEach((v, i) => {
    const p = `voltages[${i}]`;
    checkName(`${p}.name`, v.name, MAX_RESOURCE_NAME);
    checkLevelSet(`${p}.levels`, v.levels, -0x8000_0000, 0x7fff_ffff);
    if (v.hostOn !== undefined && typeof v.hostOn !== 'boolean') fail(`${p}.hostOn`, 'must be boolean');
    if (v.hostMicrovolts !== undefined && !setContains(v.levels, v.hostMicrovolts)) {
      fail(`${p}.hostMicrovolts`, `${v.hostMicrovolts} is not one of the domain's levels`);
    }
  });

  checkList('powerDomains', desc.powerDomains);
  desc.powerDomains.forEach((d, i) => {
    checkName(`powerDomains[${i}].name`, d.name, MAX_RESOURCE_NAME);
    if (d.hostOn !== undefined && typeof d.hostOn !== 'boolean') fail(`powerDomains[${i}].hostOn`, 'must be boolean');
  });

  checkList('perfDomains', desc.perfDomains);
  desc.perfDomains.forEach((d, i) => {
    const p = `perfDomains[${i}]`;
    checkName(`${p}.name`, d.name, MAX_RESOURCE_NAME);
    if (!Array.isArray(d.opps) || d.opps.length === 0) fail(`${p}.opps`, 'must be a non-empty list');
    d.opps.forEach((o, j) => {
      const q = `${p}.opps[${j}]`;
      checkUint(`${q}.level`, o.level, U32_MAX);
      checkUint(`${q}.powerCost`, o.powerCost, U32_MAX);
      checkUint(`${q}.latencyUs`, o.latencyUs, 0xffff);
      checkUint(`${q}.freqKhz`, o.freqKhz, U32_MAX);
      if (j > 0 && o.level <= d.opps[j - 1]!.level) fail(`${q}.level`, 'levels must be strictly ascending');
    });
    if (d.hostLevel !== undefined && !d.opps.some((o) => o.level === d.hostLevel)) {
      fail(`${p}.hostLevel`, `${d.hostLevel} is not an OPP level`);
    }
  });

  checkList('resetDomains', desc.resetDomains);
  desc.resetDomains.forEach((d, i) => {
    checkName(`resetDomains[${i}].name`, d.name, MAX_RESOURCE_NAME);
    checkUint(`resetDomains[${i}].latencyUs`, d.latencyUs, U32_MAX);
  });

  checkList('sensors', desc.sensors);
  desc.sensors.forEach((s, i) => {
    const p = `sensors[${i}]`;
    checkName(`${p}.name`, s.name, MAX_RESOURCE_NAME);
    checkUint(`${p}.type`, s.type, 0xff);
    if (!Number.isInteger(s.unitExponent) || s.unitExponent < -16 || s.unitExponent > 15) {
      fail(`${p}.unitExponent`, 'must be an integer in -16..15');
    }
    if (typeof s.reading !== 'function') fail(`${p}.reading`, 'must be a function');
  });

  if (!Array.isArray(desc.devices)) fail('devices', 'must be an array');
  const ids = new Set<number>();
  desc.devices.forEach((d, i) => {
    const p = `devices[${i}]`;
    checkUint(`${p}.id`, d.id, U32_MAX);
    if (ids.has(d.id)) fail(`${p}.id`, `duplicate device id ${d.id}`);
    ids.add(d.id);
    checkName(`${p}.name`, d.name, MAX_RESOURCE_NAME);
    const refs: [string, readonly number[] | undefined, number][] = [
      ['clocks', d.clocks, desc.clocks.length],
      ['voltages', d.voltages, desc.voltages.length],
      ['powerDomains', d.powerDomains, desc.powerDomains.length],
      ['perfDomains', d.perfDomains, desc.perfDomains.length],
      ['resetDomains', d.resetDomains, desc.resetDomains.length],
      ['sensors', d.sensors, desc.sensors.length],
    ];
    for (const [field, list, n] of refs) {
      if (list === undefined) continue;
      if (!Array.isArray(list)) fail(`${p}.${field}`, 'must be an array');
      const seen = new Set<number>();
      list.forEach((r, j) => {
        if (!isUint(r, n - 1) || n === 0) fail(`${p}.${field}[${j}]`, `${String(r)} names no ${field} entry`);
        if (seen.has(r)) fail(`${p}.${field}[${j}]`, `duplicate ${r}`);
        seen.add(r);
      });
    }
  });
}
