/**
 * What a guest does, as the hypervisor sees it: a stream of operations (loads, stores, HVCs,
 * waits) produced by a guest engine, one generator per vCPU. The hypervisor decides what each
 * operation means: a load or store that stage 2 maps is plain memory; one it does not map is a
 * VMMIO trap or a page fault (hypervisor.md §6, §7); an HVC goes to the hypervisor's call table
 * (PSCI, page relinquish, …).
 *
 * Reference: DESIGN.md "Guest images"; hypervisor.md §1 (HVC ABI), §6 (vcpu_run states).
 * This file is the contract between src/hyp (the driver) and src/guest (the engines).
 */

/** Access sizes a single-register load or store can have. */
export type AccessLen = 1 | 2 | 4 | 8;

/**
 * One guest operation. The driver resumes the generator with the operation's result:
 * - `load`: the value read (zero-extended), as bigint;
 * - `store`, `spin`: 0n;
 * - `fetch`: not a value: the driver resumes with 0n and the bytes are in `GuestCpu.fetched`;
 * - `hvc`: the value of X0 after the call;
 * - `wfi`: the INTID of the interrupt that woke the vCPU (bigint), or 0n for a spurious wake.
 * A synchronous exception (data abort injected by the VMM's FAULT resume action, a
 * permission fault, an undefined instruction) is thrown into the generator as a
 * `GuestException`; an engine that does not catch it crashes its vCPU.
 */
export type GuestOp =
  | { readonly kind: 'load'; readonly addr: number; readonly len: AccessLen }
  | { readonly kind: 'store'; readonly addr: number; readonly len: AccessLen; readonly value: bigint }
  /** Instruction fetch of `len` bytes at `addr` (image loading); needs X rights. */
  | { readonly kind: 'fetch'; readonly addr: number; readonly len: number }
  /** `HVC #0` with the SMCCC function ID in X0 and arguments X1.. */
  | { readonly kind: 'hvc'; readonly fn: number; readonly args: readonly bigint[] }
  /** Wait for an interrupt (WFI). */
  | { readonly kind: 'wfi' }
  /** Loop forever doing nothing observable (a spinning vCPU stays runnable). */
  | { readonly kind: 'spin' };

/** A guest engine for one vCPU: resumed with each operation's result. */
export type GuestThread = Generator<GuestOp, void, bigint>;

/** What an engine knows about the vCPU it runs on. */
export interface GuestCpu {
  /** vCPU index (MPIDR Aff0). */
  readonly index: number;
  /** Entry point (boot PC, or the CPU_ON entry). */
  readonly entry: number;
  /** X0 at entry (boot context X0, or the CPU_ON context id). */
  readonly context: bigint;
  /** Boot-context registers (key `set << 8 | index`, uapi.md §4), for the boot vCPU only. */
  readonly bootRegs: ReadonlyMap<number, bigint>;
  /** The bytes of the last `fetch`. */
  readonly fetched: Uint8Array;
  /** Scratch shared by the engines of one VM's vCPUs (e.g. a stack base vCPU 0 learnt). */
  readonly vmShared: Map<string, unknown>;
}

/**
 * The entry every vCPU runs (src/guest/boot.ts): fetches the image header at `cpu.entry`,
 * recognises a holding-cell or guest-program image and runs it; anything else raises an
 * undefined-instruction exception (`Esr.UNDEFINED`), which crashes the vCPU.
 */
export type BootGuest = (cpu: GuestCpu) => GuestThread;

/** A recognised guest image: makes one engine per vCPU that runs it. */
export interface GuestImage {
  /** 'holding-cell' or 'program' (DESIGN.md "Guest images"). */
  readonly kind: string;
  /** A human description for logs and traces. */
  readonly describe: string;
  start(cpu: GuestCpu): GuestThread;
}

/**
 * A synchronous exception delivered to the guest. `esr` is the ESR_EL1 value the guest would
 * see, `far` the FAR_EL1 (the faulting address, 0 when not an abort).
 */
export class GuestException extends Error {
  override readonly name = 'GuestException';
  constructor(
    readonly esr: bigint,
    readonly far: bigint,
    readonly why: string,
  ) {
    super(`guest exception ESR 0x${esr.toString(16)} FAR 0x${far.toString(16)}: ${why}`);
  }
}

/** ESR_EL1 values the emulator reports (ARM ARM: EC in bits 31:26, IL bit 25). */
export const Esr = {
  /** EC 0x00 unknown reason (an undefined instruction), IL 1. */
  UNDEFINED: 0x0200_0000n,
  /** EC 0x24 data abort from a lower EL, IL 1; DFSC 0x10 synchronous external abort (VMM FAULT). */
  DATA_ABORT_EXTERNAL: 0x9200_0010n,
  /** EC 0x24, DFSC 0x0F permission fault level 3; bit 6 WnR added for writes. */
  DATA_ABORT_PERMISSION: 0x9200_000fn,
  /** EC 0x24, DFSC 0x07 translation fault level 3 (nothing mapped, nobody to emulate it). */
  DATA_ABORT_TRANSLATION: 0x9200_0007n,
  /** Bit 6 of the ISS: write not read. */
  WNR: 0x40n,
} as const;
