/**
 * The typed layer of docs/porting-guide.md: the same holding-cell boot as
 * examples/porting-guide.ts, written with src/vmm (GunyahDevice, VmFd, VcpuFd, GuestMemFd),
 * which issues the same ioctls with the same struct bytes.
 *
 * Reference: vmm-flows.md §2 (boot order), §6.5 (one command), §6.6 (power_off); uapi.md §5
 * (the run page VcpuFd decodes). test/docs/porting-guide-example.test.ts runs it.
 */
import { GUNYAH_MEM_ALLOW_RWX, GUNYAH_MEM_FORCE_LEND, GunyahDevice, buildVmDtb, createEmulator, holdingCellImage, type Emulator } from '../src/index.js';

export async function typedLayerExample(emu: Emulator = createEmulator()): Promise<{ loopback: bigint; status: number; exitType: number }> {
  const base = 0x8000_0000n;
  const dev = GunyahDevice.open(emu.host);
  const vm = await dev.createVm();
  const mem = await dev.createGuestMem(3 * 4096); // image, DTB, stack
  await vm.mapMem({ guestAddr: base, flags: GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX, mem, size: 3n * 4096n });
  const vcpu = await vm.addVcpu(0); // ADD_FUNCTION, VCPU_MMAP_SIZE and mmap of the run page
  await mem.writeAt(4096, buildVmDtb({ vcpus: 1, memory: [{ base, size: 3n * 4096n }] }));
  await vm.setDtbConfig(base + 4096n, 4096n);
  await mem.writeAt(0, holdingCellImage());
  await vm.setBootContext(0x100, base); // PC
  await vm.setBootContext(0x201, base + 3n * 4096n); // SP_EL1 = DTB + 8 KiB
  await vm.start();

  // One command: the word (LOOPBACK = 4, one argument), the argument, then the result write.
  const next = async (): Promise<{ physAddr: bigint; data: bigint; isWrite: boolean }> => {
    const exit = await vcpu.run();
    if (exit.kind !== 'mmio') throw new Error(`unexpected ${exit.kind} exit`);
    return exit.mmio;
  };
  await next(); // read of 0x6000: the command word
  vcpu.setMmioData(4n | (1n << 8n));
  await next(); // read of 0x6000: the argument
  vcpu.setMmioData(42n);
  const loopback = (await next()).data; // write of 0x6000: the result

  // power_off: SMCCC_HVC (6) with five arguments, PSCI SYSTEM_OFF first.
  await next();
  vcpu.setMmioData(6n | (5n << 8n));
  for (const arg of [0x8400_0008n, 0n, 0n, 0n, 0n]) {
    await next();
    vcpu.setMmioData(arg);
  }
  const exit = await vcpu.run();
  if (exit.kind !== 'status') throw new Error(`unexpected ${exit.kind} exit`);

  await vcpu.close(); // munmap + close
  await mem.close();
  await vm.close();
  await dev.close();
  return { loopback, status: exit.status.status, exitType: exit.status.exitType };
}
