/**
 * createEmulator refuses a fault plan it could not honour: unknown RM or hypervisor error
 * names, unknown hypercalls, bad occurrences. Known names by value and by code are accepted
 * and fire (vmm-flows.md §8).
 */
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../src/emulator.js';
import { RmErrorCode } from '../../src/rm-rpc/wire/errors.js';

const VM_ALLOCATE = 0x5600_0001;

describe('fault plan check', () => {
  it.each([
    [{ rm: [{ msgId: VM_ALLOCATE, error: 'NO_MEMORY' }] }, /faults\.rm\[0\]: unknown RM error 'NO_MEMORY'/],
    [{ rm: [{ msgId: -1, error: 'NOMEM' }] }, /faults\.rm\[0\]: msgId -1/],
    [{ rm: [{ msgId: VM_ALLOCATE, error: 'NOMEM', occurrence: 0 }] }, /occurrence must be an integer ≥ 1/],
    [{ rm: [{ msgId: VM_ALLOCATE, error: 1.5 }] }, /RM error code 1.5 is not a u32/],
    [{ hypercalls: [{ call: 'vcpu_runn', error: 'ERROR_BUSY' }] }, /faults\.hypercalls\[0\]: unknown hypercall 'vcpu_runn'/],
    [{ hypercalls: [{ call: 'vcpu_run', error: 'BUSY' }] }, /unknown hypervisor error 'BUSY'/],
  ])('refuses %j', (faults, message) => {
    expect(() => createEmulator({ faults })).toThrow(message);
  });

  it('accepts RM errors by name and by code, and they fire', async () => {
    const emu = createEmulator({
      faults: { rm: [{ msgId: VM_ALLOCATE, error: 'NOMEM' }, { msgId: VM_ALLOCATE, occurrence: 2, error: RmErrorCode.VMID_INVALID }] },
    });
    const dev = await emu.host.open('/dev/gunyah');
    const vm = await emu.host.ioctl(dev, 0x0000_4700, 0); // GUNYAH_CREATE_VM = _IO('G', 0x0)
    const fails: string[] = [];
    for (let i = 0; i < 2; i++) {
      await emu.host.ioctl(vm, 0x0000_4703).catch((e: { code?: string }) => fails.push(e.code ?? '?')); // GUNYAH_VM_START
    }
    expect(emu.faults.fired.map((f) => f.error)).toEqual(['NOMEM', RmErrorCode.VMID_INVALID]);
    expect(fails).toEqual(['ENOMEM', 'EINVAL']);
    await emu.host.closeAll();
    emu.close();
  });

  it('accepts every hypercall the host makes', () => {
    for (const call of ['vcpu_run', 'doorbell_send', 'doorbell_mask', 'memextent_donate', 'addrspace_map', 'addrspace_unmap']) {
      expect(() => createEmulator({ faults: { hypercalls: [{ call, error: 'ERROR_BUSY' }] } }).close()).not.toThrow();
    }
  });
});
