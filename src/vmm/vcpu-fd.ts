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
  run(): Promise<RunPage> {
    try {
      return this.#host.ioctl(this.fd, GUNYAH_VCPU_RUN).then(this.#exit);
    } catch (err) {
      return Promise.reject(err); // a host that throws instead of rejecting: still a rejection
    }
  }

  /** `exit()` as a callback, made once (no closure per RUN). */
  readonly #exit = (): RunPage => this.exit();

  /** The run page's current exit, decoded. */
  exit(): RunPage {
    return decodeRunPage(this.page.read(0, 40));
  }

  /** Answer an MMIO read: the first `len` bytes of `value`, little-endian, into mmio.data. */
  setMmioData(value: bigint, len = 8): void {
    // setBigUint64 takes the value modulo 2^64, as BigInt.asUintN(64, ·) would.
    this.#dataView.setBigUint64(0, value, true);
    this.page.write(MMIO_DATA, len === 8 ? this.#data : (this.#dataPrefix[len] ?? this.#data.subarray(0, len)));
  }

  /** mmio.resume_action: 0 HANDLED, 1 FAULT, 2 RETRY (any byte, for testing). */
  setResumeAction(action: number): void {
    this.page.write(MMIO_RESUME_ACTION, Uint8Array.of(action));
  }

  /** immediate_exit: the next hypervisor entry is refused with EINTR. The kernel never clears it. */
  setImmediateExit(on: boolean): void {
    this.page.write(RUN_IMMEDIATE_EXIT, Uint8Array.of(on ? 1 : 0));
  }

  /**
   * Scratch for setMmioData: 8 bytes with their own ArrayBuffer (so the DataView over them is
   * made once), copied into the mapping by each write.
   */
  readonly #data = new Uint8Array(new ArrayBuffer(8));
  readonly #dataView = new DataView(this.#data.buffer);
  /** The first n bytes of the scratch for the usual lengths 1, 2 and 4 (views made once). */
  readonly #dataPrefix: readonly (Uint8Array | undefined)[] = [undefined, this.#data.subarray(0, 1), this.#data.subarray(0, 2), undefined, this.#data.subarray(0, 4)];

  async close(): Promise<void> {
    await this.page.unmap();
    await this.#host.close(this.fd);
  }
}
