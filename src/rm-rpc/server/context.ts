/**
 * What a request handler of the emulated RM may use: the VM table, the hypervisor, the parcel
 * table, notification sending, the state-update routine and the RM's assertions. Handlers are
 * synchronous and run one at a time, in arrival order (rm-rpc.md §5 "Concurrency").
 */
import type { Hypervisor } from '../../hyp/hypervisor.js';
import type { Logger } from '../../shared/log.js';
import type { RmErrorName } from '../wire/errors.js';
import type { ParcelStore } from '../../mem-parcel/index.js';
import type { RmVm } from './vm-record.js';
import type { VmStatusValue } from './vm-state.js';

/** The outcome of one request. `data` follows the err_code only when err is OK, except `tail`. */
export interface HandlerResult {
  readonly err: RmErrorName;
  /** A raw error code to send instead of `err`'s (fault injection of a code outside the enum). */
  readonly rawErr?: number;
  readonly data?: Uint8Array;
  /**
   * Bytes sent after the err_code even on failure: VM_SET_TIME_BASE and VM_SET_FIRMWARE_MEM
   * append a u32 hypervisor error (rm-rpc.md §10).
   */
  readonly tail?: Uint8Array;
}

export const OK: HandlerResult = { err: 'OK' };
export const fail = (err: RmErrorName, tail?: Uint8Array): HandlerResult => (tail ? { err, tail } : { err });
export const ok = (data: Uint8Array): HandlerResult => ({ err: 'OK', data });

/** A request being handled. */
export interface RequestCtx {
  /** The calling VM (the owner of the link the request came on). */
  readonly caller: number;
  readonly msgId: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

export type Handler = (ctx: RequestCtx) => HandlerResult;

/** How a message family registers its handlers. */
export type Register = (msgId: number, h: Handler) => void;

/** Hooks other families register to release what a VM holds of theirs during a reset. */
export interface ResetParticipants {
  /** Release one parcel the VM holds; false when none is left (one per event). */
  releaseOneParcel?(vm: RmVm): boolean;
  /** Release the IRQs lent to the VM. */
  releaseIrqs?(vm: RmVm): void;
}

/**
 * Thrown where the real RM would abort on an assertion (rm-rpc.md §17). The server either
 * answers `closest` (default) or stops answering, as a crashed RM would.
 */
export class RmAssertion extends Error {
  override readonly name = 'RmAssertion';
  constructor(
    readonly what: string,
    readonly closest: RmErrorName,
  ) {
    super(`RM assertion: ${what}`);
  }
}

export interface RmServerOptions {
  /**
   * What to do where the real RM aborts (rm-rpc.md §17): `'reply'` (default) logs the
   * assertion and answers the closest error; `'crash'` stops the RM: no reply to anything after.
   */
  readonly onAssert: 'reply' | 'crash';
  /**
   * What VM_START does with the image parcel. `'absorb'` (default): it becomes the VM's own
   * memory (what Linux v17's teardown needs: it reclaims those pages with hypercalls, never
   * with MEM_RECLAIM). `'keep'`: it stays a parcel the VM has accepted, released at reset and
   * reclaimable by its owner (docs/decisions.md B12).
   */
  readonly imageParcelAtStart: 'absorb' | 'keep';
  /**
   * Which RM to be. `'v17'` (default): the newer firmware Linux v17 needs (VM_SET_CONTEXT,
   * VM_SET_DEMAND_PAGING, VM_SET_ADDRESS_LAYOUT implemented; MEM_EXTENT and ADDR_SPACE
   * resources). `'public-12-2023'`: the public RM snapshot, which answers those UNIMPLEMENTED.
   */
  readonly firmware: 'v17' | 'public-12-2023';
}

export interface RmContext {
  readonly hyp: Hypervisor;
  readonly log: Logger;
  readonly options: RmServerOptions;
  readonly vms: Map<number, RmVm>;
  readonly parcels: ParcelStore;
  /** Whether `vmid` has an RPC link (a notification to a VM without one is an RM assertion). */
  hasLink(vmid: number): boolean;
  /** Send a notification to `vmid` on its RM link (rm-rpc.md §13). */
  notify(vmid: number, notifId: number, payload: Uint8Array): void;
  /**
   * The RM's state-update routine: check the transition (an illegal one is an RM assertion),
   * set it, and send NOTIFY_VM_STATUS to every peer with an RPC link that is RUNNING.
   */
  setState(vm: RmVm, to: VmStatusValue): void;
  /** Send NOTIFY_VM_STATUS for `vm`'s current status to its peers. */
  notifyStatus(vm: RmVm): void;
  /** Queue an internal event (one step of a staged operation) behind the requests already queued. */
  defer(step: () => void): void;
  /** Create the VM's RPC link (the RM's end is attached by the server). */
  createLink(vm: RmVm): void;
  /** Free everything the hypervisor holds for `vm` (objects, caps, vIRQs, link). */
  destroyHypObjects(vm: RmVm): void;
  /** What other message families release when a VM is reset (VM_RESET stages 2 and 3). */
  readonly resetParticipants: ResetParticipants;
  /** Deterministic bytes for GUIDs and handle bases. */
  random(n: number): Uint8Array;
}
