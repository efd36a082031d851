/**
 * The RM conformance suite: a library of RM behaviours, each checked over the RM's own wire
 * protocol against any RM reachable as an RmTarget (the builtin emulated RM, or one behind a
 * Unix or TCP socket). `gunyah-emu rm conformance` prints one `formatResultLine` per case and
 * `formatSummary` at the end.
 *
 * Reference: rm-rpc.md throughout (memory parcels: cases-memparcel.ts); hypervisor.md §4 (queues). Each case file lists the
 * sections it follows and every expectation taken from the real RM source where the sheet is
 * silent or unverified.
 *
 * Each case runs on a fresh HLOS link (synced first), may open guest links, and is cleaned up
 * afterwards (context.ts), so cases are independent and the suite can run against a
 * long-lived RM. With a control surface, RmControl.checkInvariants() runs after every case
 * and any message fails it; an RM that crashed fails the case and every case after it.
 */
import type { RmTarget } from './target.js';
import type { CaseResult, ConformanceCase } from './case.js';
import { CaseFailure, CaseSkip } from './assert.js';
import { CaseRun } from './context.js';
import { FRAMING_CASES } from './cases-framing.js';
import { FRAGMENTATION_CASES } from './cases-fragmentation.js';
import { VM_CASES } from './cases-vm.js';
import { LIFECYCLE_CASES } from './cases-lifecycle.js';
import { GUEST_CASES } from './cases-guest.js';
import { MEMPARCEL_CASES } from './cases-memparcel.js';

export type { RawRmChannel, RmTarget } from './target.js';
export type { CaseContext, CaseNeed, CaseResult, CaseStatus, ConformanceCase, TrackedVm } from './case.js';
export type { RmMessage, RmNotification, RmReply, RmSession, PushMode } from './session.js';
export { CaseFailure, CaseSkip } from './assert.js';

/** Every case, in the order the suite runs them. */
export const RM_CONFORMANCE_CASES: readonly ConformanceCase[] = [
  ...FRAMING_CASES,
  ...FRAGMENTATION_CASES,
  ...VM_CASES,
  ...LIFECYCLE_CASES,
  ...GUEST_CASES,
  ...MEMPARCEL_CASES,
];

/** Options of runConformance. */
export interface RunConformanceOptions {
  /** Run only the cases whose id matches. */
  filter?: RegExp;
  /** Called once per case, as soon as its result is known. */
  onResult?(r: CaseResult): void;
  /** The cases to run instead of RM_CONFORMANCE_CASES (tests of the runner itself). */
  cases?: readonly ConformanceCase[];
}

/** The suite's outcome. */
export interface ConformanceSummary {
  results: CaseResult[];
  passed: number;
  failed: number;
  skipped: number;
}

/** One line, no newline: reasons and notes are flattened onto it. */
function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Whether the target's RM says it crashed (false without control or if it cannot tell). */
async function rmCrashed(target: RmTarget): Promise<{ crashed: boolean; assertions: readonly string[] }> {
  if (!target.control) return { crashed: false, assertions: [] };
  try {
    const i = await target.control.inspect();
    return { crashed: i.crashed, assertions: i.assertions };
  } catch {
    return { crashed: false, assertions: [] };
  }
}

/** Run one case with its set-up, cleanup and invariant check. */
async function runCase(target: RmTarget, c: ConformanceCase, seqBase: number): Promise<{ result: CaseResult; crashed: boolean }> {
  const t0 = performance.now();
  const base = { id: c.id, group: c.group, title: c.title };
  const finish = (status: CaseResult['status'], reason: string | undefined, notes: readonly string[]): CaseResult => ({
    ...base,
    status,
    ...(reason !== undefined ? { reason: oneLine(reason) } : {}),
    notes: notes.map(oneLine),
    durationMs: Math.round(performance.now() - t0),
  });

  if (c.needs?.includes('control') && !target.control) {
    return { result: finish('skip', `needs the target's control surface, which ${target.name} lacks`, []), crashed: false };
  }

  const before = await rmCrashed(target);
  const run = new CaseRun(target, seqBase);
  let status: CaseResult['status'] = 'pass';
  let reason: string | undefined;
  try {
    await run.start();
    await c.run(run);
  } catch (e) {
    if (e instanceof CaseSkip) {
      status = 'skip';
      reason = e.message;
    } else {
      status = 'fail';
      reason = e instanceof CaseFailure ? e.message : `unexpected error: ${errorText(e)}`;
    }
  }

  const after = await rmCrashed(target);
  if (after.crashed) {
    const newAsserts = after.assertions.slice(before.assertions.length);
    const why = `the RM crashed${newAsserts.length ? ` (${newAsserts.join('; ')})` : ''}`;
    await run.closeAll();
    return { result: finish('fail', reason ? `${why}; ${reason}` : why, run.notes), crashed: true };
  }

  try {
    await run.cleanup();
  } catch (e) {
    const why = `cleanup: ${errorText(e)}`;
    if (status === 'pass') {
      status = 'fail';
      reason = why;
    } else {
      run.note(why);
    }
  }
  await run.closeAll();

  if (target.control) {
    let problems: string[];
    try {
      problems = await target.control.checkInvariants();
    } catch (e) {
      problems = [`checkInvariants failed: ${errorText(e)}`];
    }
    if (problems.length > 0) {
      const why = `RM invariants broken: ${problems.join('; ')}`;
      if (status === 'fail') run.note(why);
      else {
        status = 'fail';
        reason = why;
      }
    }
  }
  return { result: finish(status, reason, run.notes), crashed: false };
}

/**
 * Run the suite (or the cases matching `opts.filter`) against `target`, in order.
 * Never throws for a misbehaving RM: every problem becomes a failed case.
 */
export async function runConformance(
  target: RmTarget,
  opts: RunConformanceOptions = {},
): Promise<ConformanceSummary> {
  const cases = (opts.cases ?? RM_CONFORMANCE_CASES).filter((c) => !opts.filter || opts.filter.test(c.id));
  const results: CaseResult[] = [];
  let crashedIn: string | undefined;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    let result: CaseResult;
    if (crashedIn !== undefined) {
      result = { id: c.id, group: c.group, title: c.title, status: 'fail', reason: `not run: the RM crashed during ${crashedIn}`, notes: [], durationMs: 0 };
    } else {
      // Seqs of consecutive cases are 0x200 apart, so a stale reply can never match a new request.
      const r = await runCase(target, c, (0x1000 + i * 0x200) & 0xffff);
      result = r.result;
      if (r.crashed) crashedIn = c.id;
    }
    results.push(result);
    opts.onResult?.(result);
  }
  return {
    results,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
    skipped: results.filter((r) => r.status === 'skip').length,
  };
}

const STATUS_TAG = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const;

/** `PASS framing.short-frame: <title>`; failures and skips add ` — <reason>`, notes add `[note: …]`. */
export function formatResultLine(r: CaseResult): string {
  const reason = r.reason !== undefined ? ` — ${r.reason}` : '';
  const notes = r.notes.map((n) => ` [note: ${n}]`).join('');
  return oneLine(`${STATUS_TAG[r.status]} ${r.id}: ${r.title}${reason}${notes}`);
}

/** The closing line: `N passed, N failed`, plus `, N skipped` when any were skipped. */
export function formatSummary(s: { passed: number; failed: number; skipped: number }): string {
  return `${s.passed} passed, ${s.failed} failed${s.skipped > 0 ? `, ${s.skipped} skipped` : ''}`;
}
