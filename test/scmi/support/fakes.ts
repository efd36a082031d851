/**
 * Test doubles for the SCMI protocol handlers (src/scmi/protocols/*): a fake agent with a fixed
 * view of the platform (scmi-virtio.md §12: agent-local IDs, read-only resources), a fake vote
 * book that logs every change, a small hand-made platform description whose values the golden
 * vectors are typed from, `exchange`, which sends hand-typed request bytes (header word and
 * parameters, §5/§6) to one handler and returns the framed response bytes as hex, and
 * `backendTalkers`, which sends them through the real backend (agents, vote book, dispatch).
 */
import type {
  PlatformState,
  ResourceKind,
  ScmiAgent,
  ScmiPlatformDesc,
  ScmiProtocol,
  VoterId,
} from '../../../src/scmi/api.js';
import { decodeHeader, frameResponse, readHeaderWord } from '../../../src/scmi/header.js';
import { ScmiBackend } from '../../../src/scmi/backend.js';

export { hex, toHex, norm } from './hex.js';
import { hex, toHex } from './hex.js';

// ── the test platform ─────────────────────────────────────────────────────────────────────

/**
 * Power: pd-a, pd-b (host keeps it on), pd-c. Perf: cpu-perf (3 OPPs: 100/200/300), big-perf
 * (12 OPPs: level 10·k, cost k, 5 µs, 100 MHz·k). Reset: rst-a (10 µs), rst-b (unknown
 * latency), rst-c (250 µs). Sensors: temp-0 (°C e-3, 40000 + n), volt-1 (V e-6, 800000),
 * neg-2 (−5), big-3 (0x1_2345_6789), s4 (type 0, e-16, 0), hidden-5, s6 (type 255, 7).
 */
export function testPlatform(): ScmiPlatformDesc {
  return {
    vendor: 'test',
    subVendor: 'fakes',
    implementationVersion: 1,
    clocks: [],
    voltages: [],
    powerDomains: [{ name: 'pd-a' }, { name: 'pd-b', hostOn: true }, { name: 'pd-c' }],
    perfDomains: [
      {
        name: 'cpu-perf',
        opps: [
          { level: 100, powerCost: 10, latencyUs: 20, freqKhz: 200_000 },
          { level: 200, powerCost: 30, latencyUs: 20, freqKhz: 400_000 },
          { level: 300, powerCost: 70, latencyUs: 40, freqKhz: 800_000 },
        ],
      },
      {
        name: 'big-perf',
        opps: Array.from({ length: 12 }, (_, i) => ({
          level: 10 * (i + 1),
          powerCost: i + 1,
          latencyUs: 5,
          freqKhz: 100_000 * (i + 1),
        })),
      },
    ],
    resetDomains: [
      { name: 'rst-a', latencyUs: 10 },
      { name: 'rst-b', latencyUs: 0xffff_ffff },
      { name: 'rst-c', latencyUs: 250 },
    ],
    sensors: [
      { name: 'temp-0', type: 2, unitExponent: -3, reading: (n) => 40_000n + BigInt(n) },
      { name: 'volt-1', type: 5, unitExponent: -6, reading: () => 800_000n },
      { name: 'neg-2', type: 2, unitExponent: 0, reading: () => -5n },
      { name: 'big-3', type: 1, unitExponent: 15, reading: () => 0x1_2345_6789n },
      { name: 's4', type: 0, unitExponent: -16, reading: () => 0n },
      { name: 'hidden-5', type: 2, unitExponent: 0, reading: () => 99n },
      { name: 's6', type: 0xff, unitExponent: 0, reading: () => 7n },
    ],
    // Devices reproduce vmAgent's view when a VM gets dev-a fully and dev-ro read-only.
    devices: [
      { id: 0, name: 'dev-a', powerDomains: [0], perfDomains: [0], resetDomains: [1], sensors: [0, 1, 2, 3, 4, 6] },
      { id: 1, name: 'dev-ro', powerDomains: [2], perfDomains: [1], resetDomains: [2] },
      { id: 2, name: 'dev-hidden', powerDomains: [1], resetDomains: [0], sensors: [5] },
    ],
  };
}

// ── fake agent ────────────────────────────────────────────────────────────────────────────

export interface FakeAgentOptions {
  readonly agentId?: number;
  readonly name?: string;
  /** Platform IDs the agent sees, per kind, in its own ID order. */
  readonly resources?: Partial<Record<ResourceKind, readonly number[]>>;
  /** Platform IDs the agent sees but may not change. */
  readonly readOnly?: Partial<Record<ResourceKind, readonly number[]>>;
}

export function fakeAgent(opts: FakeAgentOptions = {}): ScmiAgent {
  const resources = opts.resources ?? {};
  const readOnly = opts.readOnly ?? {};
  return {
    agentId: opts.agentId ?? 2,
    name: opts.name ?? 'vm2',
    vmid: opts.agentId === 1 ? undefined : 100,
    trusted: opts.agentId === 1,
    protocols: () => [0x11, 0x13, 0x15, 0x16],
    resources: (kind) => resources[kind] ?? [],
    platformId: (kind, id) => (Number.isInteger(id) && id >= 0 ? resources[kind]?.[id] : undefined),
    mayControl: (kind, pid) => (resources[kind] ?? []).includes(pid) && !(readOnly[kind] ?? []).includes(pid),
  };
}

/**
 * The VM agent (ID 2) the golden vectors use: power [pd-a, pd-c] with pd-c read-only; perf
 * [cpu-perf, big-perf] with big-perf read-only; reset [rst-b, rst-c] with rst-c read-only;
 * sensors [0, 1, 2, 3, 4, 6] (hidden-5 not given).
 */
export function vmAgent(agentId = 2): ScmiAgent {
  return fakeAgent({
    agentId,
    name: `vm${agentId}`,
    resources: { power: [0, 2], perf: [0, 1], reset: [1, 2], sensor: [0, 1, 2, 3, 4, 6] },
    readOnly: { power: [2], perf: [1], reset: [2] },
  });
}

/** The host agent (ID 1): everything, all controllable. */
export function hostAgent(desc: ScmiPlatformDesc): ScmiAgent {
  const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  return fakeAgent({
    agentId: 1,
    name: 'host',
    resources: {
      power: all(desc.powerDomains.length),
      perf: all(desc.perfDomains.length),
      reset: all(desc.resetDomains.length),
      sensor: all(desc.sensors.length),
    },
  });
}

// ── fake vote book ────────────────────────────────────────────────────────────────────────

/**
 * A minimal PlatformState for the power, perf, reset and sensor handlers: per-voter votes, a
 * log of every state-changing call (`log`), simple aggregates. Clock and voltage calls throw.
 */
export class FakePlatformState implements PlatformState {
  readonly log: string[] = [];
  private readonly power = new Map<string, boolean>();
  private readonly perf = new Map<string, { level: number | undefined; max: number | undefined; min: number | undefined }>();
  private readonly resets = new Map<number, number>();
  private readonly reads = new Map<number, number>();

  constructor(readonly desc: ScmiPlatformDesc = testPlatform()) {}

  clockEnable(): void {
    throw new Error('clock not faked');
  }
  clockSetRate(): number | undefined {
    throw new Error('clock not faked');
  }
  clockVote(): { enabled: boolean; rate: number | undefined } {
    throw new Error('clock not faked');
  }
  clockAggregate(): { enabled: boolean; rate: number } {
    throw new Error('clock not faked');
  }
  voltageConfig(): void {
    throw new Error('voltage not faked');
  }
  voltageSetLevel(): boolean {
    throw new Error('voltage not faked');
  }
  voltageVote(): { on: boolean; microvolts: number | undefined } {
    throw new Error('voltage not faked');
  }
  voltageAggregate(): { on: boolean; microvolts: number } {
    throw new Error('voltage not faked');
  }

  powerSet(voter: VoterId, domain: number, on: boolean): void {
    this.log.push(`powerSet(${voter},${domain},${on})`);
    this.power.set(`${voter}/${domain}`, on);
  }
  powerAggregate(domain: number): boolean {
    for (const [k, on] of this.power) if (k.endsWith(`/${domain}`) && on) return true;
    return false;
  }
  powerVote(voter: VoterId, domain: number): boolean {
    return this.power.get(`${voter}/${domain}`) ?? false;
  }

  private perfEntry(voter: VoterId, domain: number): { level: number | undefined; max: number | undefined; min: number | undefined } {
    const key = `${voter}/${domain}`;
    let e = this.perf.get(key);
    if (!e) {
      e = { level: undefined, max: undefined, min: undefined };
      this.perf.set(key, e);
    }
    return e;
  }
  perfSetLevel(voter: VoterId, domain: number, level: number): boolean {
    this.log.push(`perfSetLevel(${voter},${domain},${level})`);
    const opps = this.desc.perfDomains[domain]!.opps;
    const e = this.perfEntry(voter, domain);
    if (!opps.some((o) => o.level === level)) return false;
    if ((e.max !== undefined && level > e.max) || (e.min !== undefined && level < e.min)) return false;
    e.level = level;
    return true;
  }
  perfSetLimits(voter: VoterId, domain: number, max: number, min: number): boolean {
    this.log.push(`perfSetLimits(${voter},${domain},${max},${min})`);
    const opps = this.desc.perfDomains[domain]!.opps;
    if (min > max || min < opps[0]!.level || max > opps[opps.length - 1]!.level) return false;
    const e = this.perfEntry(voter, domain);
    e.max = max;
    e.min = min;
    return true;
  }
  perfAggregate(domain: number): { level: number; max: number; min: number } {
    const opps = this.desc.perfDomains[domain]!.opps;
    let level = opps[0]!.level;
    for (const [k, e] of this.perf) if (k.endsWith(`/${domain}`) && e.level !== undefined) level = Math.max(level, e.level);
    return { level, max: opps[opps.length - 1]!.level, min: opps[0]!.level };
  }
  perfVote(voter: VoterId, domain: number): { level: number | undefined; max: number | undefined; min: number | undefined } {
    const e = this.perf.get(`${voter}/${domain}`);
    return { level: e?.level, max: e?.max, min: e?.min };
  }

  reset(voter: VoterId, domain: number): void {
    this.log.push(`reset(${voter},${domain})`);
    this.resets.set(domain, this.resetCount(domain) + 1);
  }
  resetCount(domain: number): number {
    return this.resets.get(domain) ?? 0;
  }

  readSensor(sensor: number): bigint {
    const n = this.reads.get(sensor) ?? 0;
    this.reads.set(sensor, n + 1);
    this.log.push(`readSensor(${sensor})`);
    return this.desc.sensors[sensor]!.reading(n);
  }

  releaseVoter(voter: VoterId): void {
    this.log.push(`releaseVoter(${voter})`);
    for (const k of [...this.power.keys()]) if (k.startsWith(`${voter}/`)) this.power.delete(k);
    for (const k of [...this.perf.keys()]) if (k.startsWith(`${voter}/`)) this.perf.delete(k);
  }
  onChange(): () => void {
    return () => {};
  }
}

// ── one request through one handler ───────────────────────────────────────────────────────

/**
 * Sends hand-typed request bytes (header word, then parameters) to `protocol` as `agent` and
 * returns the framed response (header echoed, s32 status, payload on SUCCESS) as canonical hex.
 */
export function exchange(protocol: ScmiProtocol, agent: ScmiAgent, platform: PlatformState, request: string): string {
  const bytes = hex(request);
  const word = readHeaderWord(bytes);
  if (word === undefined) throw new Error('request shorter than a header');
  const reply = protocol.handle({ agent, header: decodeHeader(word), params: bytes.subarray(4), platform });
  return toHex(frameResponse(word, reply));
}

/**
 * A real ScmiBackend over `testPlatform()` with one VM agent (ID 2) given dev-a fully and dev-ro
 * read-only and the four protocols 0x11, 0x13, 0x15, 0x16 — the same view as `vmAgent()`. `vm`
 * and `host` send hand-typed request bytes through `dispatch` and return canonical hex.
 */
export function backendTalkers(): {
  readonly backend: ScmiBackend;
  readonly vm: (request: string) => string;
  readonly host: (request: string) => string;
} {
  const backend = new ScmiBackend({ platform: testPlatform() });
  const h = backend.openAgent({
    agentId: 2,
    name: 'vm2',
    vmid: 100,
    devices: [0, { id: 1, readOnly: true }],
    protocols: [0x11, 0x13, 0x15, 0x16],
  });
  return {
    backend,
    vm: (request) => toHex(backend.dispatch(h, hex(request))),
    host: (request) => toHex(backend.dispatch(backend.host, hex(request))),
  };
}

/** A bound `exchange` for one protocol, agent and platform. */
export function talker(protocol: ScmiProtocol, agent: ScmiAgent, platform: PlatformState): (request: string) => string {
  return (request) => exchange(protocol, agent, platform, request);
}
