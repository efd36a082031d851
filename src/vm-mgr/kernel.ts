/**
 * The host kernel's Gunyah driver as one object per emulator: the `/dev/gunyah` device, the
 * VMs it created, the guest-memory page pool, the function types (vCPU, irqfd, ioeventfd, and
 * any the emulator adds), and the dispatch of the RM's VM_EXITED / VM_STATUS notifications to
 * the VM with that VMID.
 *
 * With `dialect: 'gh'` the device is the v14 / Android Common Kernel one (gh/gh-kernel-device.ts:
 * CREATE_VM allocates the VMID, user-memory regions instead of guest-memory files); the page
 * pool, anonymous memory, function types and notification dispatch are shared.
 *
 * Reference: uapi.md §6.1 (`/dev/gunyah`: CREATE_VM arg must be 0; CREATE_GUEST_MEM size page
 * aligned, flags 0x1|0x2 only, reserved not checked), §8.10 (notification handling: VM_EXITED
 * when the vmid matches; VM_STATUS only for vm_status RESET 11).
 */
import { ErrnoError } from '../shared/errno.js';
import type { Logger } from '../shared/log.js';
import type { Tracer } from '../shared/trace-events.js';
import type { HostHypercalls } from '../hyp/host-api.js';
import type { IoctlContext, KernelFile } from '../host/kernel-file.js';
import type { RmCalls } from '../rm-rpc/client/rm-calls.js';
import { RmNotifId } from '../rm-rpc/wire/msg-ids.js';
import { NOTIFY_VM_EXITED_PAYLOAD, NOTIFY_VM_STATUS_PAYLOAD } from '../rm-rpc/wire/notifications.js';
import { isWireError } from '../shared/wire-error.js';
import { AnonMemFile } from './anon-memory.js';
import { GuestMemFile } from './guest-mem.js';
import { GHMF_ALLOW_HUGEPAGE, GHMF_CLOEXEC } from './uapi/constants.js';
import { GUNYAH_CREATE_GUEST_MEM, GUNYAH_CREATE_VM } from './uapi/ioctls.js';
import { SIZEOF, decodeCreateMemArgs } from './uapi/structs.js';
import type { KernelContext } from './kernel-context.js';
import { PageAllocator, PAGE_SIZE } from './page-allocator.js';
import { DEFAULT_QUIRKS, type KernelQuirks, type UapiDialect, type VmFunctionType } from './vm-api.js';
import { GhKernelDevice } from './gh/gh-kernel-device.js';
import { GunyahVm } from './vm.js';
import { VmFile } from './vm-file.js';
import { teardownVm } from './vm-teardown.js';

const VM_STATUS_RESET = 11;

/** A VM as the notification dispatch sees it (either dialect). */
type NotifiedVm = { readonly vmid: number; onExited(type: number, reason: Uint8Array): void; onReset(): void };

export interface GunyahKernelOptions {
  readonly hyp: HostHypercalls;
  readonly rm: () => RmCalls;
  /** Subscribe to every RM notification the host receives; returns the unsubscribe function. */
  readonly subscribe: (fn: (msgId: number, payload: Uint8Array) => void) => () => void;
  /** Physical memory the driver may give to guest-memory files. */
  readonly pagePool: { readonly base: number; readonly size: number };
  /** Drop the contents of a freed page. */
  readonly discard: (pa: number, size: number) => void;
  readonly functionTypes: readonly VmFunctionType[];
  readonly quirks?: Partial<KernelQuirks>;
  readonly log: Logger;
  readonly trace?: Tracer;
  /** The UAPI `/dev/gunyah` speaks (default 'v17'; 'gh' = the v14 / ACK driver). */
  readonly dialect?: UapiDialect;
}

export class GunyahKernel {
  readonly ctx: KernelContext;
  readonly pages: PageAllocator;
  readonly #vms = new Set<GunyahVm>();
  readonly #byVmid = new Map<number, NotifiedVm>();
  /** The gh_ device, when the kernel speaks that dialect. */
  readonly #gh: GhKernelDevice | undefined;
  readonly dialect: UapiDialect;
  readonly #unsubscribe: () => void;
  #nextVm = 1;
  #hostVmid: number | undefined;

  constructor(opts: GunyahKernelOptions) {
    this.pages = new PageAllocator({ ...opts.pagePool, discard: opts.discard });
    const types = new Map(opts.functionTypes.map((t) => [t.type, t]));
    const log = opts.log.child({ layer: 'kernel' });
    this.ctx = {
      hyp: opts.hyp,
      rm: opts.rm,
      pages: this.pages,
      functionTypes: types,
      quirks: { ...DEFAULT_QUIRKS, ...opts.quirks },
      log,
      trace: opts.trace,
      hostVmid: async () => (this.#hostVmid ??= await opts.rm().getVmid()),
      registerVm: (v) => {
        this.#byVmid.set(v.vmid, v);
        return () => {
          if (this.#byVmid.get(v.vmid) === v) this.#byVmid.delete(v.vmid);
        };
      },
    };
    this.dialect = opts.dialect ?? 'v17';
    this.#gh = this.dialect === 'gh' ? new GhKernelDevice(this.ctx, () => this.#nextVm++) : undefined;
    this.#unsubscribe = opts.subscribe((msgId, payload) => this.#onNotification(msgId, payload));
  }

  /** A shmem file of `length` bytes: what an anonymous shared mapping of a process is backed by. */
  anonymousMemory(length: number): KernelFile {
    return new AnonMemFile({ pages: this.pages, hyp: this.ctx.hyp }, length);
  }

  /** A new open file of `/dev/gunyah`. */
  openDevice(): KernelFile {
    if (this.#gh) return this.#gh.openDevice();
    return {
      name: 'gunyah',
      ioctl: (request, arg, ctx) => this.#deviceIoctl(request, arg, ctx),
      release: () => {},
    };
  }

  #deviceIoctl(request: number, arg: bigint, ctx: IoctlContext): number {
    switch (request >>> 0) {
      case GUNYAH_CREATE_VM: {
        if (arg !== 0n) throw new ErrnoError('EINVAL', 'GUNYAH_CREATE_VM takes 0');
        const vm = new GunyahVm(this.ctx, this.#nextVm++, async (v) => {
          await teardownVm(v);
          this.#vms.delete(v);
        });
        this.#vms.add(vm);
        this.ctx.trace?.emit({ kind: 'kernel.vm-created', vm: vm.id });
        return ctx.installFd(new VmFile(vm), { cloexec: true });
      }
      case GUNYAH_CREATE_GUEST_MEM: {
        const { flags, size } = decodeCreateMemArgs(ctx.user.copyFromUser(arg, SIZEOF.gunyah_create_mem_args));
        if (size % BigInt(PAGE_SIZE) !== 0n) throw new ErrnoError('EINVAL', 'size not page aligned');
        if (flags & ~BigInt(GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE)) throw new ErrnoError('EINVAL', `flags 0x${flags.toString(16)}`);
        if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new ErrnoError('EINVAL', 'size too large');
        const file = new GuestMemFile({ pages: this.pages, hyp: this.ctx.hyp, quirks: this.ctx.quirks }, Number(size), Number(flags));
        return ctx.installFd(file, { cloexec: (flags & BigInt(GHMF_CLOEXEC)) !== 0n });
      }
      default:
        throw new ErrnoError('ENOTTY', `/dev/gunyah ioctl 0x${(request >>> 0).toString(16)}`);
    }
  }

  #onNotification(msgId: number, payload: Uint8Array): void {
    try {
      if (msgId === RmNotifId.NOTIFY_VM_EXITED) {
        const n = NOTIFY_VM_EXITED_PAYLOAD.decode(payload);
        this.#byVmid.get(n.vmid)?.onExited(n.exitType, n.exitReason);
      } else if (msgId === RmNotifId.NOTIFY_VM_STATUS) {
        const n = NOTIFY_VM_STATUS_PAYLOAD.decode(payload);
        if (n.vmStatus === VM_STATUS_RESET) this.#byVmid.get(n.vmid)?.onReset();
      }
    } catch (err) {
      if (!isWireError(err)) throw err;
      this.ctx.log.warn({ msgId, err }, 'malformed RM notification ignored');
    }
  }

  /** VMs not yet torn down. */
  get liveVms(): number {
    return this.#vms.size + (this.#gh?.liveVms ?? 0);
  }

  /**
   * gh_ only: pages that torn-down VMs left pinned because their MEM_RECLAIM failed (Linux
   * leaks them too; docs/gh-dialect.md). Always 0 for v17.
   */
  get leakedPinnedPages(): number {
    return this.#gh?.leakedPinnedPages ?? 0;
  }

  /** Consistency of the driver's own state; an empty list means all holds. */
  checkInvariants(): string[] {
    const out: string[] = [];
    for (const vm of this.#vms) {
      for (const b of vm.bindings) if (!b.file.bindings.has(b)) out.push(`VM ${vm.id}: binding at gfn ${b.gfn} unknown to its file`);
      for (let i = 1; i < vm.bindings.length; i++) {
        const a = vm.bindings[i - 1]!;
        const b = vm.bindings[i]!;
        if (a.gfn + a.pages > b.gfn) out.push(`VM ${vm.id}: bindings overlap at gfn ${b.gfn}`);
      }
    }
    if (this.#gh) out.push(...this.#gh.checkInvariants());
    return out;
  }

  close(): void {
    this.#unsubscribe();
  }
}
