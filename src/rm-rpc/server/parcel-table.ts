/**
 * The RM's table of memory parcels, as far as VM creation needs it: find a parcel by handle,
 * check its ACL, read its contents. Parcels enter it through the platform (RmControl.seedParcel);
 * the memparcel RPCs that create them from VMs come with the memory model.
 *
 * Reference: rm-rpc.md §16.2 (handles from a global counter starting at 0, skipping values in
 * use and 0xFFFFFFFF), §12.2 (VM_CONFIG_IMAGE reads the image and DT from a parcel).
 */

export interface ParcelAclEntry {
  readonly vmid: number;
  readonly rights: number;
}

export interface Parcel {
  readonly handle: number;
  readonly owner: number;
  readonly label: number;
  readonly acl: readonly ParcelAclEntry[];
  /** Contents; the size is a multiple of 4 KiB. */
  readonly bytes: Uint8Array;
}

export const PAGE_SIZE = 4096;
const HANDLE_INVALID_VALUE = 0xffff_ffff;

export class ParcelTable {
  readonly #parcels = new Map<number, Parcel>();
  #counter = 0;

  /** Allocate the next handle: global counter from 0, skipping handles in use and 0xFFFFFFFF. */
  #nextHandle(): number {
    for (;;) {
      const h = this.#counter;
      this.#counter = (this.#counter + 1) >>> 0;
      if (h !== HANDLE_INVALID_VALUE && !this.#parcels.has(h)) return h;
    }
  }

  create(owner: number, acl: readonly ParcelAclEntry[], contents: Uint8Array, label = 0): Parcel {
    const size = Math.max(PAGE_SIZE, Math.ceil(contents.byteLength / PAGE_SIZE) * PAGE_SIZE);
    const bytes = new Uint8Array(size);
    bytes.set(contents);
    const p: Parcel = { handle: this.#nextHandle(), owner, label, acl: [...acl], bytes };
    this.#parcels.set(p.handle, p);
    return p;
  }

  get(handle: number): Parcel | undefined {
    return this.#parcels.get(handle);
  }

  delete(handle: number): boolean {
    return this.#parcels.delete(handle);
  }

  all(): Parcel[] {
    return [...this.#parcels.values()];
  }

  /** Parcels owned by `vmid`. */
  ownedBy(vmid: number): Parcel[] {
    return this.all().filter((p) => p.owner === vmid);
  }
}
