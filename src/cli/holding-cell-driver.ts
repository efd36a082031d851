/**
 * The VMM side of the holding-cell protocol over a raw vCPU: RUN → the command read at 0x6000 →
 * put the command word in mmio.data → one RUN and one supplied value per argument → RUN → the
 * result write at 0x6000. A command that does not write a result (SYSTEM_OFF) ends on whatever
 * exit came instead. An exception report at 0x7000 or any other unexpected exit is a protocol
 * error.
 *
 * Reference: vmm-flows.md §6.2 (registers), §6.3 (command word: id bits 7:0, nargs bits 11:8),
 * §6.5 (guest loop; TVMM run_test), §6.6 (power_on_cell, power_off).
 */
import type { RunPage } from '../vm-mgr/uapi/run-page.js';
import { HoldingCellReg, holdingCellWord } from '../guest/holding-cell-protocol.js';
import type { RawVcpu } from './raw-vcpu.js';

const CMD = BigInt(HoldingCellReg.CMD);
const EXCEPTION = BigInt(HoldingCellReg.EXCEPTION);

/** A holding-cell protocol violation seen by the VMM. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** What one command produced: the result word, or the non-result exit that ended it. */
export interface CommandRun {
  /** The value written to 0x6000, or undefined when the command ended on another exit. */
  readonly result: bigint | undefined;
  /** The exit that ended the command. */
  readonly end: RunPage;
}

export function describeExit(e: RunPage): string {
  switch (e.kind) {
    case 'mmio':
      return `MMIO ${e.mmio.isWrite ? 'write' : 'read'} 0x${e.mmio.physAddr.toString(16)} len ${e.mmio.len}${e.mmio.isWrite ? ` data 0x${e.mmio.data.toString(16)}` : ''}`;
    case 'status':
      return `STATUS exit, status ${e.status.status}, exit_info type ${e.status.exitType}`;
    case 'page-fault':
      return `PAGE_FAULT 0x${e.pageFault.physAddr.toString(16)} attempt ${e.pageFault.attempt}`;
    default:
      return `exit_reason ${e.exitReason}`;
  }
}

/** RUN (or await the RUN already in flight) and require an MMIO read of the command register (len 8). */
async function expectCommandRead(v: RawVcpu, what: string, inFlight?: Promise<RunPage>): Promise<void> {
  const e = await (inFlight ?? v.run());
  if (e.kind === 'mmio' && !e.mmio.isWrite && e.mmio.physAddr === CMD && e.mmio.len === 8) return;
  throw new ProtocolError(`vCPU ${v.id}: expected the ${what} read at 0x6000, got ${describeExit(e)}`);
}

export interface CommandOptions {
  /** false for commands that never write a result (power_off). Default true. */
  readonly expectResult?: boolean;
  /** A RUN of `v` issued earlier and still in flight: it delivers the command-word read. */
  readonly inFlight?: Promise<RunPage>;
}

/**
 * Run holding-cell command `id` with `args` on `v`.
 * @throws ProtocolError on an unexpected exit (including an exception report at 0x7000)
 */
export async function runCommand(v: RawVcpu, id: number, args: readonly bigint[], o: CommandOptions = {}): Promise<CommandRun> {
  const expectResult = o.expectResult ?? true;
  await expectCommandRead(v, 'command word', o.inFlight);
  v.supply(holdingCellWord(id, args.length));
  for (const [i, a] of args.entries()) {
    await expectCommandRead(v, `argument ${i}`);
    v.supply(a);
  }
  const end = await v.run();
  if (end.kind === 'mmio' && end.mmio.isWrite && end.mmio.physAddr === EXCEPTION) {
    throw new ProtocolError(`vCPU ${v.id}: the guest reported an exception (ESR 0x${end.mmio.data.toString(16)})`);
  }
  const isResult = end.kind === 'mmio' && end.mmio.isWrite && end.mmio.physAddr === CMD && end.mmio.len === 8;
  if (isResult) return { result: end.mmio.data, end };
  if (expectResult) throw new ProtocolError(`vCPU ${v.id}: expected the result write at 0x6000, got ${describeExit(end)}`);
  return { result: undefined, end };
}
