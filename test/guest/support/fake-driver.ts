/**
 * A small stand-in for the hypervisor's vCPU driver, for the guest-engine tests only. It runs
 * one guest generator, answers loads, stores and fetches from a sparse fake memory, and
 * returns to the test on what a VMM would see: an MMIO read or write (addresses in the MMIO
 * window), an HVC, a WFI, a spin, a crash (the generator threw) or the end of the generator.
 * An access to an address that is neither memory nor MMIO is thrown into the guest as a
 * translation fault; a page in `faultPages` as an external abort.
 *
 * Reference: api.ts (the op contract); vmm-flows.md §6.5 (the VMM's view of the holding cell).
 */

import { Esr, GuestException, type GuestCpu, type GuestOp, type GuestThread } from '../../../src/guest/api.js';
import { bootGuest } from '../../../src/guest/boot.js';

const PAGE = 4096;

/** Sparse little-endian memory, page-granular mapping. */
export class FakeMemory {
  readonly #pages = new Map<number, Uint8Array>();

  /** Map [base, base + size) as zeroed RAM (page-aligned). */
  map(base: number, size: number): this {
    for (let p = Math.floor(base / PAGE); p * PAGE < base + size; p++) if (!this.#pages.has(p)) this.#pages.set(p, new Uint8Array(PAGE));
    return this;
  }

  mapped(addr: number, len: number): boolean {
    for (let a = addr; a < addr + len; a++) if (!this.#pages.has(Math.floor(a / PAGE))) return false;
    return true;
  }

  write(addr: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.#pages.get(Math.floor((addr + i) / PAGE))![(addr + i) % PAGE] = bytes[i]!;
  }

  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = this.#pages.get(Math.floor((addr + i) / PAGE))![(addr + i) % PAGE]!;
    return out;
  }

  writeValue(addr: number, len: number, v: bigint): void {
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    this.write(addr, b);
  }

  readValue(addr: number, len: number): bigint {
    const b = this.read(addr, len);
    let v = 0n;
    for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }
}

/** What the test sees when the guest stops for it. */
export type Exit =
  | { kind: 'mmio-read'; addr: number; len: number }
  | { kind: 'mmio-write'; addr: number; len: number; value: bigint }
  | { kind: 'hvc'; fn: number; args: readonly bigint[] }
  | { kind: 'wfi' }
  | { kind: 'spin' }
  | { kind: 'crash'; error: unknown }
  | { kind: 'done' };

/** A memory access the driver served without stopping (for assertions on stack touches etc.). */
export type Access = { kind: 'load' | 'store' | 'fetch'; addr: number; len: number; value?: bigint };

/** A GuestCpu the test can change (the driver writes `fetched`). */
export interface TestCpu extends GuestCpu {
  fetched: Uint8Array;
}

export function makeCpu(opts: Partial<Omit<TestCpu, 'fetched'>> = {}): TestCpu {
  return {
    index: opts.index ?? 0,
    entry: opts.entry ?? 0x8000_0000,
    context: opts.context ?? 0n,
    bootRegs: opts.bootRegs ?? new Map(),
    vmShared: opts.vmShared ?? new Map(),
    fetched: new Uint8Array(0),
  };
}

export interface MachineOptions {
  /** MMIO window(s): [base, size]. Default: everything below 0x8000_0000. */
  mmio?: readonly (readonly [number, number])[];
  /** Page numbers (addr / 4096) whose memory accesses take an external abort. */
  faultPages?: readonly number[];
}

/** One vCPU under test. */
export class FakeVcpu {
  readonly accesses: Access[] = [];
  readonly thread: GuestThread;
  #resume: bigint = 0n;
  #inject: GuestException | undefined;
  #ended: Exit | undefined;
  readonly #mmio: readonly (readonly [number, number])[];
  readonly #faultPages: ReadonlySet<number>;

  constructor(
    readonly mem: FakeMemory,
    readonly cpu: TestCpu,
    opts: MachineOptions = {},
    thread?: GuestThread,
  ) {
    this.thread = thread ?? bootGuest(cpu);
    this.#mmio = opts.mmio ?? [[0, 0x8000_0000]];
    this.#faultPages = new Set(opts.faultPages ?? []);
  }

  /** The value the guest gets for the pending MMIO read / HVC / WFI on the next `run`. */
  supply(v: bigint): this {
    this.#resume = v;
    return this;
  }

  /** Throw `esr`/`far` into the guest on the next `run` (the VMM's FAULT resume action). */
  inject(esr: bigint, far: bigint): this {
    this.#inject = new GuestException(esr, far, 'injected by the test');
    return this;
  }

  /** Resume the guest until it does something the VMM sees. */
  run(): Exit {
    if (this.#ended) return this.#ended;
    for (;;) {
      let r: IteratorResult<GuestOp, void>;
      try {
        if (this.#inject) {
          const e = this.#inject;
          this.#inject = undefined;
          r = this.thread.throw(e);
        } else {
          const v = this.#resume;
          this.#resume = 0n;
          r = this.thread.next(v);
        }
      } catch (error) {
        return (this.#ended = { kind: 'crash', error });
      }
      if (r.done) return (this.#ended = { kind: 'done' });
      const exit = this.#serve(r.value);
      if (exit) return exit;
    }
  }

  /** Serve one op; return an exit for the test or undefined to keep going. */
  #serve(op: GuestOp): Exit | undefined {
    switch (op.kind) {
      case 'hvc':
        return { kind: 'hvc', fn: op.fn, args: op.args };
      case 'wfi':
        return { kind: 'wfi' };
      case 'spin':
        return { kind: 'spin' };
      case 'fetch':
        if (!this.mem.mapped(op.addr, op.len)) return this.#fault(op.addr, false);
        this.cpu.fetched = this.mem.read(op.addr, op.len);
        this.accesses.push({ kind: 'fetch', addr: op.addr, len: op.len });
        return undefined;
      case 'load':
      case 'store': {
        const write = op.kind === 'store';
        if (this.mem.mapped(op.addr, op.len)) {
          if (this.#faultPages.has(Math.floor(op.addr / PAGE))) {
            this.#inject = new GuestException(write ? Esr.DATA_ABORT_EXTERNAL | Esr.WNR : Esr.DATA_ABORT_EXTERNAL, BigInt(op.addr), 'fault page');
            return undefined;
          }
          if (write) {
            this.mem.writeValue(op.addr, op.len, op.value);
            this.accesses.push({ kind: 'store', addr: op.addr, len: op.len, value: op.value });
          } else {
            this.#resume = this.mem.readValue(op.addr, op.len);
            this.accesses.push({ kind: 'load', addr: op.addr, len: op.len });
          }
          return undefined;
        }
        if (this.#mmio.some(([b, s]) => op.addr >= b && op.addr + op.len <= b + s)) {
          return write ? { kind: 'mmio-write', addr: op.addr, len: op.len, value: op.value } : { kind: 'mmio-read', addr: op.addr, len: op.len };
        }
        return this.#fault(op.addr, write);
      }
    }
  }

  #fault(addr: number, write: boolean): undefined {
    this.#inject = new GuestException(write ? Esr.DATA_ABORT_TRANSLATION | Esr.WNR : Esr.DATA_ABORT_TRANSLATION, BigInt(addr), 'unmapped');
    return undefined;
  }
}
