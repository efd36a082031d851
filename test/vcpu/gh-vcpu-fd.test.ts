// The vCPU function and fd of a gh_ VM (README.md §Dialects): the same function type, 4-byte
// argument, resource ticket, fd name and run-page mapping as v17 (uapi.md §3, §5, §6.2, §6.3),
// the same RUN and MMAP_SIZE numbers (GH_VCPU_RUN 0x4705, GH_VCPU_MMAP_SIZE 0x4706), and EINVAL,
// not ENOTTY, for any other vCPU ioctl (the v14 driver's vCPU fd; docs/decisions.md GV7).
import { describe, expect, it } from 'vitest';
import { ResourceType } from '../../src/rm-rpc/wire/enums.js';
import { SigbusError } from '../../src/shared/sigbus-error.js';
import { GH_VCPU_RULES, V17_VCPU_RULES, vcpuFunction, vcpuRules } from '../../src/vcpu/index.js';
import { GUNYAH_VM_START } from '../../src/vm-mgr/uapi/index.js';
import type { VmHandle } from '../../src/vm-mgr/vm-api.js';
import { FakeVm } from './support/fake-vm.js';
import { GhHarness } from './support/gh-vm.js';
import { Harness, bytes, outcome } from './support/harness.js';

/** GH_VCPU_RUN and GH_VCPU_MMAP_SIZE: _IO('G', 0x5) and _IO('G', 0x6), typed by hand. */
const GH_VCPU_RUN = 0x4705;
const GH_VCPU_MMAP_SIZE = 0x4706;

describe('gh_ vCPU fd ioctls', () => {
  it('MMAP_SIZE is the page size; RUN is 0x4705 as in v17', async () => {
    const h = new GhHarness();
    const { fd } = await h.startedVcpu(0);
    expect(await h.proc.ioctl(fd, GH_VCPU_MMAP_SIZE)).toBe(4096);
    h.hyp.push({ error: 0, state: 4, data0: 0x6000n, data1: 4n, data2: 0n }); // ADDRSPACE_VMMIO_READ
    expect(await h.proc.ioctl(fd, GH_VCPU_RUN)).toBe(0);
  });

  it.each([GUNYAH_VM_START, 0x4707, 0x4701, 0x40104705, 0, 0x4605, 0x4117])('ioctl 0x%s gives EINVAL (v17: ENOTTY)', async (req) => {
    const gh = new GhHarness();
    const ghVcpu = await gh.addVcpu(0);
    expect(await outcome(gh.proc.ioctl(ghVcpu.result, req))).toBe('EINVAL');
    const v17 = new Harness();
    const v17Vcpu = await v17.addVcpu(0);
    expect(await outcome(v17.proc.ioctl(v17Vcpu.result, req))).toBe('ENOTTY');
  });

  it('an unknown ioctl neither starts the VM nor touches the vCPU', async () => {
    const h = new GhHarness();
    const inst = await h.addVcpu(0);
    expect(await outcome(h.proc.ioctl(inst.result, 0x4707))).toBe('EINVAL');
    expect(h.vm.ensureStartedCalls).toBe(0);
    expect(inst.vcpu.running).toBe(false);
  });
});

describe('gh_ vCPU function bind (same as v17)', () => {
  it('picks the rules from VmHandle.dialect: gh → gh_, absent or v17 → v17', async () => {
    expect(vcpuRules('gh')).toBe(GH_VCPU_RULES);
    expect(vcpuRules('v17')).toBe(V17_VCPU_RULES);
    expect(vcpuRules(undefined)).toBe(V17_VCPU_RULES);
    const gh = new GhHarness();
    expect((await gh.addVcpu(0)).vcpu.rules).toBe(GH_VCPU_RULES);
    const v17 = new Harness();
    expect((await v17.addVcpu(0)).vcpu.rules).toBe(V17_VCPU_RULES);
    const plain: VmHandle = new FakeVm();
    expect(plain.dialect).toBeUndefined();
  });

  it.each([0, 3, 5, 16])('arg_size %i ≠ 4 gives EINVAL; nothing is left behind', async (size) => {
    const h = new GhHarness();
    expect(await outcome(h.bind(vcpuFunction, new Uint8Array(size)))).toBe('EINVAL');
    expect(h.vm.tickets.size).toBe(0);
    expect(h.vm.refs).toBe(1);
  });

  it('a second vCPU with the same id gives EEXIST (the resource ticket)', async () => {
    const h = new GhHarness();
    await h.addVcpu(2);
    expect(await outcome(h.addVcpu(2))).toBe('EEXIST');
    expect([...h.vm.tickets.keys()]).toEqual([`${ResourceType.VCPU}:2`]);
  });

  it('the fd is "gh-vcpu:<id>", close-on-exec; closing it and its mapping drops the VM reference', async () => {
    const h = new GhHarness();
    const inst = await h.addVcpu(7);
    expect(h.proc.openFiles().find((f) => f.fd === inst.result)).toMatchObject({ name: 'gh-vcpu:7', cloexec: true });
    expect(h.vm.refs).toBe(2);
    const map = h.proc.mmap(inst.result, 4096);
    await h.proc.close(inst.result);
    await map.unmap();
    expect(h.vm.refs).toBe(1);
  });
});

describe('gh_ run-page mapping (same as v17)', () => {
  it('page offset 0 is the run page (zero-filled, the bytes RUN uses); beyond it SIGBUS', async () => {
    const h = new GhHarness();
    const inst = await h.addVcpu(0);
    const map = h.proc.mmap(inst.result, 2 * 4096);
    expect(map.read(0, 4096)).toEqual(new Uint8Array(4096));
    map.write(24, bytes('01 02'));
    expect(inst.vcpu.page[25]).toBe(2);
    expect(() => map.read(4096, 1)).toThrow(SigbusError);
  });
});
