/**
 * Test support: the VMM side of a virtio-scmi device on Gunyah, as a VMM written against the
 * library would do it (scmi-virtio.md §11): a virtio-mmio register window (VirtioMmioRegisters)
 * behind the guest's MMIO exits; at DRIVER_OK two eventfds, an ioeventfd on QueueNotify (len 4)
 * with the kick eventfd, an irqfd (its doorbell in the VM's DTB) with the call eventfd, and
 * ADD_FUNCTION(GUNYAH_FN_SCMI) with the cmdq configuration from the window's `queue-ready` event.
 * A Status = 0 write after that removes the function and the eventfd functions again.
 *
 * Completion interrupts: the function signals the call eventfd and the irqfd rings the doorbell
 * (the kernel never reads that counter, uapi.md §8.13). The register window's InterruptStatus
 * belongs to the VMM, which learns of completions by reading the call eventfd (non-blocking)
 * when the guest reads InterruptStatus: a non-zero count sets USED_BUFFER.
 *
 * Also: booting a guest program with a ring region mapped FORCE_SHARE (or lent, to test the
 * refusal), closing one VM's fds, and the clean-shutdown check with the SCMI backend's part.
 *
 * Reference: scmi-virtio.md §1 (register map), §2 (status), §5, §11; uapi.md §8.13, §8.14;
 * docs/scmi.md (the request sequence); vmm-flows.md §2 (boot, via bootHoldingCell).
 */
import { expect } from 'vitest';
import type { Emulator, EmulatorOptions } from '../../../../src/emulator.js';
import { createEmulator } from '../../../../src/emulator.js';
import type { GuestProgramBuilder } from '../../../../src/guest/index.js';
import { EFD_NONBLOCK } from '../../../../src/host/eventfd.js';
import { isErrnoError } from '../../../../src/shared/errno.js';
import type { ResourceKind } from '../../../../src/scmi/api.js';
import type { ScmiFunctionInstance } from '../../../../src/functions/scmi-function.js';
import {
  VirtioMmioReg,
  VirtioMmioRegisters,
  scmiVirtioMmioOptions,
  type VirtioMmioQueueConfig,
} from '../../../../src/virtio/index.js';
import {
  GUNYAH_FN_SCMI,
  GUNYAH_MEM_ALLOW_RWX,
  GUNYAH_MEM_FORCE_LEND,
  GUNYAH_MEM_FORCE_SHARE,
  encodeFnScmiArg,
  type RunPage,
  type RunPageMmio,
} from '../../../../src/vm-mgr/uapi/index.js';
import type { GuestMemFd, VcpuFd, VmFd } from '../../../../src/vmm/index.js';
import { bootHoldingCell, expectCleanShutdown, type BootedVm } from '../../../vm-mgr/support/boot.js';
import { kernelVm } from '../../../vm-mgr/support/programs.js';

/** The virtio-mmio window (not RAM: every access is an MMIO exit or an ioeventfd hit). */
export const MMIO_BASE = 0x1000_0000n;
/** Size of the window the VMM answers (registers and the empty config space). */
export const MMIO_SIZE = 0x200n;
/** Where the ring region is mapped (FORCE_SHARE unless told otherwise). */
export const RING_BASE = 0x9000_0000n;
/** Pages of the ring region. */
export const RING_PAGES = 8;
/** The irqfd's doorbell: label and SPI line (INTID 32 + line). */
export const BELL_LABEL = 0x5c;
export const BELL_LINE = 12;
export const BELL_INTID = 32 + BELL_LINE;
export const PAGE = 4096;

/** Protocol IDs and their protocol_mask bits. */
export const Proto = { BASE: 0x10, POWER: 0x11, PERF: 0x13, CLOCK: 0x14, SENSOR: 0x15, RESET: 0x16, VOLTAGE: 0x17 } as const;
export const protoBit = (id: number): number => 1 << (id - 0x11);
/** Every protocol of the default backend. */
export const ALL_PROTOCOLS = [Proto.POWER, Proto.PERF, Proto.CLOCK, Proto.SENSOR, Proto.RESET, Proto.VOLTAGE].reduce((m, p) => m | protoBit(p), 0);

export interface ScmiVmOptions {
  /** The guest program (or image bytes). */
  readonly program: GuestProgramBuilder | Uint8Array;
  /** An emulator to boot in (a second VM); default: a new one from `emulator`. */
  readonly emu?: Emulator;
  readonly emulator?: EmulatorOptions;
  readonly vcpus?: number;
  /** The doorbell is level-triggered (and the irqfd LEVEL). */
  readonly level?: boolean;
  /** Map the ring region lent instead of shared (the function must refuse it). */
  readonly ringLent?: boolean;
  readonly ringPages?: number;
  /** Leave START to the caller. */
  readonly noStart?: boolean;
}

export interface ScmiVm extends BootedVm {
  /** The ring region's guest-memory fd. */
  readonly ring: GuestMemFd;
}

/** Boot a guest program with the ring region and the doorbell the device uses. */
export async function bootScmiVm(o: ScmiVmOptions): Promise<ScmiVm> {
  const image = o.program instanceof Uint8Array ? o.program : o.program.build();
  const emu = o.emu ?? createEmulator(o.emulator);
  const b = await bootHoldingCell(
    { image, vcpus: o.vcpus ?? 1, noStart: true, doorbells: [{ label: BELL_LABEL, line: BELL_LINE, level: o.level ?? false }] },
    emu,
  );
  const pages = o.ringPages ?? RING_PAGES;
  const ring = await b.dev.createGuestMem(pages * PAGE);
  const access = o.ringLent === true ? GUNYAH_MEM_FORCE_LEND : GUNYAH_MEM_FORCE_SHARE;
  await b.vm.mapMem({ guestAddr: RING_BASE, flags: access | GUNYAH_MEM_ALLOW_RWX, mem: ring, size: BigInt(pages * PAGE) });
  if (o.noStart !== true) await b.vm.start();
  return { ...b, ring };
}

export interface VmmScmiOptions {
  readonly agentId: number;
  readonly name: string;
  readonly deviceMask: bigint;
  /** Default: the device mask (every device controlled). */
  readonly controlMask?: bigint;
  readonly protocolMask: number;
  readonly mmioBase?: bigint;
  /** irqfd LEVEL (the DTB's doorbell must match). */
  readonly level?: boolean;
  /** Do not ADD_FUNCTION at DRIVER_OK; the test calls `addFunction()`. */
  readonly deferFunction?: boolean;
  /** Do not add the ioeventfd: every QueueNotify is an MMIO exit the VMM forwards to the kick eventfd. */
  readonly noIoeventfd?: boolean;
  /** Options of the register window (default: `scmiVirtioMmioOptions()`). */
  readonly mmio?: Parameters<typeof scmiVirtioMmioOptions>[0];
}

const le64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};

/** The VMM's virtio-scmi device for one VM. */
export class VmmScmi {
  readonly regs: VirtioMmioRegisters;
  readonly base: bigint;
  kickFd: number | undefined;
  callFd: number | undefined;
  /** The cmdq as the driver made it ready. */
  queue: VirtioMmioQueueConfig | undefined;
  /** The features at DRIVER_OK. */
  features: bigint | undefined;
  functionAdded = false;
  /** What ADD_FUNCTION failed with (the device then needs a reset). */
  addError: unknown;
  /** QueueNotify writes that reached the VMM as MMIO exits. */
  notifyExits = 0;
  readonly #pending: Promise<void>[] = [];

  constructor(
    readonly vm: ScmiVm,
    readonly o: VmmScmiOptions,
  ) {
    this.base = o.mmioBase ?? MMIO_BASE;
    this.regs = new VirtioMmioRegisters(scmiVirtioMmioOptions(o.mmio));
    this.regs.events.on('queue-ready', (q) => {
      if (q.index === 0) this.queue = q;
    });
    this.regs.events.on('driver-ok', (features) => {
      this.features = features;
      this.#pending.push(this.#activate());
    });
    this.regs.events.on('notify', () => {
      this.notifyExits++;
      if (this.kickFd !== undefined) this.host.write(this.kickFd, le64(1n));
    });
    this.regs.events.on('reset', () => {
      if (this.kickFd !== undefined) this.#pending.push(this.#deactivate());
    });
  }

  get host(): Emulator['host'] {
    return this.vm.emu.host;
  }

  get agentId(): number {
    return this.o.agentId;
  }

  /** The function argument for the current queue and eventfds. */
  arg(): Uint8Array {
    const q = this.queue;
    if (q === undefined || this.kickFd === undefined || this.callFd === undefined || this.features === undefined) {
      throw new Error('the driver has not made the cmdq ready and set DRIVER_OK yet');
    }
    return encodeFnScmiArg({
      agentId: this.o.agentId,
      features: this.features,
      kickFd: this.kickFd,
      callFd: this.callFd,
      name: this.o.name,
      deviceMask: this.o.deviceMask,
      controlMask: this.o.controlMask ?? this.o.deviceMask,
      protocolMask: this.o.protocolMask,
      cmdq: { size: q.size, desc: q.descAddr, driver: q.availAddr, device: q.usedAddr },
    });
  }

  /** ADD_FUNCTION(GUNYAH_FN_SCMI). A failure is kept in `addError` and sets DEVICE_NEEDS_RESET. */
  async addFunction(): Promise<void> {
    try {
      await this.vm.vm.addFunction(GUNYAH_FN_SCMI, this.arg());
      this.functionAdded = true;
      this.addError = undefined;
    } catch (err) {
      this.addError = err;
      this.regs.needsReset();
    }
  }

  /** REMOVE_FUNCTION by agent_id (the rest of the argument is ignored by the kernel). */
  async removeFunction(): Promise<number> {
    const r = await this.vm.vm.removeFunction(GUNYAH_FN_SCMI, this.arg());
    this.functionAdded = false;
    return r;
  }

  /** The kernel's instance of this device's function, if bound. */
  instance(): ScmiFunctionInstance | undefined {
    const k = kernelVm(this.vm.emu, this.vm.vm.fd);
    return k.functions.find((f) => f.type === GUNYAH_FN_SCMI && f.matches(this.arg())) as ScmiFunctionInstance | undefined;
  }

  inWindow(addr: bigint): boolean {
    return addr >= this.base && addr < this.base + MMIO_SIZE;
  }

  /** Answer one MMIO exit in the window, then finish any set-up it started. */
  async handle(v: VcpuFd, m: RunPageMmio): Promise<void> {
    const off = Number(m.physAddr - this.base);
    if (m.isWrite) {
      this.regs.write(off, m.len, m.data);
    } else {
      if (off === VirtioMmioReg.INTERRUPT_STATUS) await this.#pollCall();
      v.setMmioData(BigInt(this.regs.read(off, m.len)));
    }
    while (this.#pending.length > 0) await this.#pending.shift();
  }

  /** RUN until an exit this device does not handle; return it. */
  async run(v: VcpuFd): Promise<RunPage> {
    for (;;) {
      const exit = await v.run();
      if (exit.kind === 'mmio' && this.inWindow(exit.mmio.physAddr)) {
        await this.handle(v, exit.mmio);
        continue;
      }
      return exit;
    }
  }

  /** RUN to the next exit outside the window and expect an MMIO write of `value` at `addr`. */
  async runToWrite(v: VcpuFd, addr: bigint, value: bigint): Promise<void> {
    const exit = await this.run(v);
    expect(exit).toMatchObject({ kind: 'mmio', mmio: { physAddr: addr, isWrite: true, data: value } });
  }

  /** The call eventfd's count (read, non-blocking, as the VMM would; 0 when nothing came). */
  async #readCall(): Promise<bigint> {
    if (this.callFd === undefined) return 0n;
    try {
      const b = await this.host.read(this.callFd, 8);
      return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    } catch (err) {
      if (isErrnoError(err) && err.code === 'EAGAIN') return 0n;
      throw err;
    }
  }

  async #pollCall(): Promise<void> {
    if ((await this.#readCall()) > 0n) this.regs.raiseUsedBuffer();
  }

  async #activate(): Promise<void> {
    this.kickFd = this.host.eventfd(0, 0);
    this.callFd = this.host.eventfd(0, EFD_NONBLOCK);
    if (this.o.noIoeventfd !== true) await this.vm.vm.addIoeventfd({ addr: this.base + BigInt(VirtioMmioReg.QUEUE_NOTIFY), len: 4, fd: this.kickFd });
    await this.vm.vm.addIrqfd(this.callFd, BELL_LABEL, this.o.level ?? false);
    if (this.o.deferFunction !== true) await this.addFunction();
  }

  async #deactivate(): Promise<void> {
    if (this.functionAdded) await this.removeFunction();
    if (this.o.noIoeventfd !== true) await this.vm.vm.removeIoeventfd({ addr: this.base + BigInt(VirtioMmioReg.QUEUE_NOTIFY), len: 4, fd: this.kickFd! });
    await this.vm.vm.removeIrqfd(BELL_LABEL);
    await this.host.close(this.kickFd!);
    await this.host.close(this.callFd!);
    this.kickFd = undefined;
    this.callFd = undefined;
  }

  /** Close every fd of this VM (vCPUs first, the VM fd last: its release is the teardown). */
  async closeVm(): Promise<void> {
    const b = this.vm;
    for (const v of b.vcpus) await v.close();
    if (this.kickFd !== undefined) await this.host.close(this.kickFd);
    if (this.callFd !== undefined) await this.host.close(this.callFd);
    await b.vm.close();
    await b.mem.close();
    await b.ring.close();
    await b.dev.close();
  }
}

/** Guest address → offset in the ring region's file. */
export const ringOffset = (gpa: bigint | number): number => Number(BigInt(gpa) - RING_BASE);

/** Every resource kind and its count on the backend's platform. */
function resources(emu: Emulator): Array<[ResourceKind, number]> {
  const d = emu.scmi.platform.desc;
  return [
    ['clock', d.clocks.length],
    ['voltage', d.voltages.length],
    ['power', d.powerDomains.length],
    ['perf', d.perfDomains.length],
    ['reset', d.resetDomains.length],
    ['sensor', d.sensors.length],
  ];
}

/** Voters other than the host, by resource (empty when only the host votes). */
export function vmVoters(emu: Emulator): string[] {
  const out: string[] = [];
  for (const [kind, n] of resources(emu)) {
    for (let id = 0; id < n; id++) {
      const vs = emu.scmi.platform.voters(kind, id).filter((v) => v !== 1);
      if (vs.length > 0) out.push(`${kind} ${id}: ${vs.join(',')}`);
    }
  }
  return out;
}

/** `expectCleanShutdown`, then: the backend holds no VM agent and no VM vote. */
export async function expectCleanScmiShutdown(emu: Emulator): Promise<void> {
  await expectCleanShutdown(emu);
  expect(emu.scmi.agents().map((a) => a.agentId)).toEqual([1]);
  expect(vmVoters(emu)).toEqual([]);
}

/** Event-loop turns until `pred()` holds (at most `turns`). */
export async function until(pred: () => boolean, turns = 200): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (pred()) return true;
    await new Promise<void>((r) => setImmediate(r));
  }
  return pred();
}
