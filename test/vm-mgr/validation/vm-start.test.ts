/**
 * VM fd validation rows for the start configuration and START, end to end through the raw
 * HostProcess contract: SET_DTB_CONFIG, SET_BOOT_CONTEXT, START (each failing start step),
 * unknown requests on the VM fd, and EBADF after close.
 *
 * Reference: uapi.md §3 (`gunyah_vm_dtb_config`, `gunyah_vm_boot_context`), §6.2 (VM fd rows
 * SET_DTB_CONFIG, START, SET_BOOT_CONTEXT, any other nr), §8.2 (start steps and the status
 * each failure leaves), §9 (QUIRKs K1, K4, K5, K12 as the rows name them); rm-rpc.md §12.3
 * (VM_SET_BOOT_CONTEXT payload: vmid @0 u16, reg_set @2 u8, reg_index @3 u8, value @8 u64),
 * §14.1 (RM error → errno).
 */
import { describe, expect, it } from 'vitest';
import { createMemoryTraceSink } from '../../../src/shared/trace.js';
import { guestProgram } from '../../../src/guest/index.js';
import {
  EXIT_STATUS,
  GUEST_BASE,
  MEM_LEND,
  MEM_RWX,
  PAGE,
  REG_PC,
  REG_SP_EL1,
  REG_X0,
  REQ,
  bootContext,
  dtbConfig,
  errnoOf,
  expectErrno,
  finish,
  ioc,
  type Leftovers,
  rawBoot,
  readRunPage,
  rmCallsOf,
  turns,
} from '../support/raw.js';

const VM_SET_BOOT_CONTEXT_ID = 0x5600_0031;

/** The (set, index, value) triples of the VM_SET_BOOT_CONTEXT calls, in order (rm-rpc.md §12.3). */
function bootContextCalls(events: ReadonlyArray<{ kind: string; [k: string]: unknown }>): Array<[number, number, bigint]> {
  return rmCallsOf(events, VM_SET_BOOT_CONTEXT_ID).map((p) => {
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    return [v.getUint8(2), v.getUint8(3), v.getBigUint64(8, true)];
  });
}

describe('uapi.md §6.2 SET_DTB_CONFIG', () => {
  it.each([
    ['a null pointer', 0],
    ['a 15-byte allocation', 15],
  ])('SET_DTB_CONFIG: copy fails (%s) → EFAULT', async (_what, len) => {
    const b = await rawBoot({ noStart: true });
    const ptr = len === 0 ? 0n : b.raw.put(dtbConfig(GUEST_BASE, PAGE).subarray(0, len));
    await expectErrno(b.host.ioctl(b.vm, REQ.VM_SET_DTB_CONFIG, ptr), 'EFAULT');
    // The earlier configuration stands: the VM still starts.
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    await finish(b.emu);
  });

  it('SET_DTB_CONFIG: gpa + size overflows u64 → 0 (the -EOVERFLOW check never fires, QUIRK K1)', async () => {
    const b = await rawBoot({ noStart: true });
    await expect(b.raw.setDtbConfig(b.vm, 0xffff_ffff_ffff_f000n, 0x2000)).resolves.toBe(0);
    await finish(b.emu);
  });

  it('SET_DTB_CONFIG: any VM state, before start → stored unvalidated (size 0 accepted; START then fails with EINVAL)', async () => {
    const b = await rawBoot({ noStart: true });
    await expect(b.raw.setDtbConfig(b.vm, 0x1234, 0)).resolves.toBe(0);
    await expectErrno(b.raw.start(b.vm), 'EINVAL');
    await finish(b.emu);
  });

  it('SET_DTB_CONFIG: any VM state, after start → 0, and the value has no effect', async () => {
    const trace = createMemoryTraceSink();
    const b = await rawBoot({ emulator: { trace } });
    const calls = trace.events.filter((e) => e.kind === 'rm.call').length;
    await expect(b.raw.setDtbConfig(b.vm, 0, 0)).resolves.toBe(0);
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    expect(trace.events.filter((e) => e.kind === 'rm.call').length).toBe(calls);
    await finish(b.emu);
  });
});

describe('uapi.md §6.2 START', () => {
  it('START: status NO_STATE → runs the start sequence (§8.2) and returns 0; the VM is RUNNING', async () => {
    const b = await rawBoot({ noStart: true });
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    const rm = await b.emu.rm.control.inspect();
    expect(rm.vms.filter((v) => v.vmid !== 3).map((v) => v.stateName)).toEqual(['RUNNING']);
    await finish(b.emu);
  });

  it.each([
    ['step 4: no DTB config (0 pages)', 'EINVAL', 'none'],
    ['step 4: DTB size under one page', 'EINVAL', 'short'],
    ['step 5: DTB range not in any binding', 'ENOENT', 'unbound'],
    ['step 5: DTB range runs past its binding', 'ENOENT', 'past'],
    ['step 5: a lend DTB page is mapped by userspace', 'EPERM', 'mapped'],
  ])('START: status NO_STATE, %s → %s', async (_what, code, kind) => {
    const b = await rawBoot({ noStart: true });
    if (kind === 'none') {
      // A fresh VM with memory but no DTB config.
      const vm = await b.raw.createVm(b.dev);
      await expectErrno(b.raw.start(vm), code);
    } else {
      if (kind === 'short') await b.raw.setDtbConfig(b.vm, b.dtbStart, PAGE - 1);
      if (kind === 'unbound') await b.raw.setDtbConfig(b.vm, 0x1000_0000n, PAGE);
      if (kind === 'past') await b.raw.setDtbConfig(b.vm, GUEST_BASE + BigInt(b.memSize - PAGE), 2 * PAGE);
      const m = kind === 'mapped' ? b.host.mmap(b.mem, PAGE, Number(b.dtbStart - GUEST_BASE)) : undefined;
      if (m) m.read(0, 8); // the page is mapped and touched by the host
      await expectErrno(b.raw.start(b.vm), code);
    }
    await finish(b.emu);
  });

  // Each RM call of the sequence failing. What stays behind is what v17 leaves: after a
  // failure in LOAD (RM already past LOAD) VM_DEALLOCATE is refused and the VMID stays
  // allocated (rm-rpc.md §18). After one in READY nothing stays: the RM accepts the DTB parcel
  // for the VM only in its VM_START handler (docs/decisions.md B3), so the parcel's MEM_RECLAIM
  // (teardown step 2, before the reset) succeeds.
  const IN_INIT: Leftovers = { rmVms: ['INIT'] };
  it.each([
    ['step 3 VM_ALLOC_VMID', 'NORESOURCE', 'ENODEV', 0x5600_0001, {}],
    ['step 5 MEM_LEND', 'NOMEM', 'ENOMEM', 0x5100_0012, {}],
    ['step 6 VM_CONFIG_IMAGE', 'ARGUMENT_INVALID', 'EINVAL', 0x5600_0009, {}],
    ['step 7 VM_SET_DEMAND_PAGING', 'BUSY', 'EBUSY', 0x5600_0033, IN_INIT],
    ['step 8 VM_SET_ADDRESS_LAYOUT', 'DENIED', 'EPERM', 0x5600_0034, IN_INIT],
    ['step 10 VM_SET_BOOT_CONTEXT', 'UNIMPLEMENTED', 'EOPNOTSUPP', 0x5600_0031, {}],
    ['step 11 VM_GET_HYP_RESOURCES', 'BUSY', 'EBUSY', 0x5600_0020, {}],
    ['step 13 VM_START', 'NORESOURCE', 'ENODEV', 0x5600_0004, {}],
  ] as Array<[string, string, string, number, Leftovers]>)('START: status NO_STATE, %s fails (RM %s) → %s', async (_what, error, code, msgId, left) => {
    const b = await rawBoot({ noStart: true, emulator: { faults: { rm: [{ msgId, error }] } } });
    await expectErrno(b.raw.start(b.vm), code);
    expect(b.emu.faults.fired.map((f) => f.what)).toEqual([`0x${msgId.toString(16)}`]);
    await finish(b.emu, left);
  });

  it('START: status NO_STATE, step 6 VM_CONFIG_IMAGE refused by the RM (DT range outside the parcel) → EINVAL', async () => {
    // dtb_size = config.size, the parcel only its whole pages: the RM refuses and goes
    // INIT_FAILED while Linux stays LOAD, so the VMID stays allocated (rm-rpc.md §18).
    const b = await rawBoot({ noStart: true });
    await b.raw.setDtbConfig(b.vm, b.dtbStart, PAGE + 8);
    await expectErrno(b.raw.start(b.vm), 'EINVAL');
    await finish(b.emu, { rmVms: ['INIT_FAILED'] });
  });

  it('START: status NO_STATE, step 9 VM_INIT refused by the RM (more vCPUs than cores) → ENODEV', async () => {
    const b = await rawBoot({ vcpus: 2, noStart: true, emulator: { cpus: 1 } });
    await expectErrno(b.raw.start(b.vm), 'ENODEV');
    await finish(b.emu);
  });

  it('START: step 3 (VM_ALLOC_VMID) failed → status stays NO_STATE, so a retry runs the sequence again', async () => {
    const b = await rawBoot({ noStart: true, emulator: { faults: { rm: [{ msgId: 0x5600_0001, error: 'NORESOURCE' }] } } });
    await expectErrno(b.raw.start(b.vm), 'ENODEV');
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    await finish(b.emu);
  });

  it('START: already RUNNING → 0', async () => {
    const b = await rawBoot();
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    await finish(b.emu);
  });

  it('START: status not RUNNING after an earlier failed start → ENODEV, forever (QUIRK K12)', async () => {
    const b = await rawBoot({ noStart: true });
    await b.raw.setDtbConfig(b.vm, 0x1000_0000n, PAGE);
    await expectErrno(b.raw.start(b.vm), 'ENOENT');
    await b.raw.setDtbConfig(b.vm, b.dtbStart, PAGE);
    await expectErrno(b.raw.start(b.vm), 'ENODEV');
    await expectErrno(b.raw.start(b.vm), 'ENODEV');
    await finish(b.emu);
  });

  it('START: status not RUNNING after the VM exited → ENODEV', async () => {
    const b = await rawBoot({ image: guestProgram().systemOff().build() });
    const run = await b.raw.mapRun(b.vcpus[0]!);
    await expect(b.raw.run(b.vcpus[0]!)).resolves.toBe(0);
    expect(readRunPage(run).exitReason).toBe(EXIT_STATUS);
    await expectErrno(b.raw.start(b.vm), 'ENODEV');
    await finish(b.emu);
  });
});

describe('uapi.md §6.2 SET_BOOT_CONTEXT', () => {
  it.each([
    ['a null pointer', 0],
    ['an 8-byte allocation', 8],
  ])('SET_BOOT_CONTEXT: copy fails (%s) → EFAULT', async (_what, len) => {
    const b = await rawBoot({ noStart: true });
    const ptr = len === 0 ? 0n : b.raw.put(bootContext(REG_X0, 1).subarray(0, len));
    await expectErrno(b.host.ioctl(b.vm, REQ.VM_SET_BOOT_CONTEXT, ptr), 'EFAULT');
    await finish(b.emu);
  });

  it.each([
    ['set X and index 32', 0x020],
    ['set X and index 255', 0x0ff],
    ['set PC and index 1', 0x101],
    ['set SP and index 3', 0x203],
    ['set 3 (any other set)', 0x300],
    ['set 0xff', 0xff00],
  ])('SET_BOOT_CONTEXT: %s → EINVAL', async (_what, reg) => {
    const b = await rawBoot({ noStart: true });
    await expectErrno(b.raw.setBootContext(b.vm, reg, 0x1000), 'EINVAL');
    await finish(b.emu);
  });

  it.each([
    ['X0', 0x000],
    ['X31', 0x01f],
    ['PC', 0x100],
    ['SP index 0', 0x200],
    ['SP index 2', 0x202],
  ])('SET_BOOT_CONTEXT: valid register %s → 0', async (_what, reg) => {
    const b = await rawBoot({ noStart: true });
    await expect(b.raw.setBootContext(b.vm, reg, 0x1000)).resolves.toBe(0);
    await finish(b.emu);
  });

  it('SET_BOOT_CONTEXT: VM status ≠ NO_STATE (started) → EINVAL', async () => {
    const b = await rawBoot();
    await expectErrno(b.raw.setBootContext(b.vm, REG_X0, 0x1000), 'EINVAL');
    await finish(b.emu);
  });

  it('SET_BOOT_CONTEXT: VM status ≠ NO_STATE (start attempted and failed) → EINVAL', async () => {
    const b = await rawBoot({ noStart: true, emulator: { faults: { rm: [{ msgId: 0x5600_0009, error: 'NOMEM' }] } } });
    await expectErrno(b.raw.start(b.vm), 'ENOMEM');
    await expectErrno(b.raw.setBootContext(b.vm, REG_X0, 0x1000), 'EINVAL');
    await finish(b.emu);
  });

  it.each([2n, 6n, 0x3fen, 1026n])('SET_BOOT_CONTEXT: value 0x%s has low bits 0b10 and is ≤ 1026 → EINVAL (QUIRK K5)', async (value) => {
    const b = await rawBoot({ noStart: true });
    await expectErrno(b.raw.setBootContext(b.vm, REG_X0, value), 'EINVAL');
    await finish(b.emu);
  });

  it('SET_BOOT_CONTEXT: value == 0 → 0, but the entry is erased and nothing is sent (QUIRK K4)', async () => {
    const trace = createMemoryTraceSink();
    const b = await rawBoot({ noStart: true, emulator: { trace } });
    await expect(b.raw.setBootContext(b.vm, REG_X0, 0x55)).resolves.toBe(0);
    await expect(b.raw.setBootContext(b.vm, REG_X0, 0)).resolves.toBe(0);
    await expect(b.raw.setBootContext(b.vm, 0x005, 0)).resolves.toBe(0);
    await b.raw.start(b.vm);
    expect(bootContextCalls(trace.events)).toEqual([
      [1, 0, GUEST_BASE],
      [2, 1, b.dtbStart + 8192n],
    ]);
    await finish(b.emu);
  });

  it('SET_BOOT_CONTEXT: ok → each entry is sent at start in ascending reg order (§8.2 step 10)', async () => {
    const trace = createMemoryTraceSink();
    const b = await rawBoot({ noStart: true, noBootRegs: true, emulator: { trace } });
    await b.raw.setBootContext(b.vm, REG_SP_EL1, b.dtbStart + 8192n);
    await b.raw.setBootContext(b.vm, 0x01f, 0x1f1f);
    await b.raw.setBootContext(b.vm, REG_PC, GUEST_BASE);
    await b.raw.setBootContext(b.vm, REG_X0, 0x1234);
    await b.raw.setBootContext(b.vm, REG_PC, GUEST_BASE); // replaces, not added
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    expect(bootContextCalls(trace.events)).toEqual([
      [0, 0, 0x1234n],
      [0, 31, 0x1f1fn],
      [1, 0, GUEST_BASE],
      [2, 1, b.dtbStart + 8192n],
    ]);
    await finish(b.emu);
  });
});

describe('uapi.md §6.2 VM fd: any other nr, and after close', () => {
  it.each([
    ['CREATE_VM (a /dev/gunyah request)', REQ.CREATE_VM],
    ['CREATE_GUEST_MEM (a /dev/gunyah request)', REQ.CREATE_GUEST_MEM],
    ['VCPU_RUN (a vCPU fd request)', REQ.VCPU_RUN],
    ['VCPU_MMAP_SIZE (a vCPU fd request)', REQ.VCPU_MMAP_SIZE],
    ['nr 0x1 (gh_ GH_VM_SET_USER_MEM_REGION)', ioc(1, 0x1, 32)],
    ['SET_DTB_CONFIG with size field 24', ioc(1, 0x2, 24)],
    ['MAP_MEM with size field 40', ioc(1, 0x9, 40)],
    ['START as _IOW 4', ioc(1, 0x3, 4)],
    ['nr 0xb', ioc(0, 0xb, 0)],
  ])('VM fd: %s → ENOTTY', async (_what, req) => {
    const b = await rawBoot({ noStart: true });
    await expectErrno(b.host.ioctl(b.vm, req, b.raw.put(new Uint8Array(64))), 'ENOTTY');
    await finish(b.emu);
  });

  it('VM fd: ioctl after close → EBADF; the vCPU fd keeps the VM alive until it is closed', async () => {
    const b = await rawBoot({ noStart: true });
    await b.host.close(b.vm);
    for (const req of [REQ.VM_START, REQ.VM_SET_DTB_CONFIG, REQ.VM_MAP_MEM, REQ.VM_ADD_FUNCTION, REQ.VM_REMOVE_FUNCTION, REQ.VM_SET_BOOT_CONTEXT]) {
      expect(await errnoOf(b.host.ioctl(b.vm, req, b.raw.put(new Uint8Array(64))))).toBe('EBADF');
    }
    expect(b.emu.kernel.liveVms).toBe(1);
    await b.host.close(b.vcpus[0]!);
    await turns();
    expect(b.emu.kernel.liveVms).toBe(0);
    await finish(b.emu);
  });
});
