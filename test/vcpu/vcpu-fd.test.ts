// The vCPU function and the vCPU fd: ADD_FUNCTION vCPU rows (uapi.md §6.2), REMOVE_FUNCTION
// matching (§8.1), the fd's ioctls and mmap (§5, §6.3), and the VM reference it holds (§7).
import { describe, expect, it } from 'vitest';
import type { IoctlContext, KernelFile } from '../../src/host/kernel-file.js';
import { ResourceType } from '../../src/rm-rpc/wire/enums.js';
import { ErrnoError } from '../../src/shared/errno.js';
import { SigbusError } from '../../src/shared/sigbus-error.js';
import { vcpuFunction, VcpuFile, type VcpuInstance } from '../../src/vcpu/index.js';
import {
  GUNYAH_FN_VCPU,
  GUNYAH_VCPU_MMAP_SIZE,
  GUNYAH_VCPU_RUN,
  GUNYAH_VM_START,
  encodeFnVcpuArg,
} from '../../src/vm-mgr/uapi/index.js';
import { LinuxVmStatus } from '../../src/vm-mgr/vm-api.js';
import { FakeVm, resource } from './support/fake-vm.js';
import { Harness, bytes, outcome } from './support/harness.js';

describe('ADD_FUNCTION vCPU (§6.2)', () => {
  it('describes itself: type GUNYAH_FN_VCPU (1), arg size 4', () => {
    expect(vcpuFunction.type).toBe(GUNYAH_FN_VCPU);
    expect(vcpuFunction.type).toBe(1);
    expect(vcpuFunction.argSize).toBe(4);
  });

  it.each([0, 1, 3, 5, 8, 16, 256])('arg_size %i ≠ 4 gives EINVAL', async (size) => {
    const h = new Harness();
    expect(await outcome(h.bind(vcpuFunction, new Uint8Array(size)))).toBe('EINVAL');
    expect(h.vm.tickets.size).toBe(0);
    expect(h.vm.refs).toBe(1);
  });

  it('a second vCPU with the same id gives EEXIST; another id is fine', async () => {
    const h = new Harness();
    await h.addVcpu(2);
    expect(await outcome(h.addVcpu(2))).toBe('EEXIST');
    await h.addVcpu(3);
    expect([...h.vm.tickets.keys()]).toEqual([`${ResourceType.VCPU}:2`, `${ResourceType.VCPU}:3`]);
    expect(h.vm.refs).toBe(3);
  });

  it('the VM reference cannot be taken: ENODEV, and the ticket is removed again', async () => {
    const h = new Harness();
    h.vm.refuseRefs = true;
    expect(await outcome(h.addVcpu(0))).toBe('ENODEV');
    expect(h.vm.tickets.size).toBe(0);
  });

  it('returns a new fd "gh-vcpu:<id>" with close-on-exec, before or after start', async () => {
    const h = new Harness();
    const before = await h.addVcpu(7);
    h.vm.setStatus(LinuxVmStatus.RUNNING);
    const after = await h.addVcpu(4294967295);
    const files = h.proc.openFiles();
    expect(files.find((f) => f.fd === before.result)).toMatchObject({ name: 'gh-vcpu:7', cloexec: true });
    expect(files.find((f) => f.fd === after.result)).toMatchObject({ name: 'gh-vcpu:4294967295', cloexec: true });
    expect(before.type).toBe(GUNYAH_FN_VCPU);
  });

  it('takes an already known resource with its label at once', async () => {
    const h = new Harness();
    h.vm.unowned.push(resource(ResourceType.VCPU, 1, 0x77n, 50));
    const inst = await h.addVcpu(1);
    expect(inst.vcpu.resource?.capId).toBe(0x77n);
    expect(h.hyp.virqHandlers(50)).toBe(1);
  });

  it('a failure after the reference was taken undoes every step', async () => {
    const vm = new FakeVm();
    vm.unowned.push(resource(ResourceType.VCPU, 0, 0x77n, 50));
    const ctx: IoctlContext = {
      user: { copyFromUser: () => new Uint8Array(0), copyToUser: () => {} },
      fget: () => undefined,
      installFd: () => {
        throw new ErrnoError('ENOMEM', 'no fd');
      },
    };
    await expect(vcpuFunction.bind(vm, encodeFnVcpuArg({ id: 0 }), ctx)).rejects.toMatchObject({ code: 'ENOMEM' });
    expect(vm.tickets.size).toBe(0);
    expect(vm.unowned).toHaveLength(1); // the resource went back
    expect(vm.refs).toBe(1);
    expect(vm.statusListeners).toBe(0);
    expect(vm.hyp.virqHandlers(50)).toBe(0);
  });
});

describe('REMOVE_FUNCTION vCPU (§8.1)', () => {
  it('matches the same id, only with exactly 4 bytes', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(5);
    expect(inst.matches(encodeFnVcpuArg({ id: 5 }))).toBe(true);
    expect(inst.matches(encodeFnVcpuArg({ id: 6 }))).toBe(false);
    expect(inst.matches(bytes('05 00 00 00 00'))).toBe(false);
    expect(inst.matches(bytes('05 00 00'))).toBe(false);
  });

  it('unbind removes the ticket and the status listener; the fd and VM reference stay until close', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(5);
    expect(h.vm.statusListeners).toBe(1);
    inst.unbind();
    inst.unbind(); // idempotent
    expect(h.vm.tickets.size).toBe(0);
    expect(h.vm.statusListeners).toBe(0);
    expect(h.vm.refs).toBe(2);
    expect(await h.proc.ioctl(inst.result, GUNYAH_VCPU_MMAP_SIZE)).toBe(4096);
    // The id can be added again (a new vCPU).
    await h.addVcpu(5);
  });
});

describe('the vCPU fd (§6.3)', () => {
  it('GUNYAH_VCPU_MMAP_SIZE is PAGE_SIZE', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    expect(await h.proc.ioctl(inst.result, GUNYAH_VCPU_MMAP_SIZE)).toBe(4096);
    expect(GUNYAH_VCPU_MMAP_SIZE).toBe(0x4706);
    expect(GUNYAH_VCPU_RUN).toBe(0x4705);
  });

  it.each([GUNYAH_VM_START, 0x4707, 0x40104705, 0, 0x4605])('ioctl 0x%s gives ENOTTY', async (req) => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    expect(await outcome(h.proc.ioctl(inst.result, req))).toBe('ENOTTY');
  });

  it('closing the fd drops the VM reference (once)', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    expect(h.vm.refs).toBe(2);
    const map = h.proc.mmap(inst.result, 4096);
    await h.proc.close(inst.result);
    expect(h.vm.refs).toBe(2); // the mapping still holds the file
    await map.unmap();
    expect(h.vm.refs).toBe(1);
    const file = (inst as VcpuInstance).file;
    await file.release();
    expect(h.vm.refs).toBe(1);
  });
});

describe('run-page mmap (§5)', () => {
  it('is zero-filled at creation', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    const map = h.proc.mmap(inst.result, 4096);
    expect(map.read(0, 4096)).toEqual(new Uint8Array(4096));
  });

  it('reads and writes are the bytes the kernel uses', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    const map = h.proc.mmap(inst.result, 4096);
    map.write(37, bytes('02'));
    expect(inst.vcpu.page[37]).toBe(2);
    inst.vcpu.page[4095] = 0x5a;
    expect(map.read(4095, 1)).toEqual(bytes('5a'));
    const other = h.proc.mmap(inst.result, 100);
    expect(other.read(37, 1)).toEqual(bytes('02'));
  });

  it('any length maps; touching beyond page offset 0 raises SIGBUS at the first bad byte', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    const map = h.proc.mmap(inst.result, 3 * 4096);
    expect(map.length).toBe(3 * 4096);
    expect(() => map.read(4096, 1)).toThrow(SigbusError);
    try {
      map.read(4090, 10);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SigbusError);
      expect((e as SigbusError).address).toBe(map.addr + 4096n);
    }
    try {
      map.write(8192 + 5, bytes('01'));
      expect.unreachable();
    } catch (e) {
      expect((e as SigbusError).address).toBe(map.addr + 8192n + 5n);
    }
    // A faulting write does nothing.
    expect(() => map.write(4095, bytes('11 22'))).toThrow(SigbusError);
    expect(inst.vcpu.page[4095]).toBe(0);
    expect(map.read(4095, 0)).toEqual(new Uint8Array(0));
  });

  it('a mapping at file offset 4096 has no run page: every access raises SIGBUS', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    const map = h.proc.mmap(inst.result, 4096, 4096);
    try {
      map.read(0, 1);
      expect.unreachable();
    } catch (e) {
      expect((e as SigbusError).address).toBe(map.addr);
    }
  });

  it('the file is a VcpuFile named after its id', async () => {
    const h = new Harness();
    const inst = (await h.addVcpu(9)) as VcpuInstance;
    expect(inst.file).toBeInstanceOf(VcpuFile);
    expect((inst.file as KernelFile).name).toBe('gh-vcpu:9');
  });
});
