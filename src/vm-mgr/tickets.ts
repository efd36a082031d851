/**
 * Resource tickets: how the VM manager hands the RM's resources (VM_GET_HYP_RESOURCES) to the
 * parts of the kernel that need them, keyed by (resource type, label).
 *
 * Reference: uapi.md §8.1 "Resource tickets": adding a ticket whose key exists → EEXIST; a new
 * ticket takes any already-known unowned resource with its key; at start each resource goes to
 * the ticket with its key, or stays unowned (also when the ticket refuses it) until a later
 * ticket takes it; removing a ticket unpopulates its resources and returns them to the
 * unowned list.
 */
import { ErrnoError } from '../shared/errno.js';
import type { Ticket, TicketHandler, VmResource } from './vm-api.js';

interface Entry extends Ticket {
  readonly handler: TicketHandler;
  readonly owned: VmResource[];
}

const key = (type: number, label: number): string => `${type}:${label}`;

export class TicketRegistry {
  readonly #tickets = new Map<string, Entry>();
  #unowned: VmResource[] = [];

  /** @throws ErrnoError EEXIST */
  add(type: number, label: number, handler: TicketHandler): Ticket {
    const k = key(type, label);
    if (this.#tickets.has(k)) throw new ErrnoError('EEXIST', `a ticket for resource type ${type} label ${label} exists`);
    const t: Entry = { type, label, handler, owned: [] };
    this.#tickets.set(k, t);
    const rest: VmResource[] = [];
    for (const r of this.#unowned) {
      if (r.type === type && r.label === label && handler.populate(r)) t.owned.push(r);
      else rest.push(r);
    }
    this.#unowned = rest;
    return t;
  }

  remove(ticket: Ticket): void {
    const k = key(ticket.type, ticket.label);
    const t = this.#tickets.get(k);
    if (t !== ticket) return;
    this.#tickets.delete(k);
    for (const r of t.owned) {
      t.handler.unpopulate(r);
      this.#unowned.push(r);
    }
    t.owned.length = 0;
  }

  /** A resource from the RM: to its ticket, or unowned. */
  offer(r: VmResource): void {
    const t = this.#tickets.get(key(r.type, r.label));
    if (t && t.handler.populate(r)) t.owned.push(r);
    else this.#unowned.push(r);
  }

  /** Free every resource (teardown step 7): owned ones are unpopulated first. */
  freeAllResources(): void {
    for (const t of this.#tickets.values()) {
      for (const r of t.owned) t.handler.unpopulate(r);
      t.owned.length = 0;
    }
    this.#unowned = [];
  }

  has(type: number, label: number): boolean {
    return this.#tickets.has(key(type, label));
  }

  get ticketCount(): number {
    return this.#tickets.size;
  }

  get resourceCount(): number {
    let n = this.#unowned.length;
    for (const t of this.#tickets.values()) n += t.owned.length;
    return n;
  }
}
