/**
 * Test support for memory parcels: an emulator with guest VMs that talk to the RM on their own
 * links, parcel calls as the host (through its RM client, errors as names) and as a guest (raw
 * frames), and a VM reset that brings the guest back up.
 *
 * Reference: rm-rpc.md §12.1–§12.2 (allocate, configure, init, start, stop, reset), §12.5
 * (parcel layouts), §13 (notifications), §15.4 (reset stages); the guest set-up follows
 * test/rm-rpc/lifecycle.test.ts and src/conformance/dtb.ts (a DT with an rm-rpc vdevice).
 */
import { createEmulator, type Emulator } from '../../src/emulator.js';
import { RmCalls } from '../../src/rm-rpc/client/index.js';
import { buildTestDtb } from '../../src/conformance/dtb.js';
import { toHex } from '../../src/shared/bytes.js';
import { RmMsgId } from '../../src/rm-rpc/wire/msg-ids.js';
import { RmError, rmErrorName, type RmErrorName } from '../../src/rm-rpc/wire/errors.js';
import { VmStatus } from '../../src/rm-rpc/wire/enums.js';
import type { VmConfigImageReq } from '../../src/rm-rpc/wire/vm-creation.js';
import { RawRm } from '../support/raw-rm.js';

/** The host VM (HLOS). */
export const HOST = 3;

/** An RM answer: the error name ('OK' on success) and the reply data. */
export interface Answer {
  readonly err: RmErrorName | 'UNKNOWN';
  readonly data: Uint8Array;
}

/** A running guest VM with its own raw RM link. */
export interface Guest {
  readonly vmid: number;
  /** The VM_CONFIG_IMAGE request that configured it (reused after a reset). */
  readonly cfg: VmConfigImageReq;
  raw: RawRm;
}

/** A notification as received: its ID and payload. */
export interface Notif {
  readonly msgId: number;
  readonly payload: Uint8Array;
}

/** An emulator, the host's typed calls, and `n` running guests. */
export class ParcelRig {
  readonly calls: RmCalls;
  /** Every notification the host's client received, in order. */
  readonly hostNotifs: Notif[] = [];
  readonly guests: Guest[] = [];
  /** Handles of the guests' image parcels (platform parcels owned by the host). */
  readonly imageHandles: number[] = [];

  private constructor(readonly emu: Emulator) {
    this.calls = new RmCalls(emu.rmClient);
    emu.rmClient.events.on('notification', (n) => void this.hostNotifs.push({ msgId: n.msgId, payload: n.payload }));
  }

  static async create(guests = 2): Promise<ParcelRig> {
    const rig = new ParcelRig(createEmulator({ rm: { imageParcelAtStart: 'keep' } }));
    for (let i = 0; i < guests; i++) rig.guests.push(await rig.#bootGuest());
    return rig;
  }

  /** Allocate, seed the test DT as its image, configure, init and start a guest; open its link. */
  async #bootGuest(): Promise<Guest> {
    const vmid = await this.calls.allocVmid();
    const dtb = buildTestDtb({ cpus: 1 });
    const imageHandle = await this.emu.rm.control.seedParcel({ acl: [{ vmid, rights: 6 }], contentsHex: toHex(dtb, '') });
    this.imageHandles.push(imageHandle);
    const cfg: VmConfigImageReq = { vmid, authType: 0, imageHandle, imageOffset: 0n, imageSize: 0n, dtOffset: 0n, dtSize: BigInt(dtb.byteLength) };
    await this.calls.vmConfigure(cfg);
    await this.calls.vmInit(vmid);
    await this.calls.vmStart(vmid);
    return { vmid, cfg, raw: new RawRm(this.emu, vmid) };
  }

  /** A call as the host through its RM client; an RM error becomes its name. */
  async host(msgId: number, payload: Uint8Array): Promise<Answer> {
    return answerOf(() => this.emu.rmClient.call(msgId, payload));
  }

  /** A call as guest `g` with raw frames on its own link. */
  async guest(g: Guest, msgId: number, payload: Uint8Array): Promise<Answer> {
    const r = await g.raw.call(msgId, payload);
    return { err: rmErrorName(r.err) ?? 'UNKNOWN', data: r.data };
  }

  /**
   * Let every notification the RM has sent so far arrive: one round trip on each link (the RM
   * answers in order, so what it sent before the reply is received before it).
   */
  async flush(): Promise<void> {
    await this.emu.rmClient.call(RmMsgId.VM_GET_VMID, new Uint8Array(0));
    for (const g of this.guests) await g.raw.call(RmMsgId.VM_GET_VMID, new Uint8Array(0));
  }

  /** Force-stop, reset (waiting for RESET), reconfigure, init and start `g`; reopen its link. */
  async resetGuest(g: Guest): Promise<void> {
    g.raw.close();
    await this.calls.vmStop(g.vmid);
    await this.calls.vmReset(g.vmid);
    // Polled: after its first reset the host is no longer a peer of the VM and hears no VM_STATUS (§15.3).
    let state = -1;
    for (let i = 0; i < 1000 && state !== VmStatus.RESET; i++) state = (await this.calls.vmGetState(g.vmid)).vmStatus;
    if (state !== VmStatus.RESET) throw new Error(`VM ${g.vmid} did not reach RESET`);
    await this.calls.vmConfigure(g.cfg);
    await this.calls.vmInit(g.vmid);
    await this.calls.vmStart(g.vmid);
    g.raw = new RawRm(this.emu, g.vmid);
  }

  close(): void {
    for (const g of this.guests) g.raw.close();
    this.emu.close();
  }
}

/** Run an RM call and turn its outcome into an Answer. */
export async function answerOf(f: () => Promise<Uint8Array | void>): Promise<Answer> {
  try {
    const r = await f();
    return { err: 'OK', data: r instanceof Uint8Array ? r : new Uint8Array(0) };
  } catch (err) {
    if (err instanceof RmError) return { err: err.rmName ?? 'UNKNOWN', data: new Uint8Array(0) };
    throw err;
  }
}

/** The u32 at the start of a reply (a parcel handle). */
export function u32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
}
