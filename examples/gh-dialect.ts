/**
 * A small VMM for the `gh_` (v14 / Android) dialect, written against the raw HostProcess contract
 * in crosvm's order: its RAM is its own anonymous memory, lent to the VM with
 * GH_VM_ANDROID_LEND_USER_MEM; it asks GH_VM_CHECK_EXTENSION whether vCPU timer wakeups exist,
 * tolerates ENOTTY from SET_BOOT_CONTEXT (its payload is at offset 0 of RAM), never calls
 * GH_VM_START (the first GH_VCPU_RUN starts the VM), maps the run page at 4096 bytes as QEMU does,
 * and completes MMIO reads by leaving the value in `mmio.data` (there is no resume_action).
 *
 * Reference: README.md §Dialects (the table of gh_ differences); vmm-flows.md §3 (crosvm's gh_
 * order), §4 (QEMU: run page 4096, Q16), §6 (holding-cell protocol), §9 Q1 (RUN starts the VM),
 * Q12 (lent memory is SIGBUS to the host), Q14 (ENOTTY from SET_BOOT_CONTEXT);
 * docs/gh-dialect.md (what the emulated gh_ kernel covers); docs/decisions.md B13 (the RM enters
 * the image with X0 = the DTB's address), GV2 (RUN after the VM stopped is ENODEV).
 * test/docs/gh-dialect-example.test.ts runs it.
 */
import { buildVmDtb, createEmulator, holdingCellImage, isErrnoError, isSigbusError, type Emulator, type HostProcess } from '../src/index.js';

// ── README.md §Dialects: gh_ request numbers ('G' 0x47, Android 'A' 0x41) ──────────────────────
const GH_CREATE_VM = 0x0000_4700;
const GH_VM_SET_DTB_CONFIG = 0x4010_4702;
const GH_VM_ADD_FUNCTION = 0x4010_4704;
const GH_VCPU_RUN = 0x0000_4705;
const GH_VM_SET_BOOT_CONTEXT = 0x4010_470a; // crosvm's own definition; absent from v14 kernels
const GH_VM_ANDROID_LEND_USER_MEM = 0x4020_4111;
const GH_VM_CHECK_EXTENSION = 0x0000_4117;

const GH_CAP_VCPU_TIMER_WAKEUP = 0;
const GH_FN_VCPU = 1;
const GH_FN_IRQFD = 2;
const GH_FN_IOEVENTFD = 3;
const GH_IOEVENTFD_DATAMATCH = 0x1;
const GH_MEM_ALLOW_RWX = 0x1 | 0x2 | 0x4; // gh_ flag bits: READ 0x1, WRITE 0x2, EXEC 0x4
const GH_VCPU_EXIT_MMIO = 1;
const GH_VCPU_EXIT_STATUS = 2;
const PAGE = 4096;

// ── the holding-cell protocol (vmm-flows.md §6) ──────────────────────────────────────────────
const CMD_REG = 0x6000n;
const EXCEPTION_REG = 0x7000n;
const WRITE_ADDR = 3;
const LOOPBACK = 4;
const SMCCC_HVC = 6;
const READ_IO = 8;
const WRITE_IO = 9;
const PSCI_SYSTEM_OFF = 0x8400_0008n;

// ── this VMM's machine ───────────────────────────────────────────────────────────────────────
const RAM_BASE = 0x8000_0000n; // [image][DTB][free][data]
const RAM_SIZE = 4 * PAGE;
const DOORBELL_REG = 0x6_0000n;
const KICK = 0xfeedn;
const STATUS_REG = 0x6_1000n;

/** A little-endian struct laid out by hand: [offset, size, value] per field. */
function struct(size: number, fields: ReadonlyArray<readonly [number, 4 | 8, number | bigint]>): Uint8Array {
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  for (const [off, len, value] of fields) {
    if (len === 8) v.setBigUint64(off, BigInt(value), true);
    else v.setUint32(off, Number(value), true);
  }
  return bytes;
}

/** ioctl(fd, request, &arg) with the struct in user memory. */
async function ioctlPtr(host: HostProcess, fd: number, request: number, arg: Uint8Array): Promise<number> {
  const ptr = host.malloc(arg.length);
  try {
    host.poke(ptr, arg);
    return await host.ioctl(fd, request, ptr);
  } finally {
    host.free(ptr);
  }
}

/** GH_VM_ADD_FUNCTION: gh_fn_desc {type, arg_size, arg} pointing at the function's struct. */
async function addFunction(host: HostProcess, vmFd: number, type: number, arg: Uint8Array): Promise<number> {
  const argPtr = host.malloc(arg.length);
  try {
    host.poke(argPtr, arg);
    return await ioctlPtr(host, vmFd, GH_VM_ADD_FUNCTION, struct(16, [[0, 4, type], [4, 4, arg.length], [8, 8, argPtr]]));
  } finally {
    host.free(argPtr);
  }
}

const u64 = (v: bigint): Uint8Array => struct(8, [[0, 8, v]]);
const viewOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const errnoOf = (err: unknown): string => {
  if (!isErrnoError(err)) throw err;
  return err.code;
};

export interface GhExampleResult {
  /** GH_VM_CHECK_EXTENSION(GH_CAP_VCPU_TIMER_WAKEUP). */
  readonly timerWakeups: number;
  /** What SET_BOOT_CONTEXT answered (the v14 driver has no such ioctl). */
  readonly bootContext: string;
  readonly loopback: bigint;
  readonly readIo: bigint;
  readonly ioeventfdCount: bigint;
  /** What a host read of the lent RAM raised while the VM ran. */
  readonly hostReadWhileLent: string;
  /** `exit_info.type` of the STATUS exit (1 = PLATFORM_OFF). */
  readonly exitType: number;
  /** GH_VCPU_RUN after the VM stopped. */
  readonly runAfterExit: string;
  /** The data page read by the host once every fd is closed: the RAM is the host's again. */
  readonly dataAfterTeardown: bigint;
}

export async function ghDialectExample(emu: Emulator = createEmulator({ dialect: 'gh' })): Promise<GhExampleResult> {
  const host = emu.host;

  // 1. The VM (its VMID exists from here on) and the VMM's own RAM.
  const dev = host.open('/dev/gunyah');
  const vm = await host.ioctl(dev, GH_CREATE_VM, 0);
  const ram = host.mmapAnonymous(RAM_SIZE);
  const dtbStart = RAM_BASE + BigInt(PAGE);
  const dtb = buildVmDtb({ vcpus: 1, memory: [{ base: RAM_BASE, size: BigInt(RAM_SIZE) }], doorbells: [{ label: 1, line: 10 }] });
  ram.write(0, holdingCellImage());
  ram.write(PAGE, dtb);

  // 2. Devices, then the vCPU with its run page (4096 bytes, without asking: QEMU's habit).
  const irqEfd = host.eventfd(0, 0);
  await addFunction(host, vm, GH_FN_IRQFD, struct(16, [[0, 4, irqEfd], [4, 4, 1], [8, 4, 0]]));
  const ioEfd = host.eventfd(0, 0);
  await addFunction(host, vm, GH_FN_IOEVENTFD, struct(32, [[0, 8, KICK], [8, 8, DOORBELL_REG], [16, 4, 8], [20, 4, ioEfd], [24, 4, GH_IOEVENTFD_DATAMATCH]]));
  const vcpu = await addFunction(host, vm, GH_FN_VCPU, struct(4, [[0, 4, 0]]));
  const run = host.mmap(vcpu, PAGE, 0);

  // 3. crosvm's set-up calls: the capability probe and the RAM lend (label = slot 0).
  const timerWakeups = await host.ioctl(vm, GH_VM_CHECK_EXTENSION, GH_CAP_VCPU_TIMER_WAKEUP);
  // gh_userspace_memory_region {label, flags, guest_phys_addr, memory_size, userspace_addr}.
  await ioctlPtr(host, vm, GH_VM_ANDROID_LEND_USER_MEM, struct(32, [[0, 4, 0], [4, 4, GH_MEM_ALLOW_RWX], [8, 8, RAM_BASE], [16, 8, RAM_SIZE], [24, 8, ram.addr]]));
  await ioctlPtr(host, vm, GH_VM_SET_DTB_CONFIG, struct(16, [[0, 8, dtbStart], [8, 8, BigInt(dtb.length)]]));
  let bootContext = 'accepted';
  try {
    await ioctlPtr(host, vm, GH_VM_SET_BOOT_CONTEXT, struct(16, [[0, 4, 0x100], [8, 8, RAM_BASE]]));
  } catch (err) {
    bootContext = errnoOf(err); // ENOTTY: fine, the payload is at offset 0 of RAM
  }

  // 4. The vCPU loop. No GH_VM_START: the first RUN starts the VM.
  const toGuest: bigint[] = [];
  const results: bigint[] = [];
  let exitType: number | undefined;
  async function runOnce(): Promise<void> {
    await host.ioctl(vcpu, GH_VCPU_RUN);
    const page = viewOf(run.read(0, 40));
    const reason = page.getUint32(8, true);
    if (reason === GH_VCPU_EXIT_STATUS) {
      exitType = page.getUint16(20, true);
      return;
    }
    if (reason !== GH_VCPU_EXIT_MMIO) throw new Error(`unexpected exit_reason ${reason}`);
    const addr = page.getBigUint64(16, true);
    const len = page.getUint32(32, true);
    if (page.getUint8(36) !== 0) {
      const data = BigInt.asUintN(len * 8, page.getBigUint64(24, true));
      if (addr === CMD_REG) results.push(data);
      else if (addr === EXCEPTION_REG) throw new Error(`guest exception, ESR 0x${data.toString(16)}`);
      return; // a write: nothing to complete, the next RUN resumes the guest
    }
    const value = addr === CMD_REG ? toGuest.shift() : addr === STATUS_REG ? 0x600dn : undefined;
    if (value === undefined) throw new Error(`nothing to answer a read of 0x${addr.toString(16)}`);
    run.write(24, u64(value)); // mmio.data: the next RUN hands it to the guest
  }
  async function command(id: number, args: bigint[]): Promise<bigint> {
    toGuest.push(BigInt(id) | (BigInt(args.length) << 8n), ...args);
    const before = results.length;
    while (results.length === before) {
      await runOnce();
      if (exitType !== undefined) throw new Error('the VM stopped');
    }
    return results[before]!;
  }

  const loopback = await command(LOOPBACK, [42n]);
  await command(WRITE_IO, [DOORBELL_REG, KICK]); // the ioeventfd takes it: no exit
  const readIo = await command(READ_IO, [STATUS_REG]);
  const ioeventfdCount = viewOf(await host.read(ioEfd, 8)).getBigUint64(0, true);
  await command(WRITE_ADDR, [RAM_BASE + 3n * BigInt(PAGE), 0x5eedn]);

  // 5. The RAM is lent: while the VM runs, the host's own pointer into it faults.
  let hostReadWhileLent = 'readable';
  try {
    ram.read(3 * PAGE, 8);
  } catch (err) {
    if (!isSigbusError(err)) throw err;
    hostReadWhileLent = err.name;
  }

  // 6. Power off: a STATUS exit; the VM is no longer running, so RUN is ENODEV.
  toGuest.push(BigInt(SMCCC_HVC) | (5n << 8n), PSCI_SYSTEM_OFF, 0n, 0n, 0n, 0n);
  while (exitType === undefined) await runOnce();
  let runAfterExit = 'ran';
  try {
    await host.ioctl(vcpu, GH_VCPU_RUN);
  } catch (err) {
    runAfterExit = errnoOf(err);
  }

  // 7. Close every fd: the teardown reclaims the parcel and unpins the RAM, which is the host's
  // again, with what the guest wrote in it.
  await run.unmap();
  for (const fd of [vcpu, irqEfd, ioEfd, vm, dev]) await host.close(fd);
  const dataAfterTeardown = viewOf(ram.read(3 * PAGE, 8)).getBigUint64(0, true);
  await ram.unmap();
  return { timerWakeups, bootContext, loopback, readIo, ioeventfdCount, hostReadWhileLent, exitType: exitType!, runAfterExit, dataAfterTeardown };
}
