/**
 * Types of the RM conformance suite: a case, what a case can use while it runs, and the
 * result of running it. Kept apart from the runner so that the case files and the helpers
 * depend on types only (no import cycles).
 */
import type { RmControl } from '../rm-rpc/server/control.js';
import type { RmTarget } from './target.js';
import type { RmSession } from './session.js';

/** What a case may need from the target beyond the RM links. */
export type CaseNeed = 'control';

/** One conformance case. `id` is unique and stable (`group.slug`); `title` says what is checked. */
export interface ConformanceCase {
  readonly id: string;
  readonly group: string;
  readonly title: string;
  readonly needs?: readonly CaseNeed[];
  run(ctx: CaseContext): Promise<void>;
}

/** A VM the case created; cleanup returns it to nothing (see context.ts). */
export interface TrackedVm {
  readonly vmid: number;
  /**
   * VM_CONFIG_IMAGE succeeded, so the RM holds a configuration for it. Cleanup resets an
   * INIT_FAILED VM only when this is set: resetting one without a configuration crashes the
   * real RM (rm-rpc.md §17 #5).
   */
  configured: boolean;
}

/** What a running case gets. */
export interface CaseContext {
  readonly target: RmTarget;
  /** The target's control surface (present whenever the case declared `needs: ['control']`). */
  readonly control: RmControl | undefined;
  /** A fresh HLOS (VMID 3) link, synced at the start of the case. */
  readonly hlos: RmSession;
  /** Open (and sync) the RM link of another VM; it is closed when the case ends. */
  open(vmid: number): Promise<RmSession>;
  /** Record a VM the case allocated, so that cleanup stops, resets and deallocates it. */
  trackVm(vmid: number): TrackedVm;
  /** The tracked record of `vmid`, if any. */
  tracked(vmid: number): TrackedVm | undefined;
  /** The case freed `vmid` itself. */
  forgetVm(vmid: number): void;
  /** Record a parcel the case seeded; cleanup reclaims it (best effort). */
  trackParcel(handle: number): void;
  /** Add a remark to the case's result line (e.g. a resource the RM cannot give back). */
  note(text: string): void;
  /** Stop the case and report it as skipped. */
  skip(reason: string): never;
  /** The control surface, or a failure if absent. */
  requireControl(): RmControl;
}

export type CaseStatus = 'pass' | 'fail' | 'skip';

/** The outcome of one case. */
export interface CaseResult {
  readonly id: string;
  readonly group: string;
  readonly title: string;
  readonly status: CaseStatus;
  /** One line: why the case failed or was skipped. */
  readonly reason?: string;
  /** Remarks gathered while running (leaks the RM cannot undo, cleanup trouble after a failure). */
  readonly notes: readonly string[];
  readonly durationMs: number;
}
