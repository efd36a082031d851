/**
 * The end of the default scenario: stop vCPU RUNs still in flight (the immediate_exit kick),
 * munmap the run pages, close every fd, and check that nothing is left: no fd, mapping or user
 * allocation in the process, no VM and no parcel in the RM, no memory owned by a guest, no VM in
 * the kernel.
 *
 * Reference: uapi.md §7 (the last reference to a VM tears it down), §8.3 (teardown order), §8.9
 * (immediate_exit); DESIGN.md "Public contracts" (closeAll, rm.control.inspect).
 */
import type { Emulator } from '../emulator.js';
import type { BootedHoldingCell } from './holding-cell-boot.js';
import type { RawHost } from './raw-ioctl.js';

/** The host VM's vmid (the RM's HLOS). */
const HOST_VMID = 3;

/** What was checked after every fd was closed. */
export interface ShutdownReport {
  readonly fdsClosed: number;
  readonly openFds: number;
  readonly mappings: number;
  readonly userAllocations: number;
  readonly rmVms: readonly number[];
  readonly rmParcels: number;
  /** vmid → bytes owned, from the hypervisor's memory model. */
  readonly memoryOwners: ReadonlyMap<number, number>;
  readonly liveVms: number;
}

/** Stop RUNs in flight, munmap the run pages, then close every fd the scenario opened, vCPUs first, the device last. */
export async function closeEverything(raw: RawHost, b: BootedHoldingCell | undefined, problems: string[]): Promise<number> {
  const { host } = raw;
  let closed = 0;
  try {
    if (b) {
      // A vCPU still in RUN (a failed run left it asleep) is kicked out first, as a VMM stops its vCPU threads.
      for (const v of b.vcpus) if (await v.kick()) problems.push(`vCPU ${v.id}: a RUN was still in flight at shutdown; kicked with immediate_exit`);
      for (const v of b.vcpus) await v.page.unmap();
      for (const fd of [...b.vcpus.map((v) => v.fd), b.memFd, b.vmFd, ...b.devFds]) {
        await host.close(fd);
        closed++;
      }
    }
  } catch (err) {
    problems.push(`close: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Anything the scenario lost track of (a failed boot) goes too, as at process exit.
  closed += host.openFiles().length;
  await host.closeAll();
  return closed;
}

export async function inspectShutdown(emu: Emulator, fdsClosed: number, problems: string[]): Promise<ShutdownReport> {
  const { host } = emu;
  const rm = await emu.rm.control.inspect();
  const report: ShutdownReport = {
    fdsClosed,
    openFds: host.openFiles().length,
    mappings: host.liveMappings().length,
    userAllocations: host.allocations().length,
    rmVms: rm.vms.map((v) => v.vmid).filter((v) => v !== HOST_VMID),
    rmParcels: rm.parcels.length,
    memoryOwners: emu.hyp.memory.ownership(),
    liveVms: emu.kernel.liveVms,
  };
  if (report.openFds || report.mappings || report.userAllocations) {
    problems.push(`left open: ${report.openFds} fds, ${report.mappings} mappings, ${report.userAllocations} user allocations`);
  }
  if (report.rmVms.length) problems.push(`the RM still holds VMs ${report.rmVms.map((v) => `0x${v.toString(16)}`).join(', ')}`);
  if (report.rmParcels) problems.push(`the RM still holds ${report.rmParcels} parcels`);
  const others = [...report.memoryOwners.keys()].filter((v) => v !== HOST_VMID);
  if (others.length) problems.push(`memory still owned by VMs ${others.join(', ')}`);
  if (report.liveVms) problems.push(`${report.liveVms} VMs not torn down by the kernel`);
  return report;
}
