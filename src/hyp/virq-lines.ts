/**
 * Interrupt lines of the VMs the hypervisor serves: who listens to vIRQ `virq` of VM `vmid`.
 * Asserting a line runs its listeners synchronously, in subscription order (deterministic). This
 * is how the host kernel model hears its vCPU wakeup vIRQs (hypervisor.md §6) and any other
 * vIRQ the hypervisor raises for it; guests' vIRQs go to the guest VM's pending set instead
 * (guest-vm.ts) and may be observed here too.
 *
 * Reference: hypervisor.md §6 (wakeup vIRQ of a proxy-scheduled vCPU), §9.4 (vIRQ numbers).
 */

/** A listener of one vIRQ. */
export type VirqHandler = () => void;

export class VirqLines {
  /** vmid → virq → listeners (a Set keeps subscription order). */
  readonly #lines = new Map<number, Map<number, Set<VirqHandler>>>();

  /** Listen to `virq` of `vmid`; returns the unsubscribe function (idempotent). */
  on(vmid: number, virq: number, handler: VirqHandler): () => void {
    let byVirq = this.#lines.get(vmid);
    if (!byVirq) this.#lines.set(vmid, (byVirq = new Map()));
    let hs = byVirq.get(virq);
    if (!hs) byVirq.set(virq, (hs = new Set()));
    // Wrap so the same function may subscribe twice and unsubscribe each time separately.
    const entry: VirqHandler = () => handler();
    hs.add(entry);
    return () => {
      hs.delete(entry);
      if (hs.size === 0 && byVirq.get(virq) === hs) byVirq.delete(virq);
    };
  }

  /** Run every listener of `virq` of `vmid` (a copy of the list: listeners may unsubscribe). */
  fire(vmid: number, virq: number): void {
    const hs = this.#lines.get(vmid)?.get(virq);
    if (!hs) return;
    for (const h of [...hs]) h();
  }

  /** How many listeners `virq` of `vmid` has. */
  listeners(vmid: number, virq: number): number {
    return this.#lines.get(vmid)?.get(virq)?.size ?? 0;
  }
}
