/**
 * The VMM side of a virtio-scmi device on Gunyah: the virtio-mmio register window a TypeScript
 * VMM puts behind its MMIO exits, with the SCMI backend in the kernel (the GUNYAH_FN_SCMI VM
 * function) doing the queue work. The VMM answers register loads and stores; once the driver
 * sets DRIVER_OK it wires the hot path so that requests never exit to userspace:
 *
 *   guest store QueueNotify ─▶ ioeventfd (base + 0x050, len 4, DATAMATCH 0) ─▶ kick eventfd
 *        ─▶ SCMI function: pop chain, backend dispatch, push reply ─▶ call eventfd
 *        ─▶ irqfd (doorbell label) ─▶ doorbell ─▶ the guest's SPI
 *   guest load InterruptStatus (MMIO exit) ─▶ the VMM reads the call eventfd (non-blocking):
 *        a count > 0 means the backend added used buffers since the last read ─▶ bit 0 set
 *   guest store InterruptACK (MMIO exit) ─▶ the bits clear
 *
 * On DRIVER_OK, in this order: eventfd (kick), eventfd (call, EFD_NONBLOCK), ADD_FUNCTION
 * ioeventfd {base + 0x050, len 4, DATAMATCH 0, kick}, ADD_FUNCTION irqfd {call, label},
 * ADD_FUNCTION(GUNYAH_FN_SCMI) with `encodeFnScmiArg` of the agent, the negotiated features and
 * the cmdq as it was made ready. A step that fails undoes the ones before it (reverse order),
 * sets DEVICE_NEEDS_RESET in the register window and emits `bind-failed`; the guest then sees
 * a device that never answers (the VMM reports the error).
 * On a device reset (the driver writes Status 0) or `close()`: REMOVE_FUNCTION(GUNYAH_FN_SCMI)
 * (match key: agent_id), REMOVE ioeventfd, REMOVE irqfd (label), close both eventfds. Each step
 * runs even when an earlier one failed (a VM fd closed before the device is the usual cause);
 * the first error is kept in `lastError`.
 *
 * Choices (ours):
 * - The device offers only VIRTIO_F_VERSION_1 (the backend has no eventq, no indirect
 *   descriptors and no event index); `deviceFeatures` can offer more, for tests of the function's
 *   checks.
 * - InterruptStatus is derived from the call eventfd rather than from a callback: the backend
 *   runs in the kernel and tells the VMM nothing else. Reading the counter at the load is what
 *   keeps the bit and the doorbell consistent (a read kept pending on the eventfd would race
 *   with the guest's load).
 * - With `ioeventfd: false` the QueueNotify store exits to the VMM like any other register
 *   store, and the device writes the kick eventfd itself (the slow path, for comparison).
 * - A transition (bind, unbind) is awaited inside the MMIO exit that caused it, before the vCPU
 *   runs on, as a VMM does its vhost set-up in the exit handler; an exit on another vCPU during
 *   a transition waits for it too.
 *
 * Reference: scmi-virtio.md §1 (register map), §2 (status), §3 (features), §5 (virtio-scmi),
 * §11 (Gunyah: MMIO exits, ioeventfd on QueueNotify, InterruptStatus then irqfd, shared rings);
 * uapi.md §6.2 (ADD/REMOVE_FUNCTION), §8.1 (match keys), §8.6 (MMIO exits, mmio.data), §8.13
 * (irqfd), §8.14 (ioeventfd); docs/scmi.md (the function's argument).
 */
import { EventEmitter } from 'eventemitter3';
import { VirtioFeature, VirtioMmioReg, featureBit } from '../virtio/constants.js';
import { VirtioMmioRegisters, scmiVirtioMmioOptions } from '../virtio/mmio-registers.js';
import { EFD_CLOEXEC, EFD_NONBLOCK } from '../vm-mgr/uapi/constants.js';
import type { RunPage, RunPageMmio } from '../vm-mgr/uapi/run-page.js';
import { GUNYAH_FN_SCMI, encodeFnScmiArg, type FnScmiArgInit } from '../vm-mgr/uapi/scmi-arg.js';
import type { VcpuFd } from './vcpu-fd.js';
import type { VmDtbDoorbell, VmDtbVirtioMmio } from './vm-dtb.js';
import type { IoeventfdOptions, VmFd } from './vm-fd.js';

/** The VM's SCMI agent identity and policy (the function argument's fields). */
export interface ScmiAgentSpec {
  /** ≥ 2 (0 is the platform, 1 the host). */
  readonly agentId: number;
  /** ASCII, at most 15 characters. */
  readonly name: string;
  /** Bit n: platform device n is given to the agent. */
  readonly deviceMask: bigint;
  /** Bit n: the agent may change device n's resources (default: every device it is given). */
  readonly controlMask?: bigint;
  /**
   * Bit (id − 0x11): protocol 0x11..0x17 allowed. Base always is. Default 0x7D: power, perf,
   * clock, sensor, reset and voltage (not 0x12 system power, which the backend does not have).
   */
  readonly protocolMask?: number;
}

export interface ScmiVirtioDeviceOptions {
  /** Guest physical address of the register window (outside guest RAM, so accesses exit). */
  readonly mmioBase: bigint;
  /** Size of the window (default 0x200). Accesses inside it are the device's. */
  readonly mmioSize?: number;
  /** The irqfd's doorbell label (a `bell-<label>` vdevice in the VM's DT). */
  readonly doorbellLabel: number;
  /** SPI line of that doorbell, for the DT nodes (`dtbDoorbell`, `dtbNode`). */
  readonly line: number;
  /** LEVEL irqfd (doorbell masks enable 1 / ack 1; default true, scmi-virtio.md §11). */
  readonly level?: boolean;
  readonly agent: ScmiAgentSpec;
  /** QueueNumMax of the cmdq (default 1024, as Linux and vhost-device-scmi use). */
  readonly queueSize?: number;
  /** Kick through an ioeventfd (default true); false: QueueNotify exits and the VMM kicks. */
  readonly ioeventfd?: boolean;
  /** Feature bits offered (default VIRTIO_F_VERSION_1 only). */
  readonly deviceFeatures?: bigint;
  /** Shared memory meant for the rings, described in the DT node (`dtbNode`). */
  readonly ringRegion?: { readonly base: bigint; readonly size: bigint };
}

/** What the device did, for the VMM's log. */
export interface ScmiVirtioDeviceEvents {
  /** The function, the ioeventfd and the irqfd are in place. */
  bound: (arg: FnScmiArgInit) => void;
  /** DRIVER_OK could not be wired; the device is marked DEVICE_NEEDS_RESET. */
  'bind-failed': (error: unknown) => void;
  /** Everything added at DRIVER_OK is removed again (reset or close). */
  unbound: (reason: 'reset' | 'close') => void;
}

/** The fds the device holds while bound. */
export interface ScmiVirtioDeviceFds {
  readonly kick: number;
  readonly call: number;
}

const REG_QUEUE_NOTIFY = VirtioMmioReg.QUEUE_NOTIFY;
const REG_INTERRUPT_STATUS = VirtioMmioReg.INTERRUPT_STATUS;
/** The cmdq index: the ioeventfd's datamatch. */
const CMDQ = 0;
const ONE = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
const DEFAULT_WINDOW = 0x200;
/** Protocols 0x11, 0x13–0x17 (bit id − 0x11). */
const DEFAULT_PROTOCOL_MASK = 0x7d;

const returnTrue = (): true => true;

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** True when the 8 little-endian bytes are not all zero. */
function nonZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return true;
  return false;
}

/** Everything added at DRIVER_OK, for the way back. */
interface Binding {
  readonly kick: number;
  readonly call: number;
  readonly ioeventfd: IoeventfdOptions | undefined;
  readonly irqfd: boolean;
  readonly fnArg: Uint8Array | undefined;
  readonly arg: FnScmiArgInit | undefined;
}

export class ScmiVirtioDevice {
  readonly events = new EventEmitter<ScmiVirtioDeviceEvents>();
  /** The register window model (for inspection: status, warnings). */
  readonly registers: VirtioMmioRegisters;
  readonly mmioBase: bigint;
  readonly mmioSize: number;
  readonly doorbellLabel: number;
  readonly line: number;
  readonly level: boolean;
  readonly agent: Required<ScmiAgentSpec>;
  /** The first error of the last bind or unbind, if any. */
  lastError: unknown;

  readonly #vm: VmFd;
  readonly #useIoeventfd: boolean;
  readonly #ringRegion: { readonly base: bigint; readonly size: bigint } | undefined;
  readonly #end: bigint;
  #binding: Binding | undefined;
  /** A bind or unbind in progress (set synchronously by the register events). */
  #work: Promise<void> | undefined;
  #closed = false;

  /**
   * @throws RangeError for a window that is not 4-byte aligned or smaller than 0x100, or an
   * agent spec the function argument cannot carry (checked again by the kernel)
   */
  constructor(vm: VmFd, o: ScmiVirtioDeviceOptions) {
    this.#vm = vm;
    this.mmioBase = o.mmioBase;
    this.mmioSize = o.mmioSize ?? DEFAULT_WINDOW;
    if (o.mmioBase % 4n !== 0n || o.mmioBase < 0n) throw new RangeError(`virtio-scmi window base 0x${o.mmioBase.toString(16)} is not 4-byte aligned`);
    if (!Number.isInteger(this.mmioSize) || this.mmioSize < 0x100) throw new RangeError(`virtio-scmi window size ${this.mmioSize} is below 0x100`);
    this.#end = o.mmioBase + BigInt(this.mmioSize);
    this.doorbellLabel = o.doorbellLabel;
    this.line = o.line;
    this.level = o.level ?? true;
    this.agent = {
      agentId: o.agent.agentId,
      name: o.agent.name,
      deviceMask: o.agent.deviceMask,
      controlMask: o.agent.controlMask ?? o.agent.deviceMask,
      protocolMask: o.agent.protocolMask ?? DEFAULT_PROTOCOL_MASK,
    };
    // Encode once now so that a spec the struct cannot carry fails at construction.
    encodeFnScmiArg(this.#arg(0, 0, featureBit(VirtioFeature.F_VERSION_1), { index: 0, size: 0, descAddr: 0n, availAddr: 0n, usedAddr: 0n }));
    this.#useIoeventfd = o.ioeventfd ?? true;
    this.#ringRegion = o.ringRegion;
    const options = scmiVirtioMmioOptions({ queueSize: o.queueSize ?? 1024, eventIdx: false, indirect: false });
    this.registers = new VirtioMmioRegisters({ ...options, deviceFeatures: o.deviceFeatures ?? featureBit(VirtioFeature.F_VERSION_1) });
    const ev = this.registers.events;
    ev.on('driver-ok', () => this.#schedule(() => this.#bind()));
    ev.on('reset', () => {
      if (this.#binding !== undefined || this.#work !== undefined) this.#schedule(() => this.#unbind('reset'));
    });
    ev.on('notify', (q) => this.#kickFromExit(q));
  }

  /** True while the function, ioeventfd and irqfd are in place. */
  get bound(): boolean {
    return this.#binding?.fnArg !== undefined;
  }

  /** The kick and call eventfds while bound. */
  get fds(): ScmiVirtioDeviceFds | undefined {
    const b = this.#binding;
    return b ? { kick: b.kick, call: b.call } : undefined;
  }

  /** The function argument of the current binding. */
  get functionArg(): FnScmiArgInit | undefined {
    return this.#binding?.arg;
  }

  /** The doorbell vdevice the VM's DT must carry for the irqfd. */
  get dtbDoorbell(): VmDtbDoorbell {
    return { label: this.doorbellLabel, line: this.line, level: this.level };
  }

  /** The virtio-mmio DT node (with the ring region as its restricted-dma-pool, when given). */
  get dtbNode(): VmDtbVirtioMmio {
    return {
      base: this.mmioBase,
      size: BigInt(this.mmioSize),
      line: this.line,
      level: this.level,
      ...(this.#ringRegion ? { dmaPool: this.#ringRegion } : {}),
    };
  }

  /** True when `addr` is inside the register window. */
  contains(addr: bigint): boolean {
    return addr >= this.mmioBase && addr < this.#end;
  }

  /**
   * Handle an exit: false when it is not an MMIO access inside the window (or the device is
   * closed). Otherwise a load is answered through `vcpu.setMmioData`, a store is applied, and
   * the result is true once any bind or unbind the access caused has finished; the caller then
   * runs the vCPU again. The answer is a plain boolean when nothing had to be waited for (the
   * common case: `await` works on both), a promise otherwise (an InterruptStatus load, which
   * reads the call eventfd; an access during or causing a bind or unbind).
   * @throws (or rejects) only when the VMM's own calls fail: `vcpu.setMmioData` on a closed
   * mapping, the call eventfd read on an InterruptStatus load. Bind and unbind failures are
   * events, not errors
   */
  handleMmio(vcpu: VcpuFd, exit: RunPage): boolean | Promise<boolean> {
    if (exit.kind !== 'mmio' || this.#closed) return false;
    const m = exit.mmio;
    if (m.physAddr < this.mmioBase || m.physAddr >= this.#end) return false;
    if (this.#work !== undefined) return this.#afterWork(vcpu, m);
    return this.#access(vcpu, m);
  }

  /** An access that came while a bind or unbind ran: it waits for it (or the device closed). */
  async #afterWork(vcpu: VcpuFd, m: RunPageMmio): Promise<boolean> {
    while (this.#work !== undefined) await this.#work;
    return this.#closed ? false : this.#access(vcpu, m);
  }

  #access(vcpu: VcpuFd, m: RunPageMmio): boolean | Promise<boolean> {
    const offset = Number(m.physAddr - this.mmioBase);
    if (m.isWrite) {
      this.registers.write(offset, m.len, m.data);
      // A write that started a bind or unbind: the vCPU goes on once it is done.
      return this.#work === undefined ? true : this.#work.then(returnTrue);
    }
    const b = this.#binding;
    if (offset === REG_INTERRUPT_STATUS && b !== undefined) return this.#readInterruptStatus(vcpu, m.len, b.call);
    vcpu.setMmioData(BigInt(this.registers.read(offset, m.len)), m.len);
    return true;
  }

  /**
   * InterruptStatus: first take in what the call eventfd counted (non-blocking read; a count
   * means the backend added used buffers and rang the irqfd: bit 0), then answer.
   */
  async #readInterruptStatus(vcpu: VcpuFd, len: number, call: number): Promise<boolean> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.#vm.host.read(call, 8);
    } catch (err) {
      if (!isErrno(err, 'EAGAIN')) throw err;
    }
    if (bytes !== undefined && nonZero(bytes)) this.registers.raiseUsedBuffer();
    vcpu.setMmioData(BigInt(this.registers.read(REG_INTERRUPT_STATUS, len)), len);
    return true;
  }

  /**
   * Remove everything added at DRIVER_OK (if bound) and stop answering. Idempotent. Call it
   * before closing the VM fd (REMOVE_FUNCTION needs it); afterwards the eventfds are closed
   * regardless and the first error is kept in `lastError`.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      if (this.#work !== undefined) await this.#work;
      return;
    }
    this.#closed = true;
    this.#schedule(() => this.#unbind('close'));
    await this.#work;
  }

  // ── internals ────────────────────────────────────────────────────────

  #schedule(fn: () => Promise<void>): void {
    const prev = this.#work ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => {
      // A listener of the device's own events threw: keep it, as a failed step would be.
      this.lastError = err;
    });
    this.#work = next;
    void next.then(() => {
      if (this.#work === next) this.#work = undefined;
    });
  }

  #arg(kick: number, call: number, features: bigint, q: { size: number; descAddr: bigint; availAddr: bigint; usedAddr: bigint; index: number }): FnScmiArgInit {
    const a = this.agent;
    return {
      agentId: a.agentId,
      flags: 0,
      features,
      kickFd: kick,
      callFd: call,
      name: a.name,
      deviceMask: a.deviceMask,
      controlMask: a.controlMask,
      protocolMask: a.protocolMask,
      cmdq: { size: q.size, desc: q.descAddr, driver: q.availAddr, device: q.usedAddr },
    };
  }

  /** DRIVER_OK: eventfds, ioeventfd, irqfd, ADD_FUNCTION; undone on the first failure. */
  async #bind(): Promise<void> {
    if (this.#closed || this.#binding !== undefined) return;
    // The driver may have reset again before this ran.
    if (!this.registers.driverOk) return;
    const host = this.#vm.host;
    const vm = this.#vm;
    let kick: number | undefined;
    let call: number | undefined;
    let ioe: IoeventfdOptions | undefined;
    let irqfd = false;
    try {
      const features = this.registers.negotiatedFeatures;
      const cmdq = this.registers.queueConfig(CMDQ);
      if (features === undefined || cmdq === undefined) throw new Error('DRIVER_OK without a ready cmdq');
      kick = host.eventfd(0, EFD_CLOEXEC);
      call = host.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (this.#useIoeventfd) {
        const o: IoeventfdOptions = { addr: this.mmioBase + BigInt(REG_QUEUE_NOTIFY), len: 4, fd: kick, datamatch: BigInt(CMDQ) };
        await vm.addIoeventfd(o);
        ioe = o;
      }
      await vm.addIrqfd(call, this.doorbellLabel, this.level);
      irqfd = true;
      const arg = this.#arg(kick, call, features, cmdq);
      const bytes = encodeFnScmiArg(arg);
      await vm.addFunction(GUNYAH_FN_SCMI, bytes);
      this.#binding = { kick, call, ioeventfd: ioe, irqfd: true, fnArg: bytes, arg };
      this.lastError = undefined;
      this.events.emit('bound', arg);
    } catch (err) {
      this.lastError = err;
      if (kick !== undefined && call !== undefined) {
        await this.#teardown({ kick, call, ioeventfd: ioe, irqfd, fnArg: undefined, arg: undefined });
      } else if (kick !== undefined) {
        await this.#quiet(() => host.close(kick!));
      }
      this.registers.needsReset();
      this.events.emit('bind-failed', err);
    }
  }

  /** Reset or close: undo the binding, if there is one. */
  async #unbind(reason: 'reset' | 'close'): Promise<void> {
    const b = this.#binding;
    if (b === undefined) return;
    this.#binding = undefined;
    this.lastError = await this.#teardown(b);
    this.events.emit('unbound', reason);
  }

  /** REMOVE_FUNCTION, REMOVE ioeventfd, REMOVE irqfd, close the eventfds; every step runs. */
  async #teardown(b: Binding): Promise<unknown> {
    const vm = this.#vm;
    let first: unknown;
    const step = async (fn: () => unknown): Promise<void> => {
      const e = await this.#quiet(fn);
      if (e !== undefined && first === undefined) first = e;
    };
    if (b.fnArg !== undefined) await step(() => vm.removeFunction(GUNYAH_FN_SCMI, b.fnArg!));
    if (b.ioeventfd !== undefined) await step(() => vm.removeIoeventfd(b.ioeventfd!));
    if (b.irqfd) await step(() => vm.removeIrqfd(this.doorbellLabel));
    await step(() => vm.host.close(b.kick));
    await step(() => vm.host.close(b.call));
    return first;
  }

  /** Run `fn`; its error (sync or async) is returned instead of thrown. */
  async #quiet(fn: () => unknown): Promise<unknown> {
    try {
      await fn();
      return undefined;
    } catch (err) {
      return err ?? new Error('unknown error');
    }
  }

  /** A QueueNotify that exited (no ioeventfd, or not the cmdq): kick the backend ourselves. */
  #kickFromExit(queue: number): void {
    const b = this.#binding;
    if (b === undefined || queue !== CMDQ || this.#useIoeventfd) return;
    this.#vm.host.write(b.kick, ONE);
  }
}
