/**
 * Matching: a trigger or an expectation against observations. Each field an expectation gives
 * is compared with the observation's field (numbers by value, whatever the spelling: "0x10",
 * 16, a name or its code); fields it leaves out match anything. Expectations are matched in
 * order, as a subsequence of the observations: each one is looked for after the one before it
 * matched. A failed expectation reports the closest observation of its kind after that point
 * (the one with the most matching fields) and which fields differ.
 *
 * Reference: docs/scenarios.md "Expectations"; observations.ts.
 */
import { Errno } from '../shared/errno.js';
import { ExitType, OsStatus, VmStatus } from '../rm-rpc/wire/enums.js';
import { ScmiStatus } from '../scmi/api.js';
import type { ExitObservation, Observation } from './observations.js';
import { formatObservation } from './observations.js';
import type { ExitMatchSpec, Expectation } from './types.js';
import { named, RUN_STATUS, u64, value } from './values.js';

type Check = (spec: unknown, obs: Record<string, unknown>, field: string) => boolean;

const eq: Check = (s, o, f) => s === o[f];
const big = (x: unknown): bigint | undefined => (typeof x === 'string' ? BigInt(x) : undefined);
const code = (table: Readonly<Record<string, number>>, field: string): Check => (s, o) => o[field] !== undefined && named(table, s as string | number) === o[field];
/** A value compared on the observation's first `len` bytes. */
const lenValue: (field: string) => Check = (field) => (s, o) => {
  const got = big(o[field]);
  if (got === undefined) return false;
  const len = typeof o['len'] === 'number' ? Math.min(8, o['len']) : 8;
  return BigInt.asUintN(8 * len, value(s as string | number)) === got;
};

const EXIT_CHECKS: Record<string, Check> = {
  vm: eq,
  vcpu: eq,
  phase: eq,
  kind: (s, o) => s === o['exit'],
  addr: (s, o) => big(o['addr']) === u64(s as string | number),
  len: eq,
  write: eq,
  data: lenValue('data'),
  supplied: lenValue('supplied'),
  device: (s, o) => (o['device'] === true) === s,
  status: code(RUN_STATUS, 'statusCode'),
  exitType: code(ExitType, 'exitTypeCode'),
  reasonSize: eq,
  reason: (s, o) => typeof o['reason'] === 'string' && o['reason'].startsWith(String(s).toLowerCase()),
  attempt: (s, o) => o['attemptCode'] !== undefined && (typeof s === 'number' ? s : -Errno[s as keyof typeof Errno]) === o['attemptCode'],
  exitReason: eq,
};

/** Per expectation key: the observation kind it looks at and how each field compares. */
const KINDS: Record<string, { kind: Observation['kind']; checks: Record<string, Check> }> = {
  exit: { kind: 'exit', checks: EXIT_CHECKS },
  ioctl: { kind: 'ioctl', checks: { vm: eq, vcpu: eq, phase: eq, op: eq, fn: eq, errno: eq, result: eq } },
  notification: {
    kind: 'notification',
    checks: {
      vm: eq,
      phase: eq,
      name: eq,
      exitType: code(ExitType, 'exitTypeCode'),
      reason: (s, o) => typeof o['reason'] === 'string' && o['reason'] === String(s).toLowerCase(),
      vmStatus: code(VmStatus, 'vmStatusCode'),
      osStatus: code(OsStatus, 'osStatusCode'),
    },
  },
  scmi: {
    kind: 'scmi',
    checks: {
      what: eq,
      agent: eq,
      clock: eq,
      enabled: eq,
      rate: eq,
      connected: eq,
      protocolId: eq,
      messageId: eq,
      status: code(ScmiStatus, 'statusCode'),
      payload: (s, o) => Array.isArray(o['payload']) && JSON.stringify(o['payload']) === JSON.stringify(s),
    },
  },
  pending: { kind: 'pending', checks: { vm: eq, vcpu: eq } },
  eventfd: { kind: 'eventfd', checks: { vm: eq, ioeventfd: eq, irqfd: eq, value: (s, o) => big(o['value']) === u64(s as string | number) } },
  fault: { kind: 'fault', checks: { layer: eq, what: eq, occurrence: eq } },
  shutdown: { kind: 'shutdown', checks: { clean: eq, rmVms: eq, parcels: eq } },
};

/** The fields of `spec` that `obs` does not match (empty: it matches). */
function differing(checks: Record<string, Check>, spec: Record<string, unknown>, obs: Observation): string[] {
  const o = obs as unknown as Record<string, unknown>;
  return Object.entries(spec)
    .filter(([k, v]) => v !== undefined && checks[k] !== undefined && !checks[k]!(v, o, k))
    .map(([k]) => k);
}

/** True when the exit observation meets the matcher. */
export function matchExit(spec: ExitMatchSpec, obs: ExitObservation): boolean {
  return differing(EXIT_CHECKS, spec as Record<string, unknown>, obs).length === 0;
}

/** An `errno` trigger against a failed call. */
export function matchErrnoTrigger(t: { vcpu?: number; op?: string; errno?: string }, o: { vcpu?: number; op: string; errno?: string }): boolean {
  return (t.vcpu === undefined || t.vcpu === o.vcpu) && (t.op === undefined || t.op === o.op) && (t.errno === undefined || t.errno === o.errno);
}

/** The expectation's key (exit, ioctl, …) and its fields. */
export function expectationBody(e: Expectation): { key: string; spec: Record<string, unknown> } {
  const key = Object.keys(e).find((k) => k !== 'note' && k in KINDS)!;
  return { key, spec: (e as Record<string, unknown>)[key] as Record<string, unknown> };
}

/** "exit vm=vm0 vcpu=0 kind=mmio addr=0x6100". */
export function formatExpectation(e: Expectation): string {
  const { key, spec } = expectationBody(e);
  const fields = Object.entries(spec).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`);
  return `${key}${fields.length ? ` ${fields.join(' ')}` : ' (any)'}`;
}

export interface ExpectationResult {
  readonly index: number;
  readonly expectation: Expectation;
  readonly text: string;
  readonly pass: boolean;
  /** The observation that met it. */
  readonly matched?: number;
  /** For a failure: what was seen instead. */
  readonly seen?: string;
}

/** Match `expectations` in order (as a subsequence) against `obs`. */
export function matchExpectations(expectations: readonly Expectation[], obs: readonly Observation[]): ExpectationResult[] {
  let cursor = 0;
  return expectations.map((e, index): ExpectationResult => {
    const { key, spec } = expectationBody(e);
    const k = KINDS[key]!;
    const text = formatExpectation(e);
    for (let i = cursor; i < obs.length; i++) {
      const o = obs[i]!;
      if (o.kind === k.kind && differing(k.checks, spec, o).length === 0) {
        cursor = i + 1;
        return { index, expectation: e, text, pass: true, matched: i };
      }
    }
    return { index, expectation: e, text, pass: false, seen: seenInstead(k, spec, obs, cursor) };
  });
}

function seenInstead(k: (typeof KINDS)[string], spec: Record<string, unknown>, obs: readonly Observation[], cursor: number): string {
  const best = (from: number, to: number): { o: Observation; differs: string[] } | undefined => {
    let found: { o: Observation; differs: string[] } | undefined;
    for (let i = from; i < to; i++) {
      const o = obs[i]!;
      if (o.kind !== k.kind) continue;
      const d = differing(k.checks, spec, o);
      if (!found || d.length < found.differs.length) found = { o, differs: d };
    }
    return found;
  };
  const after = best(cursor, obs.length);
  if (after) return `#${after.o.i} ${formatObservation(after.o)} (differs: ${after.differs.join(', ')})`;
  const before = best(0, cursor);
  if (before) {
    const how = before.differs.length ? ` (differs: ${before.differs.join(', ')})` : ' (matches, but before the previous expectation\'s match)';
    return `nothing of its kind after #${cursor - 1}; earlier: #${before.o.i} ${formatObservation(before.o)}${how}`;
  }
  return `no ${k.kind} observation in the run`;
}
