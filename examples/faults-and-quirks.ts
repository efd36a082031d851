/**
 * Fault injection and quirk switches, as docs/porting-guide.md shows them: an RM call of the VM
 * start sequence made to fail (the kernel's fault-injection points), and one v17 QUIRK turned
 * off to see the behaviour the code meant to have.
 *
 * Reference: vmm-flows.md §8 (fault-injection points: VM_START 0x56000004 is point 9; GUNYAH_VM_START
 * fails, then -ENODEV for good); uapi.md §6.2 (START rows, MAP_MEM with a closed fd), §9 (K12, K16).
 * test/docs/porting-guide-example.test.ts runs it.
 */
import { GUNYAH_MEM_ALLOW_RWX, GUNYAH_MEM_FORCE_LEND, GunyahDevice, buildVmDtb, createEmulator, isErrnoError, type Emulator } from '../src/index.js';

/** The errno name a promise rejects with, or 'ok'. */
async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isErrnoError(err)) return err.code;
    throw err;
  }
}

/** VM_START's RPC fails with the RM error NOMEM: START gives ENOMEM, and ENODEV ever after (K12). */
export async function failedStart(): Promise<{ first: string; second: string; fired: Emulator['faults']['fired'] }> {
  const emu = createEmulator({ faults: { rm: [{ msgId: 0x5600_0004, error: 'NOMEM' }] } });
  const dev = GunyahDevice.open(emu.host);
  const vm = await dev.createVm();
  const mem = await dev.createGuestMem(4096);
  await vm.mapMem({ guestAddr: 0x8000_0000n, flags: GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX, mem, size: 4096n });
  await mem.writeAt(0, buildVmDtb({ vcpus: 1, memory: [{ base: 0x8000_0000n, size: 4096n }] }));
  await vm.setDtbConfig(0x8000_0000n, 4096n);
  const first = await errnoOf(vm.start());
  const second = await errnoOf(vm.start());
  await emu.shutdown(); // closes every fd (teardown from the status reached), then stops
  return { first, second, fired: emu.faults.fired };
}

/** MAP_MEM naming a closed fd: EINVAL in v17 (QUIRK K16), EBADF with the quirk off. */
export async function mapMemClosedFd(quirkOn: boolean): Promise<string> {
  const emu = createEmulator({ quirks: { k16MapMemBadFdEinval: quirkOn } });
  const dev = GunyahDevice.open(emu.host);
  const vm = await dev.createVm();
  const mem = await dev.createGuestMem(4096);
  await mem.close();
  const result = await errnoOf(vm.mapMem({ guestAddr: 0x8000_0000n, flags: GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX, mem, size: 4096n }));
  await emu.shutdown();
  return result;
}
