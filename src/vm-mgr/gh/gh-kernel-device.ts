/**
 * `/dev/gunyah` of the gh_ (v14 / Android Common Kernel) driver, and the VMs it made. CREATE_VM
 * (arg must be 0, else EINVAL) allocates the VMID at once with VM_ALLOCATE (vmid 0 = any): a
 * failed allocation fails CREATE_VM with that errno and nothing is left; on success the VM
 * registers for its notifications and its status is LOAD. There is no CREATE_GUEST_MEM (nr 0x8)
 * here: it and every other request are ENOTTY.
 *
 * Reference: README.md §Dialects (nr 0x8 and 0x9 absent in gh_), uapi.md §6.1 (CREATE_VM's
 * argument), rm-rpc.md §12.1 (VM_ALLOCATE). That the gh_ driver allocates at CREATE_VM is from
 * the public v14 series / Android common kernel android14-6.1 `vm_mgr.c` (docs/gh-dialect.md).
 */
import type { IoctlContext, KernelFile } from '../../host/kernel-file.js';
import { ErrnoError } from '../../shared/errno.js';
import { asErrno } from '../rm-errors.js';
import type { KernelContext } from '../kernel-context.js';
import { GH_CREATE_VM } from './gh-uapi.js';
import { ghStartSequence } from './gh-start.js';
import { ghTeardown } from './gh-teardown.js';
import { GhVm } from './gh-vm.js';
import { GhVmFile } from './gh-vm-file.js';

export class GhKernelDevice {
  readonly #k: KernelContext;
  readonly #vms = new Set<GhVm>();
  /** Pages of torn-down VMs that stay pinned because their MEM_RECLAIM failed. */
  #leakedPinnedPages = 0;
  readonly #nextVm: () => number;

  /** `nextVmId` hands out the kernel-wide VM ids (shared with the v17 device for traces). */
  constructor(k: KernelContext, nextVmId: () => number) {
    this.#k = k;
    this.#nextVm = nextVmId;
  }

  /** A new open file of `/dev/gunyah`. */
  openDevice(): KernelFile {
    return {
      name: 'gunyah',
      ioctl: (request, arg, ctx) => this.#ioctl(request, arg, ctx),
      release: () => {},
    };
  }

  async #ioctl(request: number, arg: bigint, ctx: IoctlContext): Promise<number> {
    if (request >>> 0 !== GH_CREATE_VM) throw new ErrnoError('ENOTTY', `gh_ /dev/gunyah ioctl 0x${(request >>> 0).toString(16)}`);
    if (arg !== 0n) throw new ErrnoError('EINVAL', 'GH_CREATE_VM takes 0');
    let vmid: number;
    try {
      vmid = await this.#k.rm().allocVmid(0);
    } catch (err) {
      throw asErrno(err);
    }
    const vm = new GhVm(this.#k, this.#nextVm(), vmid, {
      start: ghStartSequence,
      teardown: async (v) => {
        await ghTeardown(v);
        this.#leakedPinnedPages += v.leakedPinnedPages;
        this.#vms.delete(v);
      },
    });
    vm.registerNotifications();
    this.#vms.add(vm);
    this.#k.trace?.emit({ kind: 'kernel.vm-created', vm: vm.id });
    vm.setStatus(vm.status); // LOAD, for traces that follow the status
    return ctx.installFd(new GhVmFile(vm), { cloexec: true });
  }

  /** VMs not yet torn down. */
  get liveVms(): number {
    return this.#vms.size;
  }

  /**
   * Pages left pinned (and lent to the RM) by torn-down VMs whose MEM_RECLAIM failed: Linux's
   * leak, on purpose. Not an invariant violation.
   */
  get leakedPinnedPages(): number {
    return this.#leakedPinnedPages;
  }

  /** Consistency of the gh_ VMs' own state; an empty list means all holds. */
  checkInvariants(): string[] {
    const out: string[] = [];
    for (const vm of this.#vms) {
      const sorted = [...vm.regions].sort((a, b) => (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0));
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i - 1]!.gpa + sorted[i - 1]!.size > sorted[i]!.gpa) out.push(`gh VM ${vm.id}: regions ${sorted[i - 1]!.label} and ${sorted[i]!.label} overlap`);
      }
      if (new Set(vm.regions.map((r) => r.label)).size !== vm.regions.length) out.push(`gh VM ${vm.id}: two regions share a label`);
      for (const r of vm.regions) {
        if (BigInt(r.pinned.pas.length) * 4096n !== r.size) out.push(`gh VM ${vm.id}: region ${r.label} pins ${r.pinned.pas.length} pages for ${r.size} bytes`);
      }
    }
    return out;
  }
}
