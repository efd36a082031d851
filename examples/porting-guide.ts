/**
 * The complete example of docs/porting-guide.md: a small VMM written against the raw HostProcess
 * contract only (open, ioctl with structs laid out by hand in user memory, mmap, eventfd,
 * read/write, close). It boots the holding-cell guest with one vCPU, registers an ioeventfd and
 * an irqfd, serves MMIO exits from a tiny device bus, and stops on the guest's STATUS exit.
 *
 * Reference: uapi.md §2 (request numbers), §3 (struct layouts), §4 (flags), §5 (run page),
 * §8.6 (MMIO exits), §8.10 (STATUS exits), §8.13–§8.14 (irqfd, ioeventfd); vmm-flows.md §2
 * (boot order), §5.1 (doorbell node, via buildVmDtb), §6 (holding-cell protocol).
 * test/docs/porting-guide-example.test.ts runs it.
 */
import { buildVmDtb, createEmulator, holdingCellImage, isErrnoError, isSigbusError, type Emulator, type HostLike } from '../src/index.js';

// ── uapi.md §2: request numbers ──────────────────────────────────────────────────────────────
const GUNYAH_CREATE_VM = 0x0000_4700;
const GUNYAH_VM_SET_DTB_CONFIG = 0x4010_4702;
const GUNYAH_VM_START = 0x0000_4703;
const GUNYAH_VM_ADD_FUNCTION = 0x4010_4704;
const GUNYAH_VCPU_RUN = 0x0000_4705;
const GUNYAH_VCPU_MMAP_SIZE = 0x0000_4706;
const GUNYAH_CREATE_GUEST_MEM = 0x4040_4708;
const GUNYAH_VM_MAP_MEM = 0x4020_4709;
const GUNYAH_VM_SET_BOOT_CONTEXT = 0x4010_470a;

// ── uapi.md §4: flags and enums ──────────────────────────────────────────────────────────────
const GUNYAH_FN_VCPU = 1;
const GUNYAH_FN_IRQFD = 2;
const GUNYAH_FN_IOEVENTFD = 3;
const GUNYAH_IOEVENTFD_FLAGS_DATAMATCH = 0x1;
const GUNYAH_MEM_FORCE_LEND = 0x1;
const GUNYAH_MEM_ALLOW_RWX = 0x70;
const GUNYAH_VCPU_EXIT_MMIO = 1;
const GUNYAH_VCPU_EXIT_STATUS = 2;
const PAGE = 4096;

// ── the holding-cell protocol (vmm-flows.md §6) ──────────────────────────────────────────────
const CMD_REG = 0x6000n; // read: command word, then arguments; write: the result
const EXCEPTION_REG = 0x7000n; // write: ESR, then FAR of a guest exception
const READ_ADDR = 2;
const WRITE_ADDR = 3;
const LOOPBACK = 4;
const SMCCC_HVC = 6;
const READ_IO = 8;
const WRITE_IO = 9;
const PSCI_SYSTEM_OFF = 0x8400_0008n;

// ── this VMM's devices ───────────────────────────────────────────────────────────────────────
const GUEST_BASE = 0x8000_0000n;
const DOORBELL_REG = 0x6_0000n; // an ioeventfd absorbs writes of KICK here
const KICK = 0xfeedn;
const STATUS_REG = 0x6_1000n; // reads answered by the VMM
const DOORBELL_LABEL = 1; // irqfd label = the bell-1 vdevice in the DT
const DOORBELL_SPI = 10;

/** A little-endian struct laid out by hand: [offset, size, value] per field. */
function struct(size: number, fields: ReadonlyArray<readonly [number, 2 | 4 | 8, number | bigint]>): Uint8Array {
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  for (const [off, len, value] of fields) {
    if (len === 8) v.setBigUint64(off, BigInt(value), true);
    else if (len === 4) v.setUint32(off, Number(value), true);
    else v.setUint16(off, Number(value), true);
  }
  return bytes;
}

/** ioctl(fd, request, &arg): the struct goes into user memory, the ioctl gets its address. */
async function ioctlPtr(host: HostLike, fd: number, request: number, arg: Uint8Array): Promise<number> {
  const ptr = host.malloc(arg.length);
  try {
    host.poke(ptr, arg);
    return await host.ioctl(fd, request, ptr);
  } finally {
    host.free(ptr);
  }
}

/** GUNYAH_VM_ADD_FUNCTION: gunyah_fn_desc {type, arg_size, arg} points at the function's own struct. */
async function addFunction(host: HostLike, vmFd: number, type: number, arg: Uint8Array): Promise<number> {
  const argPtr = host.malloc(arg.length);
  try {
    host.poke(argPtr, arg);
    return await ioctlPtr(host, vmFd, GUNYAH_VM_ADD_FUNCTION, struct(16, [[0, 4, type], [4, 4, arg.length], [8, 8, argPtr]]));
  } finally {
    host.free(argPtr);
  }
}

/** Write bytes into the guest-memory file through a mapping that is dropped again at once. */
async function writeGuestMem(host: HostLike, memFd: number, offset: number, bytes: Uint8Array): Promise<void> {
  const m = host.mmap(memFd, bytes.length, offset);
  m.write(0, bytes);
  await m.unmap();
}

const u64 = (v: bigint): Uint8Array => struct(8, [[0, 8, v]]);
/** A DataView over exactly these bytes: a Uint8Array may be a window into a larger buffer. */
const viewOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The STATUS arm of the run page (uapi.md §5). */
export interface StatusExit {
  readonly status: number;
  readonly exitType: number;
  readonly reasonSize: number;
}

export interface ExampleResult {
  readonly loopback: bigint;
  readonly readIo: bigint;
  /** Writes that reached the VMM's bus (the ioeventfd took the others). */
  readonly deviceWrites: ReadonlyArray<{ addr: bigint; data: bigint }>;
  /** The ioeventfd's counter after the guest wrote KICK. */
  readonly ioeventfdCount: bigint;
  /** The guest interrupts pending after the irqfd write (seen through emu.hyp). */
  readonly pendingIrqs: readonly number[];
  /** What a host read of lent, guest-touched memory raised. */
  readonly hostReadOfLentMemory: string;
  /** The guest still reads what it wrote there. */
  readonly guestReadBack: bigint;
  readonly statusExit: StatusExit;
  /** What GUNYAH_VM_START answers once the VM has exited. */
  readonly restartError: string;
  readonly exits: { mmio: number; status: number };
}

/** The VMM. It takes an emulator so a test can look inside afterwards; a VMM needs only `emu.host`. */
export async function portingGuideExample(emu: Emulator = createEmulator()): Promise<ExampleResult> {
  const host: HostLike = emu.host;

  // 1. /dev/gunyah, a VM, and guest memory: [image page][DTB page][stack page][data page].
  const dev = host.open('/dev/gunyah');
  const vm = await host.ioctl(dev, GUNYAH_CREATE_VM, 0);
  const memSize = 4 * PAGE;
  const dataPage = GUEST_BASE + 3n * BigInt(PAGE);
  const mem = await ioctlPtr(host, dev, GUNYAH_CREATE_GUEST_MEM, struct(64, [[0, 8, 0n], [8, 8, memSize]]));
  // gunyah_map_mem_args {guest_addr, flags, guest_mem_fd, offset, size}: lend, RWX.
  await ioctlPtr(host, vm, GUNYAH_VM_MAP_MEM, struct(32, [[0, 8, GUEST_BASE], [8, 4, GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX], [12, 4, mem], [16, 8, 0n], [24, 8, memSize]]));

  // 2. One vCPU and its run page.
  const vcpu = await addFunction(host, vm, GUNYAH_FN_VCPU, struct(4, [[0, 4, 0]]));
  const runSize = await host.ioctl(vcpu, GUNYAH_VCPU_MMAP_SIZE);
  const run = host.mmap(vcpu, runSize, 0);

  // 3. An irqfd (doorbell label 1) and an ioeventfd (writes of KICK to DOORBELL_REG, len 8).
  const irqEfd = host.eventfd(0, 0);
  await addFunction(host, vm, GUNYAH_FN_IRQFD, struct(16, [[0, 4, irqEfd], [4, 4, DOORBELL_LABEL], [8, 4, 0]]));
  const ioEfd = host.eventfd(0, 0);
  await addFunction(host, vm, GUNYAH_FN_IOEVENTFD, struct(32, [[0, 8, KICK], [8, 8, DOORBELL_REG], [16, 4, 8], [20, 4, ioEfd], [24, 4, GUNYAH_IOEVENTFD_FLAGS_DATAMATCH]]));

  // 4. DTB, image, boot context, start (vmm-flows.md §2 steps 7–12).
  const dtbStart = GUEST_BASE + BigInt(PAGE);
  const dtb = buildVmDtb({ vcpus: 1, memory: [{ base: GUEST_BASE, size: BigInt(memSize) }], doorbells: [{ label: DOORBELL_LABEL, line: DOORBELL_SPI }] });
  await writeGuestMem(host, mem, PAGE, dtb);
  await ioctlPtr(host, vm, GUNYAH_VM_SET_DTB_CONFIG, struct(16, [[0, 8, dtbStart], [8, 8, BigInt(dtb.length)]]));
  await writeGuestMem(host, mem, 0, holdingCellImage());
  await ioctlPtr(host, vm, GUNYAH_VM_SET_BOOT_CONTEXT, struct(16, [[0, 4, 0x100], [8, 8, GUEST_BASE]])); // PC
  await ioctlPtr(host, vm, GUNYAH_VM_SET_BOOT_CONTEXT, struct(16, [[0, 4, 0x201], [8, 8, dtbStart + 2n * BigInt(PAGE)]])); // SP_EL1
  await host.ioctl(vm, GUNYAH_VM_START);

  // 5. The vCPU loop. Reads of CMD_REG are served from `toGuest`, writes to it are results.
  const toGuest: bigint[] = [];
  const results: bigint[] = [];
  const deviceWrites: Array<{ addr: bigint; data: bigint }> = [];
  const exits = { mmio: 0, status: 0 };

  /** One GUNYAH_VCPU_RUN; returns the STATUS arm when the VM stopped. */
  async function runOnce(): Promise<StatusExit | undefined> {
    await host.ioctl(vcpu, GUNYAH_VCPU_RUN);
    const page = viewOf(run.read(0, 40));
    const reason = page.getUint32(8, true);
    if (reason === GUNYAH_VCPU_EXIT_STATUS) {
      exits.status++;
      return { status: page.getUint32(16, true), exitType: page.getUint16(20, true), reasonSize: page.getUint32(24, true) };
    }
    if (reason !== GUNYAH_VCPU_EXIT_MMIO) throw new Error(`unexpected exit_reason ${reason}`);
    exits.mmio++;
    const addr = page.getBigUint64(16, true);
    const len = page.getUint32(32, true);
    if (page.getUint8(36) !== 0) {
      const data = BigInt.asUintN(len * 8, page.getBigUint64(24, true));
      if (addr === CMD_REG) results.push(data);
      else if (addr === EXCEPTION_REG) throw new Error(`guest exception, ESR 0x${data.toString(16)}`);
      else deviceWrites.push({ addr, data });
    } else {
      const value = addr === CMD_REG ? toGuest.shift() : addr === STATUS_REG ? 0x600dn : undefined;
      if (value === undefined) throw new Error(`nothing to answer a read of 0x${addr.toString(16)}`);
      run.write(24, u64(value)); // mmio.data; resume_action stays 0 (HANDLED)
    }
    return undefined;
  }

  /** Queue a command (word: id | nargs << 8, then the arguments) and run until its result. */
  async function command(id: number, args: bigint[]): Promise<bigint> {
    toGuest.push(BigInt(id) | (BigInt(args.length) << 8n), ...args);
    const before = results.length;
    while (results.length === before) {
      const stopped = await runOnce();
      if (stopped) throw new Error(`VM stopped (status ${stopped.status})`);
    }
    return results[before]!;
  }

  const loopback = await command(LOOPBACK, [42n]);
  await command(WRITE_IO, [DOORBELL_REG, KICK]); // absorbed by the ioeventfd: no MMIO exit
  await command(WRITE_IO, [DOORBELL_REG, 0xbeefn]); // no match: an MMIO write exit
  const readIo = await command(READ_IO, [STATUS_REG]); // an MMIO read exit the VMM answers
  const ioeventfdCount = viewOf(await host.read(ioEfd, 8)).getBigUint64(0, true);

  // Ring the doorbell. The guest's interrupt controller is not visible to a VMM; the emulator's is.
  host.write(irqEfd, u64(1n));
  const vmid = (await emu.rm.control.inspect()).vms[0]!.vmid;
  const pendingIrqs = emu.hyp.vm(vmid).pendingInterrupts;

  // Lent memory: once the guest has the page, a host access through a mapping raises SIGBUS.
  // (The mapping was made while the page was still the host's: an mmap over a page the guest
  // holds fails with EBUSY instead.)
  const view = host.mmap(mem, PAGE, 3 * PAGE);
  await command(WRITE_ADDR, [dataPage, 0x5eedn]);
  let hostReadOfLentMemory = 'readable';
  try {
    view.read(0, 8);
  } catch (err) {
    if (!isSigbusError(err)) throw err;
    hostReadOfLentMemory = err.name;
  }
  await view.unmap();
  const guestReadBack = await command(READ_ADDR, [dataPage]);

  // 6. The guest powers off: PSCI SYSTEM_OFF writes no result; the next exit is STATUS.
  toGuest.push(BigInt(SMCCC_HVC) | (5n << 8n), PSCI_SYSTEM_OFF, 0n, 0n, 0n, 0n);
  let statusExit: StatusExit | undefined;
  while (statusExit === undefined) statusExit = await runOnce();

  // A VM that has exited cannot be started again: errno ENODEV.
  let restartError = 'none';
  try {
    await host.ioctl(vm, GUNYAH_VM_START);
  } catch (err) {
    if (!isErrnoError(err)) throw err;
    restartError = err.code;
  }

  // 7. Close everything; the last reference to the VM tears it down.
  await run.unmap();
  for (const fd of [vcpu, irqEfd, ioEfd, mem, vm, dev]) await host.close(fd);
  return { loopback, readIo, deviceWrites, ioeventfdCount, pendingIrqs, hostReadOfLentMemory, guestReadBack, statusExit, restartError, exits };
}
