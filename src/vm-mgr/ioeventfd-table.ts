/**
 * A VM's ioeventfd table: the handlers the ioeventfd function installed, in insertion order,
 * kept apart by the §8.14 ordering (an equal handler already there is EEXIST) and offered every
 * guest MMIO write the vCPU could not complete by itself. The VM object of either dialect owns
 * one (vm-core.ts); the table itself knows nothing of VMs.
 *
 * Reference: uapi.md §8.14 (ordering and equality, the lookup key of a guest write: {addr,
 * access len, datamatch, value}; on a match the eventfd counter goes up by 1 and there is no
 * exit), §8.6 step 3b (only writes are offered). The ordering is functions/ioeventfd-order.ts.
 */
import { compareIoeventfd, compareIoeventfdWrite } from '../functions/ioeventfd-order.js';
import { ErrnoError } from '../shared/errno.js';
import type { IoeventfdEntry } from './vm-api.js';

export class IoeventfdTable {
  readonly #entries: IoeventfdEntry[] = [];

  /** The installed handlers, oldest first. */
  get entries(): readonly IoeventfdEntry[] {
    return this.#entries;
  }

  /** Install a handler. @throws ErrnoError EEXIST when an equal one (§8.14) is installed */
  add(e: IoeventfdEntry): void {
    for (const h of this.#entries) {
      if (compareIoeventfd(h, e) === 0) throw new ErrnoError('EEXIST', 'an equal ioeventfd handler is already installed');
    }
    this.#entries.push(e);
  }

  /** Remove exactly this handler (no-op when it is not installed). */
  remove(e: IoeventfdEntry): void {
    const i = this.#entries.indexOf(e);
    if (i >= 0) this.#entries.splice(i, 1);
  }

  /**
   * Offer a guest MMIO write of `len` bytes of `value` at `addr`: the first matching handler's
   * eventfd is signalled. Returns whether one took it.
   */
  write(addr: bigint, len: number, value: bigint): boolean {
    for (const e of this.#entries) {
      if (compareIoeventfdWrite(e, addr, len, value) === 0) {
        e.fire();
        return true;
      }
    }
    return false;
  }
}
