/**
 * The SCMI VM function (GUNYAH_FN_SCMI = 0x100, the emulator's own function type): it connects a
 * VM's virtio-scmi command queue to the emulator's SCMI backend as one agent. The VMM keeps the
 * virtio-mmio register window (MMIO exits) and hands the kernel the hot path: the kick eventfd
 * (its ioeventfd on QueueNotify), the call eventfd (its irqfd) and the cmdq's ring addresses.
 *
 * Reference: docs/scmi.md (the argument byte by byte, the validation table, the request sequence),
 * src/vm-mgr/uapi/scmi-arg.ts (layout), uapi.md §6.2 (ADD/REMOVE_FUNCTION rules: nothing
 * registered on failure), §8.1 (REMOVE compares arguments of the type's exact size), §8.13/§8.14
 * (irqfd and ioeventfd: eventfd wait-queue entries, the counter is never read by the kernel),
 * scmi-virtio.md §4 (device processing), §5 (device rules), §11 (Gunyah mapping), §12.2
 * (per-VM agent; votes released when the VM goes away).
 *
 * Flow:
 *   bind ─ checks (scmi-arg-check.ts) ─ openAgent(policy from the masks) ─ SplitQueue over
 *     │    vm.guestMemory ─ wait-queue entry on kick_fd ─ VM status listener ─ drain once
 *     └ kick (eventfd signal, synchronous) ─▶ drain:
 *          pop ─▶ backend.dispatch(agent, readable) ─▶ push(head, reply)   (until empty)
 *          then needsInterrupt() ? call_fd += 1 (the irqfd rings the doorbell)
 *
 * Rules (docs/decisions.md S40–S51):
 * - The queue starts at the used ring's idx as it is at bind: chains the driver made available
 *   after it are served at once (a VM that kicked before the function existed is answered), and
 *   chains a removed instance already answered are not served twice.
 * - A chain whose readable part is shorter than 4 bytes (no header) or that has no writable part
 *   is not dispatched: it is returned with used len 0 (no effect on the platform).
 * - A writable part shorter than the reply gets the reply truncated (SplitQueue.push).
 * - A broken ring stops the queue for good: nothing more is served, no interrupt; logged once
 *   (error) and each later kick counted in a rate-limited warning. Nothing is thrown out of the
 *   eventfd callback, whatever the guest wrote.
 * - The agent is closed (every vote released, aggregates recomputed) on REMOVE_FUNCTION, on
 *   teardown (VM fd closed), and as soon as the VM's status becomes EXITED (also INIT_FAILED or
 *   RESET: the guest cannot run again); later kicks are ignored.
 */
import { isEventFd, type EventFdFile } from '../host/eventfd.js';
import type { IoctlContext } from '../host/kernel-file.js';
import type { ScmiAgentHandle, ScmiBackend } from '../scmi/backend.js';
import { ErrnoError } from '../shared/errno.js';
import type { Logger } from '../shared/log.js';
import { SplitQueue, type QueueBroken } from '../virtio/split-queue.js';
import { GUNYAH_FN_SCMI, SIZEOF_FN_SCMI_ARG } from '../vm-mgr/uapi/scmi-arg.js';
import { LinuxVmStatus, type VmFunctionInstance, type VmFunctionType, type VmHandle } from '../vm-mgr/vm-api.js';
import { checkRingMemory, checkScmiArg, scmiArgMatches, type CheckedScmiArg } from './scmi-arg-check.js';
import { RateLimitedLog } from '../shared/rate-limit.js';

/** Smallest request the function dispatches: the SCMI header. */
const SCMI_HEADER_BYTES = 4;
const NO_VMID = 0xffff;

/** Where an instance is in its life. */
export type ScmiFunctionState =
  /** Serving kicks. */
  | 'live'
  /** The VM exited (or never can run): the agent is closed, kicks are ignored. */
  | 'vm-gone'
  /** REMOVE_FUNCTION or teardown ran. */
  | 'unbound';

/** The VM is gone for good: the guest will not run again. */
function vmGone(status: number): boolean {
  return status === LinuxVmStatus.EXITED || status === LinuxVmStatus.INIT_FAILED || status === LinuxVmStatus.RESET;
}

/** One bound SCMI function: one agent, one cmdq. */
export class ScmiFunctionInstance implements VmFunctionInstance {
  readonly type = GUNYAH_FN_SCMI;
  readonly result = 0;
  readonly agentId: number;
  readonly #backend: ScmiBackend;
  readonly #handle: ScmiAgentHandle;
  readonly #queue: SplitQueue;
  readonly #kick: EventFdFile;
  readonly #call: EventFdFile;
  readonly #vm: VmHandle;
  readonly #log: Logger;
  readonly #kickIgnored: RateLimitedLog;
  readonly #failed: RateLimitedLog;
  #state: ScmiFunctionState = 'live';
  #removeWaiter: (() => void) | undefined;
  #offStatus: (() => void) | undefined;
  #draining = false;
  #again = false;
  #brokenReported = false;
  #served = 0;
  #dropped = 0;
  #interrupts = 0;

  constructor(vm: VmHandle, backend: ScmiBackend, handle: ScmiAgentHandle, queue: SplitQueue, kick: EventFdFile, call: EventFdFile) {
    this.#vm = vm;
    this.#backend = backend;
    this.#handle = handle;
    this.agentId = handle.agentId;
    this.#queue = queue;
    this.#kick = kick;
    this.#call = call;
    this.#log = vm.log.child({ fn: 'scmi', agent: handle.agentId });
    this.#kickIgnored = new RateLimitedLog(this.#log, 'warn');
    this.#failed = new RateLimitedLog(this.#log, 'error');
  }

  /** 'live', 'vm-gone' (the agent was closed when the VM exited) or 'unbound'. */
  get state(): ScmiFunctionState {
    return this.#state;
  }

  /** The cmdq (for inspection). */
  get queue(): SplitQueue {
    return this.#queue;
  }

  /** Why the cmdq stopped, or undefined while it works. */
  get broken(): QueueBroken | undefined {
    return this.#queue.broken;
  }

  /** Chains answered with a dispatched reply. */
  get served(): number {
    return this.#served;
  }

  /** Chains returned with used len 0 without being dispatched (no header or no writable part). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Times the call eventfd was signalled. */
  get interrupts(): number {
    return this.#interrupts;
  }

  /** Hook the kick eventfd and the VM status, then serve what is already available. */
  start(): void {
    this.#removeWaiter = this.#kick.addWaiter(() => this.#onKick());
    this.#offStatus = this.#vm.onStatusChange(() => this.#onStatus());
    if (vmGone(this.#vm.status)) this.#stop('vm-gone');
    else this.#onKick();
  }

  // ── VmFunctionInstance ────────────────────────────────────────────────

  matches(other: Uint8Array): boolean {
    return scmiArgMatches(this.agentId, other);
  }

  /** Remove the wait-queue entry and the status listener, close the agent (votes released). */
  unbind(): void {
    this.#stop('unbound');
  }

  // ── internals ─────────────────────────────────────────────────────────

  #onStatus(): void {
    if (this.#state === 'live' && vmGone(this.#vm.status)) this.#stop('vm-gone');
  }

  #stop(next: 'vm-gone' | 'unbound'): void {
    if (this.#state === 'unbound') return;
    const wasLive = this.#state === 'live';
    this.#state = next;
    this.#removeWaiter?.();
    this.#removeWaiter = undefined;
    this.#offStatus?.();
    this.#offStatus = undefined;
    if (!wasLive) return;
    try {
      this.#backend.closeAgent(this.#handle);
    } catch (err) {
      // A protocol close hook failed; the votes were released all the same (backend.closeAgent).
      this.#log.error({ err }, 'SCMI agent close hook failed');
    }
    if (next === 'vm-gone') this.#log.info({ status: this.#vm.status }, 'the VM is gone: SCMI agent closed, votes released');
  }

  /** The kick eventfd's wait-queue entry (and the first drain at bind). Never throws. */
  #onKick(): void {
    if (this.#state !== 'live') return;
    if (this.#queue.broken) {
      this.#kickIgnored.emit({ kind: this.#queue.broken.kind }, 'kick on a broken SCMI cmdq ignored');
      return;
    }
    if (this.#draining) {
      // A kick from inside a drain (a signal that re-entered): the running drain goes round again.
      this.#again = true;
      return;
    }
    this.#draining = true;
    try {
      do {
        this.#again = false;
        this.#drain();
      } while (this.#again && this.#state === 'live' && !this.#queue.broken);
    } catch (err) {
      // Only a model bug lands here (dispatch and the queue never throw for guest bytes).
      this.#failed.emit({ err }, 'SCMI cmdq processing failed');
    } finally {
      this.#draining = false;
    }
  }

  #drain(): void {
    const q = this.#queue;
    const backend = this.#backend;
    const handle = this.#handle;
    for (;;) {
      const c = q.pop();
      if (c === undefined) break;
      if (c.readable.length < SCMI_HEADER_BYTES || c.writableLength === 0) {
        q.push(c.head);
        this.#dropped++;
        continue;
      }
      q.push(c.head, backend.dispatch(handle, c.readable));
      this.#served++;
    }
    const broken = q.broken;
    if (broken !== undefined && !this.#brokenReported) {
      this.#brokenReported = true;
      this.#log.error({ kind: broken.kind, head: broken.head, detail: broken.detail }, 'SCMI cmdq is broken: no more requests are served');
      this.#vm.trace?.emit({ kind: 'kernel.scmi-queue-broken', agent: this.agentId, reason: broken.kind });
    }
    if (q.needsInterrupt()) {
      this.#interrupts++;
      this.#call.signal(1n);
    }
  }
}

function eventfdAt(ctx: IoctlContext, fd: number, what: string): EventFdFile {
  // The fields are u32; a value with bit 31 set is a negative int, never an open fd.
  const file = fd > 0x7fff_ffff ? undefined : ctx.fget(fd);
  if (file === undefined) throw new ErrnoError('EBADF', `SCMI function: ${what} ${fd | 0} is not open`);
  if (!isEventFd(file)) throw new ErrnoError('EINVAL', `SCMI function: ${what} ${fd} (${file.name}) is not an eventfd`);
  return file;
}

function bindScmi(backend: ScmiBackend, vm: VmHandle, bytes: Uint8Array, ctx: IoctlContext): ScmiFunctionInstance {
  const c: CheckedScmiArg = checkScmiArg(bytes, backend); // rows 1–15
  const kick = eventfdAt(ctx, c.arg.kickFd, 'kick_fd'); // row 16
  const call = eventfdAt(ctx, c.arg.callFd, 'call_fd'); // row 17
  if (kick === call) throw new ErrnoError('EINVAL', 'SCMI function: kick_fd and call_fd are the same eventfd'); // row 18
  checkRingMemory(vm.guestMemory, c.cmdq); // row 19
  if (backend.agent(c.arg.agentId) !== undefined) {
    throw new ErrnoError('EEXIST', `SCMI function: agent ${c.arg.agentId} is already connected to the backend`); // row 20
  }
  // Resume where the ring is: what the used ring already holds was answered (by an earlier
  // instance of this function); chains available after it are served at once (S43).
  const used = vm.guestMemory.read(c.cmdq.usedAddr + 2n, 2);
  const queue = new SplitQueue(vm.guestMemory, c.cmdq, { startIndex: used[0]! | (used[1]! << 8) });
  const vmid = vm.vmid === NO_VMID ? undefined : vm.vmid;
  const handle = backend.openAgent({ agentId: c.arg.agentId, name: c.name, devices: c.devices, protocols: c.protocols, ...(vmid !== undefined ? { vmid } : {}) });
  try {
    const inst = new ScmiFunctionInstance(vm, backend, handle, queue, kick, call);
    inst.start();
    return inst;
  } catch (err) {
    backend.closeAgent(handle);
    throw err;
  }
}

/**
 * GUNYAH_FN_SCMI bound to `backend` (one per emulator; `createEmulator` registers it).
 * Argument `gunyah_fn_scmi_arg`, 128 bytes; REMOVE_FUNCTION matches on agent_id.
 */
export function scmiFunction(backend: ScmiBackend): VmFunctionType {
  return {
    type: GUNYAH_FN_SCMI,
    argSize: SIZEOF_FN_SCMI_ARG,
    bind: (vm, arg, ctx) => bindScmi(backend, vm, arg, ctx),
  };
}
