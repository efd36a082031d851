/**
 * Parcels made by the platform rather than by a VM's RPC (RmControl.seedParcel): the platform
 * takes free pages of the host's RAM, writes the contents, and creates a parcel owned by the
 * host exactly as the host's own MEM_LEND (or MEM_SHARE, when the host is in the ACL) would.
 * Tests and `rm serve`'s control connection use it to stage VM images without a host kernel.
 */
import type { Hypervisor } from '../../hyp/hypervisor.js';
import type { ParcelStore } from '../../mem-parcel/index.js';
import { fromHex } from '../../shared/bytes.js';
import { MemType, TransType } from '../wire/enums.js';
import type { PlatformParcelSpec } from './control.js';
import { VMID_HLOS } from './vm-record.js';

const PAGE = 4096;

/** Pick `size` bytes of host RAM that are the host's own, from the top of RAM down. */
function freeHostRange(hyp: Hypervisor, size: number): number {
  for (let i = hyp.ram.length - 1; i >= 0; i--) {
    const r = hyp.ram[i]!;
    for (const run of hyp.memory.runsOf(hyp.hostExtent, { pa: r.base, size: r.size }).reverse()) {
      if (run.size >= size) return run.pa + run.size - size;
    }
  }
  throw new Error(`no ${size} bytes of free host RAM for a platform parcel`);
}

export function seedPlatformParcel(hyp: Hypervisor, store: ParcelStore, spec: PlatformParcelSpec): number {
  const owner = spec.owner ?? VMID_HLOS;
  if (owner !== VMID_HLOS) throw new Error('platform parcels are owned by the host');
  const contents = fromHex(spec.contentsHex);
  const size = Math.max(PAGE, Math.ceil(contents.byteLength / PAGE) * PAGE);
  const pa = freeHostRange(hyp, size);
  hyp.memory.zero(pa, size);
  hyp.memory.writePhys(pa, contents);
  const share = spec.acl.some((e) => e.vmid === owner);
  const p = store.create(owner, share ? TransType.SHARE : TransType.LEND, {
    memType: MemType.NORMAL,
    flags: 0,
    label: spec.label ?? 0,
    acl: spec.acl,
    sgl: [{ address: BigInt(pa), size: BigInt(size) }],
    attrs: [],
  });
  return p.handle;
}
