/**
 * A vCPU as a raw VMM drives it: the fd from ADD_FUNCTION, the run page mapped with mmap at
 * offset 0 (length from GUNYAH_VCPU_MMAP_SIZE), GUNYAH_VCPU_RUN, and the exit read back from the
 * page's bytes. Counts every exit by kind for the summary, and kicks a RUN in flight with
 * immediate_exit.
 *
 * Reference: uapi.md §5 (run page layout), §8.4–§8.7 (RUN, MMIO exits, resume actions), §8.9
 * (immediate_exit),
 * §8.10 (STATUS exits); vmm-flows.md §2 step 6 (VCPU_MMAP_SIZE then mmap).
 */
import type { Mapping } from '../host/process.js';
import { GUNYAH_VCPU_MMAP_SIZE, GUNYAH_VCPU_RUN } from '../vm-mgr/uapi/ioctls.js';
import { MMIO_DATA, RUN_IMMEDIATE_EXIT, RUN_PAGE_SIZE, decodeRunPage, type RunPage } from '../vm-mgr/uapi/run-page.js';
import { ioctlImm, type RawHost } from './raw-ioctl.js';

/** Exits of one vCPU by kind. */
export interface ExitCounts {
  mmioRead: number;
  mmioWrite: number;
  status: number;
  pageFault: number;
  other: number;
}

export class RawVcpu {
  readonly counts: ExitCounts = { mmioRead: 0, mmioWrite: 0, status: 0, pageFault: 0, other: 0 };
  /** The last exit RUN reported. */
  last: RunPage | undefined;
  /** The GUNYAH_VCPU_RUN in flight, if any. */
  #running: Promise<number> | undefined;

  private constructor(
    readonly raw: RawHost,
    readonly id: number,
    readonly fd: number,
    readonly page: Mapping,
  ) {}

  /** Ask the run-page size and mmap it (vmm-flows.md §2 step 6). */
  static async map(raw: RawHost, id: number, fd: number): Promise<RawVcpu> {
    const size = await ioctlImm(raw, fd, GUNYAH_VCPU_MMAP_SIZE, `vCPU ${id}`);
    if (size < RUN_PAGE_SIZE) throw new Error(`GUNYAH_VCPU_MMAP_SIZE ${size} < ${RUN_PAGE_SIZE}`);
    const page = raw.host.mmap(fd, size, 0);
    raw.log.push({ name: 'mmap', call: `mmap(${fd}, ${size}, 0)`, detail: `vCPU ${id} run page`, result: `0x${page.addr.toString(16)}` });
    return new RawVcpu(raw, id, fd, page);
  }

  /** GUNYAH_VCPU_RUN, then decode the 40-byte struct gunyah_vcpu_run from the mapping. */
  async run(): Promise<RunPage> {
    const call = this.raw.host.ioctl(this.fd, GUNYAH_VCPU_RUN);
    this.#running = call;
    try {
      await call;
    } finally {
      this.#running = undefined;
    }
    const exit = decodeRunPage(this.page.read(0, RUN_PAGE_SIZE));
    if (exit.kind === 'mmio') exit.mmio.isWrite ? this.counts.mmioWrite++ : this.counts.mmioRead++;
    else if (exit.kind === 'status') this.counts.status++;
    else if (exit.kind === 'page-fault') this.counts.pageFault++;
    else this.counts.other++;
    this.last = exit;
    return exit;
  }

  /**
   * The VMM's kick (what crosvm and QEMU do from a signal handler, uapi.md §8.9): set
   * immediate_exit so a RUN in flight returns EINTR, wait for it, and clear the flag again (the
   * kernel never clears it). Returns false when no RUN was in flight.
   */
  async kick(): Promise<boolean> {
    const running = this.#running;
    if (running === undefined) return false;
    this.page.write(RUN_IMMEDIATE_EXIT, Uint8Array.of(1));
    try {
      await running;
    } catch {
      // EINTR, as expected; any other error ends the RUN just as well.
    }
    this.page.write(RUN_IMMEDIATE_EXIT, Uint8Array.of(0));
    return true;
  }

  /** Answer the pending MMIO read: 8 little-endian bytes into mmio.data (resume_action stays HANDLED). */
  supply(value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.page.write(MMIO_DATA, b);
  }
}
