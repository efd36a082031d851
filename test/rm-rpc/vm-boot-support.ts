/**
 * Test support for VM boot on the RM side: an RM server on its own hypervisor, the host's RM
 * client on the host link, and a VM booted the way Linux v17 does it (uapi.md §8.2): the host
 * writes the DTB into its own RAM, lends the pages (MEM_LEND, one ACL entry), configures the
 * image with the DTB's offset in the parcel and the DTB region size, sets the IMAGE address
 * layout to the guest address of those pages, then VM_INIT, and on request VM_START (where the
 * RM maps the image into the VM and writes the overlay, docs/decisions.md B3).
 *
 * Reference: uapi.md §8.2 steps 3–13, §8.12; rm-rpc.md §12.1–§12.3, §16. Drives the RM directly
 * (no host kernel model), so the tests see only the RM and the memory model.
 */
import { Hypervisor } from '../../src/hyp/hypervisor.js';
import { createRmServer, type RmServer } from '../../src/rm-rpc/server/rm-server.js';
import { createRmClient, RmCalls, type RmClient } from '../../src/rm-rpc/client/index.js';
import { RmError, type RmErrorName } from '../../src/rm-rpc/wire/errors.js';
import { VmStatus } from '../../src/rm-rpc/wire/enums.js';
import { buildTestDtb, type TestDtbOptions } from '../../src/conformance/dtb.js';

export const HOST = 3;
export const PAGE = 4096;
/** Host RAM (host IPA = PA) where the tests put a VM's DTB pages. */
export const DTB_PA = 0x9000_0000;
/** Guest address of the DTB parcel's first page (Linux's VM_SET_ADDRESS_LAYOUT IMAGE base). */
export const GUEST_DTB_BASE = 0x4000_0000;

/** A hypervisor that records the demand-paging ranges the RM hands it. */
export class RecordingHypervisor extends Hypervisor {
  readonly demandPaging: Array<{ vmid: number; ranges: Array<{ base: number; size: number }> }> = [];
  override setDemandPaging(vmid: number, ranges: ReadonlyArray<{ readonly base: bigint | number; readonly size: bigint | number }>): void {
    this.demandPaging.push({ vmid, ranges: ranges.map((r) => ({ base: Number(r.base), size: Number(r.size) })) });
    super.setDemandPaging(vmid, ranges);
  }
}

export interface BootOptions {
  /** The DTB bytes (default: the conformance test DTB, 8 KiB with free space). */
  readonly dtb?: Uint8Array;
  readonly dtbOptions?: TestDtbOptions;
  /** VM_CONFIG_IMAGE dt_size (default: the DTB's length). */
  readonly dtSize?: bigint;
  /** Offset of the DTB in the parcel (default 0; a page-aligned parcel starts before it). */
  readonly dtOffset?: number;
  /** The VM's rights in the lend (default RWX). */
  readonly rights?: number;
  /** Send VM_SET_ADDRESS_LAYOUT IMAGE = the parcel's guest pages (default true). */
  readonly layout?: boolean;
  /** VM_SET_DEMAND_PAGING ranges to send first. */
  readonly demandPaging?: ReadonlyArray<{ address: bigint; size: bigint }>;
  /** Parcel memory type (default NORMAL). */
  readonly memType?: number;
  /** Send VM_START after a successful VM_INIT (default false). */
  readonly start?: boolean;
}

export interface Booted {
  readonly vmid: number;
  readonly handle: number;
  /** Host PA (= host IPA) of the parcel's first page. */
  readonly pa: number;
  /** Parcel size in bytes. */
  readonly parcelSize: number;
  /** The DTB as written by the host (before the overlay). */
  readonly dtb: Uint8Array;
  /** Guest address of the DTB (layout base + offset). */
  readonly guestDtb: number;
  /** VM_INIT's outcome. */
  readonly init: RmErrorName | 'OK';
  /** VM_START's outcome, when it was sent. */
  readonly start?: RmErrorName | 'OK';
}

export class BootRig {
  readonly rm: RmServer;
  readonly client: RmClient;
  readonly calls: RmCalls;
  readonly hostNotifs: Array<{ msgId: number; payload: Uint8Array }> = [];
  /** Host RAM for the next VM's DTB pages (each boot takes fresh pages). */
  #nextPa = DTB_PA;

  constructor(
    readonly hyp: Hypervisor = new Hypervisor({ cpus: 8 }),
    firmware: 'v17' | 'public-12-2023' = 'v17',
    imageParcelAtStart: 'absorb' | 'keep' = 'absorb',
  ) {
    this.rm = createRmServer({ hyp, firmware, imageParcelAtStart });
    const ep = this.rm.vmEndpoint(HOST);
    if (!ep) throw new Error('no host link');
    this.client = createRmClient({ transport: ep });
    this.client.events.on('notification', (n) => void this.hostNotifs.push({ msgId: n.msgId, payload: n.payload }));
    this.calls = new RmCalls(this.client);
  }

  /** Allocate a VM and take it through CONFIG_IMAGE (and the layout) to VM_INIT (and VM_START). */
  async boot(o: BootOptions = {}): Promise<Booted> {
    const dtb = o.dtb ?? buildTestDtb(o.dtbOptions);
    const dtOffset = o.dtOffset ?? 0;
    const parcelSize = Math.ceil((dtOffset + dtb.byteLength) / PAGE) * PAGE;
    const vmid = await this.calls.allocVmid();
    const pa = this.#nextPa;
    this.#nextPa += parcelSize + 0x10_0000;
    this.hyp.memory.zero(pa, parcelSize);
    this.hyp.memory.write(HOST, pa + dtOffset, dtb);
    const handle = await this.calls.memShare({
      acl: [{ vmid, rights: o.rights ?? 7 }],
      sgl: [{ address: BigInt(pa), size: BigInt(parcelSize) }],
      ...(o.memType !== undefined ? { memType: o.memType } : {}),
    });
    await this.calls.vmConfigure({
      vmid,
      authType: 0,
      imageHandle: handle,
      imageOffset: 0n,
      imageSize: 0n,
      dtOffset: BigInt(dtOffset),
      dtSize: o.dtSize ?? BigInt(dtb.byteLength),
    });
    if (o.demandPaging) await this.calls.vmSetDemandPaging(vmid, o.demandPaging);
    if (o.layout ?? true) await this.calls.vmSetAddressLayout(vmid, 0, BigInt(GUEST_DTB_BASE), BigInt(parcelSize));
    const init = await errName(() => this.calls.vmInit(vmid));
    const start = o.start && init === 'OK' ? await errName(() => this.calls.vmStart(vmid)) : undefined;
    return { vmid, handle, pa, parcelSize, dtb, guestDtb: GUEST_DTB_BASE + dtOffset, init, ...(start !== undefined ? { start } : {}) };
  }

  async state(vmid: number): Promise<number> {
    return (await this.calls.vmGetState(vmid)).vmStatus;
  }

  /** VM_RESET and wait (polling) until the staged cleanup has finished. */
  async reset(vmid: number): Promise<void> {
    await this.calls.vmReset(vmid);
    for (let i = 0; i < 1000; i++) {
      if ((await this.state(vmid)) === VmStatus.RESET) return;
    }
    throw new Error(`VM ${vmid} did not reach RESET`);
  }

  close(): void {
    this.client.close();
    this.rm.close();
  }
}

/** Run an RM call; its RM error name, or 'OK'. */
export async function errName(f: () => Promise<unknown>): Promise<RmErrorName | 'OK'> {
  try {
    await f();
    return 'OK';
  } catch (err) {
    if (err instanceof RmError && err.rmName) return err.rmName;
    throw err;
  }
}
