// Test support for irqfd/ioeventfd: the vCPU tests' fake VM, fake hypervisor and process
// harness (a real HostProcess whose fake VM device binds functions with a real IoctlContext),
// plus eventfd helpers.
import type { EventFdFile } from '../../../src/host/eventfd.js';
import type { Harness } from '../../vcpu/support/harness.js';

export { FakeHyp } from '../../vcpu/support/fake-hyp.js';
export { FakeVm, resource, recordingLogger } from '../../vcpu/support/fake-vm.js';
export { Harness, bytes, hexOf, outcome, turns } from '../../vcpu/support/harness.js';

/** The EventFdFile behind `fd` of the harness's process. */
export function eventfdFile(h: Harness, fd: number): EventFdFile {
  const f = h.proc.openFiles().find((x) => x.fd === fd);
  if (f === undefined) throw new Error(`fd ${fd} not open`);
  return f.file as EventFdFile;
}

/** write(2) of a u64 value to an eventfd. */
export function writeU64(h: Harness, fd: number, value = 1n): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, value, true);
  h.proc.write(fd, b);
}
