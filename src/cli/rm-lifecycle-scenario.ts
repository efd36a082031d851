/**
 * `gunyah-emu run --rm-only`: the host drives one VM through the RM's
 * whole lifecycle (allocate, configure, demand paging, address layout, init, boot context,
 * resources, start, stop, reset, deallocate) over the emulated message queues, as Linux v17
 * does at VM start and teardown (uapi.md §8.2, §8.3), and reports every RPC and notification.
 */
import { createEmulator } from '../emulator.js';
import { RmCalls, onVmStatus } from '../rm-rpc/client/index.js';
import { buildTestDtb } from '../conformance/dtb.js';
import { fromHex, toHex } from '../shared/bytes.js';
import { notificationById, specById } from '../rm-rpc/wire/catalogue.js';
import { vmStatusName } from '../rm-rpc/server/vm-state.js';
import { createMemoryTraceSink, type TraceEvent } from '../shared/trace.js';
import { VmStatus } from '../rm-rpc/wire/enums.js';
import { rmErrorName } from '../rm-rpc/wire/errors.js';

const HOST_VMID = 3;
/** Where the host puts the DTB: a page of its RAM (its IPA equals the PA). */
const DTB_IPA = 0x8000_0000;

/** One row of the scenario's report. */
export interface ScenarioRow {
  readonly step: number;
  readonly kind: 'request' | 'reply' | 'notification';
  readonly name: string;
  readonly seq: number;
  readonly detail: string;
}

export interface RmLifecycleResult {
  readonly rows: readonly ScenarioRow[];
  readonly invariantViolations: readonly string[];
  readonly vmid: number;
}

/** Run the RM lifecycle on a fresh emulator. */
export async function runRmLifecycleScenario(seed = 1): Promise<RmLifecycleResult> {
  const trace = createMemoryTraceSink();
  const emu = createEmulator({ seed, trace });
  try {
    const rm = new RmCalls(emu.rmClient);
    let reset!: () => void;
    const resetSeen = new Promise<void>((r) => (reset = r));
    onVmStatus(emu.rmClient, (n) => n.vmStatus === VmStatus.RESET && reset());

    const vmid = await rm.allocVmid();
    // The host writes the VM's DTB into a page of its own RAM and lends it to the VM, as the
    // VM manager does at start (uapi.md §8.2 step 5, §8.12).
    const dtb = buildTestDtb({ cpus: 2, imageName: 'rm-lifecycle' });
    emu.hyp.memory.write(HOST_VMID, DTB_IPA, dtb);
    const handle = await rm.memShare({ acl: [{ vmid, rights: 7 }], sgl: [{ address: BigInt(DTB_IPA), size: BigInt(dtb.byteLength) }] });
    await rm.vmConfigure({ vmid, authType: 0, imageHandle: handle, imageOffset: 0n, imageSize: 0n, dtOffset: 0n, dtSize: BigInt(dtb.byteLength) });
    await rm.vmSetDemandPaging(vmid, [{ address: 0x8000_0000n, size: 0x10_0000n }]);
    await rm.vmSetAddressLayout(vmid, 0, 0x8000_0000n, 0x1000n);
    await rm.vmInit(vmid);
    await rm.vmSetBootContext(vmid, 1, 0, 0x8000_0000n);
    await rm.getHypResources(vmid);
    await rm.vmStart(vmid);
    await rm.vmGetState(vmid);
    await rm.vmStop(vmid);
    await rm.vmReset(vmid);
    await resetSeen;
    // No MEM_RECLAIM: at VM_START the image parcel became the VM's own memory, which the
    // reset returned to the host (docs/decisions.md B12); the handle is gone.
    void handle;
    await rm.deallocVmid(vmid);
    return { rows: toRows(trace.events), invariantViolations: emu.checkInvariants(), vmid };
  } finally {
    emu.close();
  }
}

function toRows(events: readonly TraceEvent[]): ScenarioRow[] {
  const rows: ScenarioRow[] = [];
  for (const e of events) {
    if (e['side'] !== 'client') continue;
    const name = String(e['name']);
    const seq = Number(e['rmSeq']);
    const msgId = Number(e['msgId']);
    const bytes = fromHex(String(e['hex'] ?? ''));
    if (e.kind === 'rm.call') rows.push({ step: rows.length + 1, kind: 'request', name, seq, detail: describe(() => specById(msgId)?.req.decode(bytes), bytes) });
    if (e.kind === 'rm.reply') {
      const err = rmErrorName(Number(e['err'])) ?? String(e['err']);
      const data = bytes.byteLength > 0 ? ` ${describe(() => specById(msgId)?.reply.decode(bytes), bytes)}` : '';
      rows.push({ step: rows.length + 1, kind: 'reply', name, seq, detail: `${err}${data}` });
    }
    if (e.kind === 'rm.notification') {
      rows.push({ step: rows.length + 1, kind: 'notification', name, seq, detail: describe(() => notificationById(msgId)?.payload.decode(bytes), bytes) });
    }
  }
  return rows;
}

/** A short readable form of a decoded payload record (status values by name). */
function describe(decode: () => unknown, bytes: Uint8Array): string {
  let rec: unknown;
  try {
    rec = decode();
  } catch {
    rec = undefined;
  }
  if (rec === undefined || rec === null || typeof rec !== 'object') return bytes.byteLength ? toHex(bytes, '') : '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'vmStatus' && typeof v === 'number') parts.push(`${k}=${vmStatusName(v)}`);
    else if (v instanceof Uint8Array) parts.push(`${k}=${toHex(v, '') || '-'}`);
    else if (Array.isArray(v)) parts.push(`${k}=[${v.length}]`);
    else if (typeof v === 'number' || typeof v === 'bigint') parts.push(`${k}=0x${v.toString(16)}`);
    else parts.push(`${k}=${String(v)}`);
  }
  return parts.join(' ');
}
