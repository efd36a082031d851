/**
 * The RM's default entry (docs/decisions.md B13, unverified): when the boot context has no PC,
 * VM_START enters the image at the image parcel's IPA + image_offset with X0 = the DTB's IPA
 * (parcel IPA + dt_offset), unless X0 was set; a PC in the boot context wins. The gh_ driver
 * sends no boot context at all (tested in boot.test.ts, where the guest checks X0 itself); these
 * cases use v17, whose driver sends what the VMM set.
 *
 * Reference: rm-rpc.md §12.2 (VM_CONFIG_IMAGE image_offset, dt_offset), §12.3 (boot context),
 * vmm-flows.md Q14 (crosvm tolerates ENOTTY for SET_BOOT_CONTEXT only with its payload at offset
 * 0); docs/decisions.md B1 (the image IPA: the v17 address layout's IMAGE base = the DTB parcel).
 */
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../../src/emulator.js';
import { finish, rawBoot, REG_PC, REG_X0, GUEST_BASE } from '../support/raw.js';

function bootThread(emu: Emulator, vmid: number): { entry: number; context: bigint } {
  const vcpu = emu.hyp.objectsOf(vmid).find((o) => o.type === 'vcpu')!;
  return emu.hyp.vcpuThread(vcpu);
}

async function vmidOf(emu: Emulator): Promise<number> {
  return (await emu.rm.control.inspect()).vms.find((v) => v.vmid !== 3)!.vmid;
}

describe('RM default entry without a boot-context PC (B13)', () => {
  it('no PC, no X0: PC = the image IPA (v17: the DTB parcel start), X0 = the DTB IPA', async () => {
    const b = await rawBoot({ noBootRegs: true });
    const t = bootThread(b.emu, await vmidOf(b.emu));
    expect({ pc: t.entry, x0: t.context }).toEqual({ pc: Number(b.dtbStart), x0: b.dtbStart });
    await finish(b.emu);
  });

  it('no PC, X0 set: PC = the image IPA, X0 kept', async () => {
    const b = await rawBoot({ noBootRegs: true, noStart: true });
    await b.raw.setBootContext(b.vm, REG_X0, 0x1234n);
    await b.raw.start(b.vm);
    const t = bootThread(b.emu, await vmidOf(b.emu));
    expect({ pc: t.entry, x0: t.context }).toEqual({ pc: Number(b.dtbStart), x0: 0x1234n });
    await finish(b.emu);
  });

  it('a PC in the boot context wins; X0 then stays as set (0 when not)', async () => {
    const b = await rawBoot({ noBootRegs: true, noStart: true });
    await b.raw.setBootContext(b.vm, REG_PC, GUEST_BASE);
    await b.raw.start(b.vm);
    const t = bootThread(b.emu, await vmidOf(b.emu));
    expect({ pc: t.entry, x0: t.context }).toEqual({ pc: Number(GUEST_BASE), x0: 0n });
    await finish(b.emu);
  });
});
