/**
 * The emulated Resource Manager VM: owns the VM table, answers requests from every VM's RPC
 * link strictly one at a time in arrival order, and sends notifications.
 *
 * Reference: rm-rpc.md §5–§9 (protocol behaviour), §11 (unknown IDs → UNIMPLEMENTED),
 * §15 (state machine and notification rules), §17 (inputs that abort the real RM).
 * Knows nothing of the host kernel model: it sees only frames on message queues.
 *
 *   link(vmid).onRequest ─▶ tasks FIFO ─▶ handler(msgId) ─▶ link(vmid).sendReply
 *                              ▲    └──── defer(step) (staged VM_RESET cleanup)
 */
import { EventEmitter } from 'eventemitter3';
import type { FaultInjector } from '../../shared/faults.js';
import { rmErrorName } from '../wire/errors.js';
import type { MsgqEndpoint } from '../../msgq/endpoint.js';
import { Hypervisor } from '../../hyp/hypervisor.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import type { Tracer } from '../../shared/trace-events.js';
import { toHex } from '../../shared/bytes.js';
import { view } from '../../shared/bytes.js';
import { seedPlatformParcel } from './platform-parcels.js';
import { isWireError } from '../../shared/wire-error.js';
import { RmErrorCode, type RmErrorName } from '../wire/errors.js';
import { RmNotifId, rmIdLabel } from '../wire/msg-ids.js';
import type { RpcRequest } from '../wire/message.js';
import {
  RmAssertion,
  type Handler,
  type HandlerResult,
  type RmContext,
  type RmServerOptions,
} from './context.js';
import type { RmControl, RmInspection, PlatformParcelSpec } from './control.js';
import { RmLink, type LinkDropReason } from './link.js';
import { ParcelStore } from '../../mem-parcel/index.js';
import { isDynamicVmid } from './vm-record.js';
import { VMID_HLOS, VMID_RM, type RmVm } from './vm-record.js';
import { VmStatus, canTransition, vmStatusName, type VmStatusValue } from './vm-state.js';
import { registerAllHandlers } from './handlers/index.js';
import { RmRefusal } from './handlers/refusal.js';
import { checkRmInvariants } from './invariants.js';
import { newVmRecord } from './vm-factory.js';
import { exitVmOnHalt } from './handlers/vm-mgmt.js';

export interface RmServerEvents {
  /** A request was answered. */
  reply: (vmid: number, msgId: number, seq: number, err: RmErrorName) => void;
  /** A notification was queued for `vmid`. */
  notification: (vmid: number, notifId: number, seq: number) => void;
  /** The real RM would have aborted here. */
  assertion: (what: string) => void;
  /** Input or output the RM dropped. */
  drop: (vmid: number, reason: LinkDropReason, detail: string) => void;
  /** A VM's RPC link was created (at VM_INIT) or removed (at reset). */
  link: (vmid: number, endpoint: MsgqEndpoint | undefined) => void;
}

export interface CreateRmServerOptions extends Partial<RmServerOptions> {
  readonly hyp?: Hypervisor;
  /** Physical cores when no hypervisor is given (default 8). */
  readonly cpus?: number;
  readonly log?: Logger;
  readonly trace?: Tracer;
  /** Seed for the RM's deterministic randomness (GUIDs). */
  readonly seed?: number;
  /** Fault injection: requests answered with a chosen error instead of being handled. */
  readonly faults?: FaultInjector;
}

type Task = { readonly kind: 'request'; readonly vmid: number; readonly req: RpcRequest } | { readonly kind: 'step'; readonly step: () => void };

export class RmServer {
  readonly events = new EventEmitter<RmServerEvents>();
  readonly hyp: Hypervisor;
  readonly options: RmServerOptions;
  readonly #log: Logger;
  readonly #trace: Tracer | undefined;
  readonly #faults: FaultInjector | undefined;
  readonly #vms = new Map<number, RmVm>();
  readonly #parcels: ParcelStore;
  readonly #links = new Map<number, RmLink>();
  /** The VM-side ends of the links the RM created. */
  readonly #vmEnds = new Map<number, MsgqEndpoint>();
  readonly #handlers = new Map<number, Handler>();
  readonly #tasks: Task[] = [];
  #taskHead = 0;
  #scheduled = false;
  #notifSeq = 0;
  #crashed = false;
  readonly #assertions: string[] = [];
  readonly #internalErrors: string[] = [];
  #rng: number;
  readonly #ctx: RmContext;
  /** Guest-caused exits the hypervisor reports become tasks of the FIFO (ordered with requests). */
  readonly #onVmExit = (vmid: number, exitType: number, reasonWords: number[]): void => {
    const words = [...reasonWords];
    this.#enqueue({ kind: 'step', step: () => exitVmOnHalt(this.#ctx, vmid, exitType, words) });
  };

  constructor(opts: CreateRmServerOptions = {}) {
    this.hyp = opts.hyp ?? new Hypervisor({ cpus: opts.cpus ?? 8 });
    this.options = { onAssert: opts.onAssert ?? 'reply', firmware: opts.firmware ?? 'v17', imageParcelAtStart: opts.imageParcelAtStart ?? 'absorb' };
    this.#log = (opts.log ?? silentLogger()).child({ layer: 'rm' });
    this.#trace = opts.trace;
    this.#faults = opts.faults;
    this.#rng = (opts.seed ?? 1) >>> 0 || 1;
    this.#parcels = new ParcelStore({
      mem: this.hyp.memory,
      ownExtent: (vmid) => this.hyp.ownExtent(vmid),
      aclVmidValid: (vmid) => vmid === VMID_HLOS || vmid === VMID_RM || (vmid >= 4 && vmid < 64) || (isDynamicVmid(vmid) && this.#vms.has(vmid)),
      vmExists: (vmid) => this.#vms.has(vmid),
    });
    const hlos = newVmRecord(VMID_HLOS, VMID_RM, VmStatus.RUNNING, new Uint8Array(16));
    hlos.name = 'hlos';
    this.#vms.set(VMID_HLOS, hlos);
    this.#ctx = this.#makeContext();
    this.#ctx.createLink(hlos);
    registerAllHandlers(this.#ctx, (id, h) => {
      if (this.#handlers.has(id)) throw new Error(`duplicate RM handler for ${rmIdLabel(id)}`);
      this.#handlers.set(id, h);
    });
    this.hyp.events.on('vm-exit', this.#onVmExit);
  }

  /** True once the RM hit an assertion in `'crash'` mode: it answers nothing any more. */
  get crashed(): boolean {
    return this.#crashed;
  }

  /**
   * Attach the RM's end of `vmid`'s RPC link. The host's (HLOS) link is attached by the
   * emulator at boot; links of other VMs are created by VM_INIT.
   */
  attachLink(vmid: number, endpoint: MsgqEndpoint): void {
    this.#links.get(vmid)?.close();
    const link = new RmLink(
      vmid,
      endpoint,
      {
        onRequest: (req) => this.#enqueue({ kind: 'request', vmid, req }),
        onDrop: (reason, detail) => this.events.emit('drop', vmid, reason, detail),
      },
      this.#log.child({ vmid }),
      this.#trace,
    );
    this.#links.set(vmid, link);
    const vm = this.#vms.get(vmid);
    if (vm) vm.link = link;
    link.poll();
  }

  /**
   * The VM-side end of `vmid`'s RPC link (HLOS's exists from boot; another VM's from VM_INIT
   * until its reset completes), or undefined.
   */
  vmEndpoint(vmid: number): MsgqEndpoint | undefined {
    return this.#vmEnds.get(vmid);
  }

  /** Detach `vmid`'s link (its queued output is discarded). */
  detachLink(vmid: number): void {
    this.#links.get(vmid)?.close();
    this.#links.delete(vmid);
    const vm = this.#vms.get(vmid);
    if (vm) vm.link = undefined;
  }

  /** The out-of-band control surface (platform parcels, inspection, invariants). */
  readonly control: RmControl = {
    seedParcel: async (spec: PlatformParcelSpec) => seedPlatformParcel(this.hyp, this.#parcels, spec),
    inspect: async () => this.inspect(),
    checkInvariants: async () => this.checkInvariants(),
  };

  /** A snapshot of the RM's state. */
  inspect(): RmInspection {
    return {
      vms: [...this.#vms.values()]
        .filter((v) => v.vmid !== VMID_HLOS)
        .map((v) => ({
          vmid: v.vmid,
          owner: v.owner,
          state: v.state,
          stateName: vmStatusName(v.state),
          osStatus: v.osStatus,
          appStatus: v.appStatus,
          peers: [...v.peers].sort((a, b) => a - b),
          hasLink: v.link !== undefined,
        })),
      parcels: this.#parcels.all().map((p) => ({ handle: p.handle, owner: p.owner, size: p.size, state: p.state, transType: p.transType })),
      crashed: this.#crashed,
      assertions: [...this.#assertions],
    };
  }

  /** Internal consistency checks; an empty list means they all hold. */
  checkInvariants(): string[] {
    return [
      ...this.#internalErrors.map((e) => `internal error: ${e}`),
      ...checkRmInvariants(this.#vms, this.#links, this.hyp),
      ...this.hyp.memory.checkInvariants().map((e) => `memory: ${e}`),
      ...this.#parcels.checkInvariants(),
    ];
  }

  /** Stop: close every link. */
  close(): void {
    this.hyp.events.off('vm-exit', this.#onVmExit);
    for (const l of this.#links.values()) l.close();
    this.#links.clear();
  }

  // ── the task loop ────────────────────────────────────────────────────────

  #enqueue(t: Task): void {
    this.#tasks.push(t);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#run());
    }
  }

  #run(): void {
    while (this.#taskHead < this.#tasks.length) {
      const t = this.#tasks[this.#taskHead]!;
      this.#tasks[this.#taskHead++] = undefined as unknown as Task;
      if (this.#crashed) continue;
      if (t.kind === 'step') this.#guard(t.step);
      else this.#handle(t.vmid, t.req);
    }
    this.#tasks.length = 0;
    this.#taskHead = 0;
    this.#scheduled = false;
  }

  #guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      if (err instanceof RmAssertion) this.#assert(err);
      else this.#internal(err);
    }
  }

  #handle(vmid: number, req: RpcRequest): void {
    const h = this.#handlers.get(req.msgId);
    let res: HandlerResult;
    const injected = this.#faults?.rmCall(req.msgId);
    if (injected !== undefined) {
      const name = typeof injected === 'number' ? rmErrorName(injected) : injected in RmErrorCode ? (injected as RmErrorName) : undefined;
      res = name ? { err: name } : { err: 'DENIED', rawErr: typeof injected === 'number' ? injected : RmErrorCode.DENIED };
    } else if (!h) {
      res = { err: 'UNIMPLEMENTED' };
    } else {
      try {
        res = h({ caller: vmid, msgId: req.msgId, seq: req.seq, payload: req.payload });
      } catch (err) {
        if (err instanceof RmRefusal) {
          res = err.tail ? { err: err.err, tail: err.tail } : { err: err.err };
        } else if (isWireError(err)) {
          res = { err: err.rmError };
        } else if (err instanceof RmAssertion) {
          this.#assert(err);
          if (this.#crashed) return;
          res = { err: err.closest };
        } else {
          this.#internal(err);
          res = { err: 'DENIED' };
        }
      }
    }
    this.#reply(vmid, req, res);
  }

  #reply(vmid: number, req: RpcRequest, res: HandlerResult): void {
    const link = this.#links.get(vmid);
    this.events.emit('reply', vmid, req.msgId, req.seq, res.err);
    this.#trace?.emit({
      kind: 'rm.reply',
      side: 'rm',
      vmid,
      msgId: req.msgId,
      name: rmIdLabel(req.msgId),
      rmSeq: req.seq,
      err: res.rawErr !== undefined ? (rmErrorName(res.rawErr) ?? `0x${(res.rawErr >>> 0).toString(16)}`) : res.err,
      code: res.rawErr ?? RmErrorCode[res.err],
    });
    if (!link) return;
    const payload = res.err === 'OK' ? (res.data ?? EMPTY) : (res.tail ?? EMPTY);
    link.sendReply({ kind: 'reply', seq: req.seq, msgId: req.msgId, errCode: res.rawErr ?? RmErrorCode[res.err], payload });
  }

  #assert(a: RmAssertion): void {
    this.#assertions.push(a.what);
    this.#log.error({ what: a.what }, 'RM assertion the real RM would hit');
    this.#trace?.emit({ kind: 'rm.assertion', what: a.what, mode: this.options.onAssert });
    this.events.emit('assertion', a.what);
    if (this.options.onAssert === 'crash') this.#crashed = true;
  }

  #internal(err: unknown): void {
    const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
    this.#internalErrors.push(msg);
    this.#log.error({ err }, 'RM internal error');
  }

  // ── context for handlers ─────────────────────────────────────────────────

  #makeContext(): RmContext {
    const notify = (vmid: number, notifId: number, original: Uint8Array): void => {
      const payload = notifId === RmNotifId.NOTIFY_VM_EXITED && this.#faults !== undefined ? rewriteExited(original, this.#faults) : original;
      const seq = this.#notifSeq;
      this.#notifSeq = (this.#notifSeq + 1) & 0xffff;
      const link = this.#links.get(vmid);
      if (!link) {
        // The real RM exits when it must send to a VM without an RPC link (rm-rpc.md §17 #8).
        throw new RmAssertion(`notification ${rmIdLabel(notifId)} to VM ${vmid}, which has no RPC link`, 'DENIED');
      }
      this.events.emit('notification', vmid, notifId, seq);
      this.#trace?.emit({ kind: 'rm.notification', side: 'rm', vmid, msgId: notifId, name: rmIdLabel(notifId), rmSeq: seq, hex: toHex(payload, '') });
      link.sendNotification({ kind: 'notification', seq, msgId: notifId, payload });
    };
    const notifyStatus = (vm: RmVm): void => {
      const p = new Uint8Array(8);
      const v = view(p);
      v.setUint16(0, vm.vmid, true);
      v.setUint8(4, vm.state);
      v.setUint8(5, vm.osStatus);
      v.setUint16(6, vm.appStatus, true);
      for (const peer of [...vm.peers].sort((a, b) => a - b)) {
        const pv = this.#vms.get(peer);
        if (!pv || pv.state !== VmStatus.RUNNING || !this.#links.has(peer)) continue;
        notify(peer, RmNotifId.NOTIFY_VM_STATUS, p);
      }
    };
    return {
      hyp: this.hyp,
      log: this.#log,
      options: this.options,
      vms: this.#vms,
      parcels: this.#parcels,
      hasLink: (vmid) => this.#links.has(vmid),
      notify,
      notifyStatus,
      setState: (vm: RmVm, to: VmStatusValue) => {
        if (!canTransition(vm.state, to, vm)) {
          throw new RmAssertion(`illegal VM state change ${vmStatusName(vm.state)} → ${vmStatusName(to)} for VM ${vm.vmid}`, 'VM_STATE');
        }
        this.#trace?.emit({ kind: 'rm.vm-state', vmid: vm.vmid, from: vmStatusName(vm.state), to: vmStatusName(to) });
        vm.state = to;
        notifyStatus(vm);
      },
      defer: (step) => this.#enqueue({ kind: 'step', step }),
      resetParticipants: {},
      createLink: (vm: RmVm) => {
        const { objects, endpoints } = this.hyp.createMsgqLink(VMID_RM, vm.vmid);
        vm.objects.push(...objects);
        this.attachLink(vm.vmid, endpoints[0]);
        this.#vmEnds.set(vm.vmid, endpoints[1]);
        this.events.emit('link', vm.vmid, endpoints[1]);
      },
      destroyHypObjects: (vm: RmVm) => {
        if (vm.link) {
          this.detachLink(vm.vmid);
          this.#vmEnds.delete(vm.vmid);
          this.events.emit('link', vm.vmid, undefined);
        }
        for (const o of vm.objects) this.hyp.destroyObject(o);
        vm.objects = [];
        for (const [owner, virq] of vm.virqs) this.hyp.freeVirq(owner, virq);
        vm.virqs = [];
        vm.resources = [];
      },
      random: (n: number) => {
        const out = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          // xorshift32: deterministic per seed.
          let x = this.#rng;
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          this.#rng = x >>> 0;
          out[i] = this.#rng & 0xff;
        }
        return out;
      },
    };
  }
}

const EMPTY = new Uint8Array(0);

/** Create an RM server. Attach the host's link with `attachLink(3, endpoint)`. */
export function createRmServer(opts: CreateRmServerOptions = {}): RmServer {
  return new RmServer(opts);
}

/**
 * A NOTIFY_VM_EXITED payload (vmid u16 @0, exit_type u16 @2, exit_reason_size u32 @4, reason
 * @8; rm-rpc.md §13) rewritten as the fault plan says (FaultPlan.vmExited), or as it was.
 */
function rewriteExited(payload: Uint8Array, faults: FaultInjector): Uint8Array {
  if (payload.byteLength < 8) return payload;
  const v = view(payload);
  const rw = faults.vmExited(v.getUint16(0, true));
  if (rw === undefined) return payload;
  const reason = rw.reason ?? payload.subarray(8, 8 + v.getUint32(4, true));
  const out = new Uint8Array(8 + reason.byteLength);
  const o = view(out);
  o.setUint16(0, v.getUint16(0, true), true);
  o.setUint16(2, rw.exitType ?? v.getUint16(2, true), true);
  o.setUint32(4, reason.byteLength, true);
  out.set(reason, 8);
  return out;
}
