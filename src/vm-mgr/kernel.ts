/**
 * The host kernel's Gunyah driver as one object per emulator: the `/dev/gunyah` device, the
 * VMs it created, the guest-memory page pool, the function types (vCPU, irqfd, ioeventfd, and
 * any the emulator adds), and the dispatch of the RM's VM_EXITED / VM_STATUS notifications to
 * the VM with that VMID.
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
import { DEFAULT_QUIRKS, type KernelQuirks, type VmFunctionType } from './vm-api.js';
import { GunyahVm } from './vm.js';
import { VmFile } from './vm-file.js';
import { teardownVm } from './vm-teardown.js';

const VM_STATUS_RESET = 11;

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
}

export class GunyahKernel {
  readonly ctx: KernelContext;
  readonly pages: PageAllocator;
  readonly #vms = new Set<GunyahVm>();
  readonly #byVmid = new Map<number, GunyahVm>();
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
      registerVm: (vm) => {
        const v = vm as GunyahVm;
        this.#byVmid.set(v.vmid, v);
        return () => {
          if (this.#byVmid.get(v.vmid) === v) this.#byVmid.delete(v.vmid);
        };
      },
    };
    this.#unsubscribe = opts.subscribe((msgId, payload) => this.#onNotification(msgId, payload));
  }

  /** A shmem file of `length` bytes: what an anonymous shared mapping of a process is backed by. */
  anonymousMemory(length: number): KernelFile {
    return new AnonMemFile({ pages: this.pages, hyp: this.ctx.hyp }, length);
  }

  /** A new open file of `/dev/gunyah`. */
  openDevice(): KernelFile {
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
    return this.#vms.size;
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
    return out;
  }

  close(): void {
    this.#unsubscribe();
  }
}
