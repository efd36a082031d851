// Test support: a VmHandle with tickets, a settable status and exit info, scripted demand
// paging, the kernel's own ioeventfd table (src/vm-mgr/ioeventfd-table.ts) with every offered
// write recorded, a reference count, and a logger that keeps every record for assertions.
import { pino } from 'pino';
import { ErrnoError } from '../../../src/shared/errno.js';
import { IoeventfdTable } from '../../../src/vm-mgr/ioeventfd-table.js';
import { GuestMemoryError, type GuestMemoryAccess } from '../../../src/virtio/guest-memory.js';
import type { Logger } from '../../../src/shared/log.js';
import { createMemoryTraceSink, type MemoryTraceSink } from '../../../src/shared/trace.js';
import {
  DEFAULT_QUIRKS,
  LinuxVmStatus,
  type IoeventfdEntry,
  type KernelQuirks,
  type Ticket,
  type TicketHandler,
  type VmExitInfo,
  type VmHandle,
  type VmResource,
} from '../../../src/vm-mgr/vm-api.js';
import { FakeHyp } from './fake-hyp.js';

/** A log record as pino wrote it. */
export interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly [k: string]: unknown;
}

/** A pino logger writing parsed records into `records`. */
export function recordingLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = pino({ level: 'trace' }, { write: (s: string) => void records.push(JSON.parse(s) as LogRecord) });
  return { log, records };
}

interface TicketEntry extends Ticket {
  readonly handler: TicketHandler;
  readonly owned: VmResource[];
}

/** A resource of the given type and label. */
export function resource(type: number, label: number, capId: bigint, virq = 0): VmResource {
  return { type, label, partnerVmid: 0x45, capId, virq, base: 0n, size: 0n };
}

export class FakeVm implements VmHandle {
  readonly hyp: FakeHyp;
  readonly log: Logger;
  readonly records: LogRecord[];
  readonly trace: MemoryTraceSink = createMemoryTraceSink();
  quirks: KernelQuirks = DEFAULT_QUIRKS;
  vmid = 0x45;
  #status: number = LinuxVmStatus.NO_STATE;
  exitInfo: VmExitInfo = { type: 0, reasonSize: 0, reason: new Uint8Array(8) };
  refs = 1;
  /** When true, get() fails as for a VM that is being torn down. */
  refuseRefs = false;
  readonly tickets = new Map<string, TicketEntry>();
  unowned: VmResource[] = [];
  readonly #listeners = new Set<() => void>();
  /** demandPage answer (a fixed value or a function); records every call. */
  demandPageResult: number | ((gpa: bigint, write: boolean) => number) = -2; // -ENOENT
  readonly demandPageCalls: Array<{ gpa: bigint; write: boolean }> = [];
  readonly #ioeventfds = new IoeventfdTable();
  readonly ioeventfdWrites: Array<{ addr: bigint; len: number; value: bigint }> = [];
  /** No guest memory: every device access is refused as unmapped. */
  readonly guestMemory: GuestMemoryAccess = {
    read: (gpa, len) => {
      throw new GuestMemoryError('unmapped', gpa, len, 'FakeVm has no guest memory');
    },
    write: (gpa, bytes) => {
      throw new GuestMemoryError('unmapped', gpa, bytes.length, 'FakeVm has no guest memory');
    },
  };

  constructor(hyp = new FakeHyp()) {
    this.hyp = hyp;
    const { log, records } = recordingLogger();
    this.log = log;
    this.records = records;
  }

  get status(): number {
    return this.#status;
  }

  /** Change the status and tell the listeners (as the VM manager does). */
  setStatus(s: number): void {
    this.#status = s;
    for (const fn of [...this.#listeners]) fn();
  }

  /** VM_EXITED: exit info, then status EXITED. */
  exited(type: number, reason: Uint8Array, reasonSize = reason.byteLength): void {
    const kept = new Uint8Array(8);
    kept.set(reason.subarray(0, 8));
    this.exitInfo = { type, reasonSize, reason: kept };
    this.setStatus(LinuxVmStatus.EXITED);
  }

  addTicket(type: number, label: number, handler: TicketHandler): Ticket {
    const k = `${type}:${label}`;
    if (this.tickets.has(k)) throw new ErrnoError('EEXIST', `ticket ${k}`);
    const t: TicketEntry = { type, label, handler, owned: [] };
    this.tickets.set(k, t);
    const rest: VmResource[] = [];
    for (const r of this.unowned) {
      if (r.type === type && r.label === label && handler.populate(r)) t.owned.push(r);
      else rest.push(r);
    }
    this.unowned = rest;
    return t;
  }

  removeTicket(ticket: Ticket): void {
    const k = `${ticket.type}:${ticket.label}`;
    const t = this.tickets.get(k);
    if (t !== ticket) return;
    this.tickets.delete(k);
    for (const r of t.owned) {
      t.handler.unpopulate(r);
      this.unowned.push(r);
    }
    t.owned.length = 0;
  }

  /** A resource from the RM (start step 11): to its ticket, or unowned. Returns whether taken. */
  offer(r: VmResource): boolean {
    const t = this.tickets.get(`${r.type}:${r.label}`);
    if (t && t.handler.populate(r)) {
      t.owned.push(r);
      return true;
    }
    this.unowned.push(r);
    return false;
  }

  onStatusChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  get statusListeners(): number {
    return this.#listeners.size;
  }

  demandPage(gpa: bigint, write: boolean): number {
    this.demandPageCalls.push({ gpa, write });
    const r = this.demandPageResult;
    return typeof r === 'function' ? r(gpa, write) : r;
  }

  /** The installed ioeventfd handlers, oldest first. */
  get ioeventfds(): readonly IoeventfdEntry[] {
    return this.#ioeventfds.entries;
  }

  addIoeventfd(e: IoeventfdEntry): void {
    this.#ioeventfds.add(e);
  }

  removeIoeventfd(e: IoeventfdEntry): void {
    this.#ioeventfds.remove(e);
  }

  ioeventfdWrite(addr: bigint, len: number, value: bigint): boolean {
    this.ioeventfdWrites.push({ addr, len, value });
    return this.#ioeventfds.write(addr, len, value);
  }

  get(): void {
    if (this.refuseRefs) throw new ErrnoError('ENODEV', 'VM is going away');
    this.refs++;
  }

  put(): Promise<void> {
    this.refs--;
    return Promise.resolve();
  }

  /** Log records at `level` (pino numbers: 40 warn, 50 error) whose msg contains `text`. */
  logged(level: number, text: string): LogRecord[] {
    return this.records.filter((r) => r.level === level && r.msg.includes(text));
  }
}
