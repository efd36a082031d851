/**
 * One case's run: its links, the VMs and parcels it created, and the cleanup that makes cases
 * independent of each other, so the suite can run against a long-lived RM.
 *
 * Cleanup order (after the case body, pass or fail): close the guest links, then for each VM
 * the case allocated, newest first: force-stop if running, reset and wait for the RESET status
 * notification, deallocate; then reclaim the parcels it seeded (best effort); then close the
 * HLOS link. Reference: rm-rpc.md §15.3 (VM_RESET → RESET notification; VM_DEALLOCATE from LOAD
 * or RESET) and §17 (inputs that crash the real RM, which cleanup never sends).
 */
import type { RmControl } from '../rm-rpc/server/control.js';
import type { RmTarget } from './target.js';
import type { CaseContext, TrackedVm } from './case.js';
import { RmSession } from './session.js';
import { CaseSkip, fail, hx } from './assert.js';
import { cleanupVm, reclaimParcel } from './vm-helpers.js';
import { Vmid } from './payloads.js';

/** Seqs handed to each link of a case: links of one case are 0x40 apart. */
const SEQS_PER_LINK = 0x40;

export class CaseRun implements CaseContext {
  readonly target: RmTarget;
  readonly control: RmControl | undefined;
  readonly notes: string[] = [];
  readonly #vms: TrackedVm[] = [];
  readonly #parcels: number[] = [];
  readonly #links: RmSession[] = [];
  readonly #seqBase: number;
  #hlos: RmSession | undefined;

  constructor(target: RmTarget, seqBase: number) {
    this.target = target;
    this.control = target.control;
    this.#seqBase = seqBase;
  }

  get hlos(): RmSession {
    if (this.#hlos === undefined) throw new Error('CaseRun: start() not called');
    return this.#hlos;
  }

  /** Open and sync the HLOS link. */
  async start(): Promise<void> {
    this.#hlos = await this.#openLink(Vmid.HLOS, 'HLOS');
  }

  async #openLink(vmid: number, label: string): Promise<RmSession> {
    let ch;
    try {
      ch = await this.target.open(vmid);
    } catch (e) {
      return fail(`could not open the RM link of ${label}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const s = new RmSession(ch, { label, vmid, firstSeq: this.#seqBase + SEQS_PER_LINK * this.#links.length });
    this.#links.push(s);
    await s.sync();
    return s;
  }

  open(vmid: number): Promise<RmSession> {
    return this.#openLink(vmid, `VM ${hx(vmid)}`);
  }

  trackVm(vmid: number): TrackedVm {
    const known = this.tracked(vmid);
    if (known) return known;
    const t: TrackedVm = { vmid, configured: false };
    this.#vms.push(t);
    return t;
  }

  tracked(vmid: number): TrackedVm | undefined {
    return this.#vms.find((v) => v.vmid === vmid);
  }

  forgetVm(vmid: number): void {
    const i = this.#vms.findIndex((v) => v.vmid === vmid);
    if (i >= 0) this.#vms.splice(i, 1);
  }

  trackParcel(handle: number): void {
    this.#parcels.push(handle);
  }

  note(text: string): void {
    this.notes.push(text);
  }

  skip(reason: string): never {
    throw new CaseSkip(reason);
  }

  requireControl(): RmControl {
    return this.control ?? this.skip('needs the target control surface');
  }

  /** Undo what the case created (see the file comment). Throws on the first step that fails. */
  async cleanup(): Promise<void> {
    for (const s of this.#links) if (s !== this.#hlos) await s.close();
    const hlos = this.#hlos;
    if (hlos === undefined) return;
    for (const vm of [...this.#vms].reverse()) {
      await cleanupVm(hlos, vm, (t) => this.note(t));
      this.forgetVm(vm.vmid);
    }
    for (const handle of this.#parcels.splice(0).reverse()) await reclaimParcel(hlos, handle);
  }

  /** Close every link (idempotent; errors ignored). */
  async closeAll(): Promise<void> {
    for (const s of this.#links) await s.close().catch(() => undefined);
  }
}
