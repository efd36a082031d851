/**
 * The vCPU fd ("gh-vcpu:<id>"): GUNYAH_VCPU_RUN, GUNYAH_VCPU_MMAP_SIZE, the run-page mmap, and
 * the release that drops the VM reference the fd holds.
 *
 * Reference: uapi.md §2 (vCPU ioctls), §5 (mmap), §6.3 (vCPU fd rows: unknown ioctl → ENOTTY;
 * close drops a VM reference, the last one tears the VM down), §7 (the VM's reference count).
 * The ioctl argument is ignored, as Linux ignores it for these two `_IO` requests.
 * A gh_ VM's vCPU fd (README.md §Dialects) has the same two requests with the same numbers; the
 * v14 driver answers any other request with EINVAL (run-dialect.ts).
 */
import type { IoctlContext, KernelFile, MappingBackend } from '../host/kernel-file.js';
import { ErrnoError } from '../shared/errno.js';
import { GUNYAH_VCPU_MMAP_SIZE, GUNYAH_VCPU_RUN, PAGE_SIZE } from '../vm-mgr/uapi/index.js';
import type { VmHandle } from '../vm-mgr/vm-api.js';
import { runPageMapping } from './run-page-mapping.js';
import type { Vcpu } from './vcpu.js';

/** The file behind a vCPU fd. */
export class VcpuFile implements KernelFile {
  readonly name: string;
  #released = false;

  constructor(
    readonly vcpu: Vcpu,
    readonly vm: VmHandle,
  ) {
    this.name = `gh-vcpu:${vcpu.id}`;
  }

  /**
   * @throws ErrnoError ENOTTY (gh_: EINVAL) for any request other than RUN and MMAP_SIZE; RUN's errors
   */
  ioctl(request: number, _arg: bigint, _ctx: IoctlContext): number | Promise<number> {
    switch (request) {
      case GUNYAH_VCPU_RUN:
        return this.vcpu.run();
      case GUNYAH_VCPU_MMAP_SIZE:
        return PAGE_SIZE;
      default:
        throw new ErrnoError(this.vcpu.rules.unknownIoctl, `${this.name}: ioctl 0x${(request >>> 0).toString(16)}`);
    }
  }

  /** Any length; only file page 0 is backed (the run page), the rest raises SIGBUS. */
  mmap(_length: number, offset: number, addr: bigint): MappingBackend {
    return runPageMapping(this.vcpu, offset, addr);
  }

  /** The last reference went: drop the VM reference taken at bind (maybe the VM's last). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.vm.put();
  }
}
