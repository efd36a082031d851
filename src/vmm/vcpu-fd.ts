/**
 * A vCPU fd for TypeScript VMMs: RUN, the mmapped run page decoded into a typed exit, and the
 * fields a VMM writes back (MMIO read data, resume action, immediate_exit).
 *
 * Reference: uapi.md §5 (run page), §8.4–§8.10 (RUN behaviour), vmm-flows.md §7 (how VMMs
 * handle each exit).
 */
import { GUNYAH_VCPU_MMAP_SIZE, GUNYAH_VCPU_RUN } from '../vm-mgr/uapi/ioctls.js';
import { MMIO_DATA, MMIO_RESUME_ACTION, RUN_IMMEDIATE_EXIT, decodeRunPage, type RunPage } from '../vm-mgr/uapi/run-page.js';
import type { HostLike, HostMapping } from './host-like.js';

export class VcpuFd {
  readonly #host: HostLike;
  readonly fd: number;
  readonly id: number;
  readonly page: HostMapping;

  private constructor(host: HostLike, fd: number, id: number, page: HostMapping) {
    this.#host = host;
    this.fd = fd;
    this.id = id;
    this.page = page;
  }

  /** Wrap a vCPU fd: asks VCPU_MMAP_SIZE and maps the run page. */
  static async open(host: HostLike, fd: number, id: number): Promise<VcpuFd> {
    const size = await host.ioctl(fd, GUNYAH_VCPU_MMAP_SIZE);
    return new VcpuFd(host, fd, id, host.mmap(fd, size, 0));
  }

  /** GUNYAH_VCPU_RUN, then the exit it reported. @rejects ErrnoError (EINTR, ENODEV, …) */
  async run(): Promise<RunPage> {
    await this.#host.ioctl(this.fd, GUNYAH_VCPU_RUN);
    return this.exit();
  }

  /** The run page's current exit, decoded. */
  exit(): RunPage {
    return decodeRunPage(this.page.read(0, 40));
  }

  /** Answer an MMIO read: the first `len` bytes of `value`, little-endian, into mmio.data. */
  setMmioData(value: bigint, len = 8): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.page.write(MMIO_DATA, b.subarray(0, len));
  }

  /** mmio.resume_action: 0 HANDLED, 1 FAULT, 2 RETRY (any byte, for testing). */
  setResumeAction(action: number): void {
    this.page.write(MMIO_RESUME_ACTION, Uint8Array.of(action));
  }

  /** immediate_exit: the next hypervisor entry is refused with EINTR. The kernel never clears it. */
  setImmediateExit(on: boolean): void {
    this.page.write(RUN_IMMEDIATE_EXIT, Uint8Array.of(on ? 1 : 0));
  }

  async close(): Promise<void> {
    await this.page.unmap();
    await this.#host.close(this.fd);
  }
}
