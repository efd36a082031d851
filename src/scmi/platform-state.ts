/**
 * The platform's vote book (PlatformState of src/scmi/api.ts): every voter's requests on each
 * clock, voltage domain, power domain and perf domain, the aggregate they yield, reset counts
 * and sensor read counters. Reference: scmi-virtio.md §12.2 (per-VM votes, release on close)
 * and the aggregation rules written in api.ts; docs/decisions.md S-rows "votes".
 *
 * Aggregates:
 * - clock: enabled while any voter holds it enabled; rate = the highest rate requested by a
 *   voter that holds it enabled, else the clock's lowest rate.
 * - voltage: on while any voter holds it on; level = the highest level requested by a voter that
 *   holds it on, else the domain's lowest level.
 * - power: on while any voter holds it on.
 * - perf: limits = the tightest of the voters' limits (lowest max, highest min; the max wins a
 *   conflict), defaults the lowest and highest OPP; level = the highest level requested, else the
 *   lowest OPP, brought inside the limits onto an OPP. A level request is checked against the
 *   voter's own limits only (another voter's limits must not be observable).
 * The host's votes (voter `hostVoter`, agent 1 by default) are set from the description's host*
 * fields at construction. `onChange` fires after an aggregate (or a reset count) changed.
 */
import type { PlatformState, ResourceKind, ScmiPlatformDesc, VoterId } from './api.js';
import { roundInSet, setContains, setMin } from './levels.js';
import { checkPlatformDesc } from './platform-check.js';

interface ClockVote {
  enabled: boolean;
  rate: number | undefined;
}
interface VoltageVote {
  on: boolean;
  microvolts: number | undefined;
}
interface PerfVote {
  level: number | undefined;
  max: number | undefined;
  min: number | undefined;
}

interface ClockAgg {
  readonly enabled: boolean;
  readonly rate: number;
}
interface VoltageAgg {
  readonly on: boolean;
  readonly microvolts: number;
}
interface PerfAgg {
  readonly level: number;
  readonly max: number;
  readonly min: number;
}

export interface PlatformStateOptions {
  /** The voter the description's host* fields vote for (default 1, the host agent). */
  readonly hostVoter?: VoterId;
}

type Listener = (kind: ResourceKind, id: number) => void;

export class ScmiPlatformState implements PlatformState {
  readonly desc: ScmiPlatformDesc;
  readonly hostVoter: VoterId;

  private readonly clockVotes: Map<VoterId, ClockVote>[];
  private readonly clockAgg: ClockAgg[];
  private readonly voltageVotes: Map<VoterId, VoltageVote>[];
  private readonly voltageAgg: VoltageAgg[];
  private readonly powerVotes: Map<VoterId, boolean>[];
  private readonly powerAgg: boolean[];
  private readonly perfVotes: Map<VoterId, PerfVote>[];
  private readonly perfAgg: PerfAgg[];
  private readonly resetCounts: number[];
  private readonly sensorReads: number[];
  private readonly listeners = new Set<Listener>();

  /** Validates `desc` (TypeError) and records the host's votes. */
  constructor(desc: ScmiPlatformDesc, options: PlatformStateOptions = {}) {
    checkPlatformDesc(desc);
    this.desc = desc;
    this.hostVoter = options.hostVoter ?? 1;
    this.clockVotes = desc.clocks.map(() => new Map());
    this.voltageVotes = desc.voltages.map(() => new Map());
    this.powerVotes = desc.powerDomains.map(() => new Map());
    this.perfVotes = desc.perfDomains.map(() => new Map());
    this.resetCounts = desc.resetDomains.map(() => 0);
    this.sensorReads = desc.sensors.map(() => 0);

    const host = this.hostVoter;
    desc.clocks.forEach((c, i) => {
      if (c.hostEnabled || c.hostRate !== undefined) {
        this.clockVotes[i]!.set(host, { enabled: c.hostEnabled ?? false, rate: c.hostRate });
      }
    });
    desc.voltages.forEach((v, i) => {
      if (v.hostOn || v.hostMicrovolts !== undefined) {
        this.voltageVotes[i]!.set(host, { on: v.hostOn ?? false, microvolts: v.hostMicrovolts });
      }
    });
    desc.powerDomains.forEach((d, i) => {
      if (d.hostOn) this.powerVotes[i]!.set(host, true);
    });
    desc.perfDomains.forEach((d, i) => {
      if (d.hostLevel !== undefined) this.perfVotes[i]!.set(host, { level: d.hostLevel, max: undefined, min: undefined });
    });

    this.clockAgg = desc.clocks.map((_, i) => this.computeClock(i));
    this.voltageAgg = desc.voltages.map((_, i) => this.computeVoltage(i));
    this.powerAgg = desc.powerDomains.map((_, i) => this.computePower(i));
    this.perfAgg = desc.perfDomains.map((_, i) => this.computePerf(i));
  }

  // ── clocks ─────────────────────────────────────────────────────────────────────────────

  clockEnable(voter: VoterId, clock: number, on: boolean): void {
    const votes = this.at(this.clockVotes, 'clock', clock);
    const v = votes.get(voter);
    if (v) v.enabled = on;
    else if (on) votes.set(voter, { enabled: true, rate: undefined });
    this.refreshClock(clock);
  }

  clockSetRate(voter: VoterId, clock: number, rate: number, roundUp: boolean): number | undefined {
    const votes = this.at(this.clockVotes, 'clock', clock);
    const set = this.desc.clocks[clock]!.rates;
    const target = roundInSet(set, rate, roundUp ? 'up' : 'down');
    if (target === undefined) return undefined;
    const v = votes.get(voter);
    if (v) v.rate = target;
    else votes.set(voter, { enabled: false, rate: target });
    this.refreshClock(clock);
    return target;
  }

  clockVote(voter: VoterId, clock: number): { readonly enabled: boolean; readonly rate: number | undefined } {
    const v = this.at(this.clockVotes, 'clock', clock).get(voter);
    return { enabled: v?.enabled ?? false, rate: v?.rate ?? this.clockAgg[clock]!.rate };
  }

  clockAggregate(clock: number): { readonly enabled: boolean; readonly rate: number } {
    this.at(this.clockVotes, 'clock', clock);
    return this.clockAgg[clock]!;
  }

  private computeClock(clock: number): ClockAgg {
    let enabled = false;
    let rate: number | undefined;
    for (const v of this.clockVotes[clock]!.values()) {
      if (!v.enabled) continue;
      enabled = true;
      if (v.rate !== undefined && (rate === undefined || v.rate > rate)) rate = v.rate;
    }
    return { enabled, rate: rate ?? setMin(this.desc.clocks[clock]!.rates) };
  }

  private refreshClock(clock: number): void {
    const before = this.clockAgg[clock]!;
    const after = this.computeClock(clock);
    this.clockAgg[clock] = after;
    if (before.enabled !== after.enabled || before.rate !== after.rate) this.emit('clock', clock);
  }

  // ── voltage domains ────────────────────────────────────────────────────────────────────

  voltageConfig(voter: VoterId, domain: number, on: boolean): void {
    const votes = this.at(this.voltageVotes, 'voltage', domain);
    const v = votes.get(voter);
    if (v) v.on = on;
    else if (on) votes.set(voter, { on: true, microvolts: undefined });
    this.refreshVoltage(domain);
  }

  voltageSetLevel(voter: VoterId, domain: number, microvolts: number): boolean {
    const votes = this.at(this.voltageVotes, 'voltage', domain);
    if (!setContains(this.desc.voltages[domain]!.levels, microvolts)) return false;
    const v = votes.get(voter);
    if (v) v.microvolts = microvolts;
    else votes.set(voter, { on: false, microvolts });
    this.refreshVoltage(domain);
    return true;
  }

  voltageVote(voter: VoterId, domain: number): { readonly on: boolean; readonly microvolts: number | undefined } {
    const v = this.at(this.voltageVotes, 'voltage', domain).get(voter);
    return { on: v?.on ?? false, microvolts: v?.microvolts ?? this.voltageAgg[domain]!.microvolts };
  }

  voltageAggregate(domain: number): { readonly on: boolean; readonly microvolts: number } {
    this.at(this.voltageVotes, 'voltage', domain);
    return this.voltageAgg[domain]!;
  }

  private computeVoltage(domain: number): VoltageAgg {
    let on = false;
    let uv: number | undefined;
    for (const v of this.voltageVotes[domain]!.values()) {
      if (!v.on) continue;
      on = true;
      if (v.microvolts !== undefined && (uv === undefined || v.microvolts > uv)) uv = v.microvolts;
    }
    return { on, microvolts: uv ?? setMin(this.desc.voltages[domain]!.levels) };
  }

  private refreshVoltage(domain: number): void {
    const before = this.voltageAgg[domain]!;
    const after = this.computeVoltage(domain);
    this.voltageAgg[domain] = after;
    if (before.on !== after.on || before.microvolts !== after.microvolts) this.emit('voltage', domain);
  }

  // ── power domains ──────────────────────────────────────────────────────────────────────

  powerSet(voter: VoterId, domain: number, on: boolean): void {
    const votes = this.at(this.powerVotes, 'power', domain);
    if (on) votes.set(voter, true);
    else votes.delete(voter);
    this.refreshPower(domain);
  }

  powerVote(voter: VoterId, domain: number): boolean {
    return this.at(this.powerVotes, 'power', domain).get(voter) ?? false;
  }

  powerAggregate(domain: number): boolean {
    this.at(this.powerVotes, 'power', domain);
    return this.powerAgg[domain]!;
  }

  private computePower(domain: number): boolean {
    for (const on of this.powerVotes[domain]!.values()) if (on) return true;
    return false;
  }

  private refreshPower(domain: number): void {
    const before = this.powerAgg[domain]!;
    const after = this.computePower(domain);
    this.powerAgg[domain] = after;
    if (before !== after) this.emit('power', domain);
  }

  // ── perf domains ───────────────────────────────────────────────────────────────────────

  perfSetLevel(voter: VoterId, domain: number, level: number): boolean {
    const votes = this.at(this.perfVotes, 'perf', domain);
    const d = this.desc.perfDomains[domain]!;
    const v = votes.get(voter);
    // Checked against the voter's own limits only: other voters' limits must not be observable.
    if (!d.opps.some((o) => o.level === level)) return false;
    if ((v?.max !== undefined && level > v.max) || (v?.min !== undefined && level < v.min)) return false;
    if (v) v.level = level;
    else votes.set(voter, { level, max: undefined, min: undefined });
    this.refreshPerf(domain);
    return true;
  }

  perfSetLimits(voter: VoterId, domain: number, max: number, min: number): boolean {
    const votes = this.at(this.perfVotes, 'perf', domain);
    const opps = this.desc.perfDomains[domain]!.opps;
    const lo = opps[0]!.level;
    const hi = opps[opps.length - 1]!.level;
    if (!Number.isInteger(max) || !Number.isInteger(min) || min > max || min < lo || max > hi) return false;
    const v = votes.get(voter);
    if (v) {
      v.max = max;
      v.min = min;
    } else {
      votes.set(voter, { level: undefined, max, min });
    }
    this.refreshPerf(domain);
    return true;
  }

  perfVote(
    voter: VoterId,
    domain: number,
  ): { readonly level: number | undefined; readonly max: number | undefined; readonly min: number | undefined } {
    const v = this.at(this.perfVotes, 'perf', domain).get(voter);
    return { level: v?.level, max: v?.max, min: v?.min };
  }

  perfAggregate(domain: number): { readonly level: number; readonly max: number; readonly min: number } {
    this.at(this.perfVotes, 'perf', domain);
    return this.perfAgg[domain]!;
  }

  private computePerf(domain: number): PerfAgg {
    const opps = this.desc.perfDomains[domain]!.opps;
    let max = opps[opps.length - 1]!.level;
    let min = opps[0]!.level;
    let level: number | undefined;
    for (const v of this.perfVotes[domain]!.values()) {
      if (v.max !== undefined && v.max < max) max = v.max;
      if (v.min !== undefined && v.min > min) min = v.min;
      if (v.level !== undefined && (level === undefined || v.level > level)) level = v.level;
    }
    if (min > max) min = max;
    let l = level ?? opps[0]!.level;
    if (l > max || l < min) {
      // Highest OPP within the limits; failing that, the lowest OPP at or above min (or the
      // highest OPP at or below max).
      const inside = opps.filter((o) => o.level >= min && o.level <= max);
      if (inside.length > 0) l = l > max ? inside[inside.length - 1]!.level : inside[0]!.level;
      else l = (opps.find((o) => o.level >= min) ?? opps[opps.length - 1]!).level;
    }
    return { level: l, max, min };
  }

  private refreshPerf(domain: number): void {
    const before = this.perfAgg[domain]!;
    const after = this.computePerf(domain);
    this.perfAgg[domain] = after;
    if (before.level !== after.level || before.max !== after.max || before.min !== after.min) this.emit('perf', domain);
  }

  // ── reset domains and sensors ──────────────────────────────────────────────────────────

  reset(_voter: VoterId, domain: number): void {
    this.at(this.resetCounts, 'reset', domain);
    this.resetCounts[domain]! += 1;
    this.emit('reset', domain);
  }

  resetCount(domain: number): number {
    return this.at(this.resetCounts, 'reset', domain);
  }

  readSensor(sensor: number): bigint {
    const n = this.at(this.sensorReads, 'sensor', sensor);
    this.sensorReads[sensor] = n + 1;
    return this.desc.sensors[sensor]!.reading(n);
  }

  // ── release ────────────────────────────────────────────────────────────────────────────

  releaseVoter(voter: VoterId): void {
    this.releaseVotes(voter, () => false);
  }

  /**
   * Drop the votes of `voter` on every resource for which `keep(kind, id)` is false (used when
   * a policy change takes control of a resource away from an agent), recomputing aggregates.
   */
  releaseVotes(voter: VoterId, keep: (kind: ResourceKind, id: number) => boolean): void {
    this.clockVotes.forEach((m, i) => {
      if (m.has(voter) && !keep('clock', i)) {
        m.delete(voter);
        this.refreshClock(i);
      }
    });
    this.voltageVotes.forEach((m, i) => {
      if (m.has(voter) && !keep('voltage', i)) {
        m.delete(voter);
        this.refreshVoltage(i);
      }
    });
    this.powerVotes.forEach((m, i) => {
      if (m.has(voter) && !keep('power', i)) {
        m.delete(voter);
        this.refreshPower(i);
      }
    });
    this.perfVotes.forEach((m, i) => {
      if (m.has(voter) && !keep('perf', i)) {
        m.delete(voter);
        this.refreshPerf(i);
      }
    });
  }

  /** Voters that hold a vote (of any value) on a resource, ascending; for tests and traces. */
  voters(kind: ResourceKind, id: number): readonly VoterId[] {
    const book =
      kind === 'clock' ? this.clockVotes : kind === 'voltage' ? this.voltageVotes : kind === 'power' ? this.powerVotes : kind === 'perf' ? this.perfVotes : undefined;
    const m = book?.[id];
    return m ? [...m.keys()].sort((a, b) => a - b) : [];
  }

  onChange(fn: Listener): () => void {
    // A wrapper per subscription, so the same function may subscribe twice.
    const entry: Listener = (k, i) => fn(k, i);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  private emit(kind: ResourceKind, id: number): void {
    let first: { error: unknown } | undefined;
    for (const fn of [...this.listeners]) {
      try {
        fn(kind, id);
      } catch (error) {
        first ??= { error };
      }
    }
    if (first) throw first.error;
  }

  private at<T>(list: T[], kind: ResourceKind, id: number): T {
    if (!Number.isInteger(id) || id < 0 || id >= list.length) {
      throw new RangeError(`SCMI platform: no ${kind} ${id}`);
    }
    return list[id]!;
  }
}
