/**
 * The RM's memory parcels: the parcel store and its records. Used by the RM's memparcel
 * handlers and VM creation; acts on the hypervisor's memory model.
 */
export { ParcelStore, MAX_PARCELS_PER_OWNER, MAX_LIST_ENTRIES, IPA_LIMIT } from './store.js';
export type { ParcelStoreDeps, ParcelNotification, AcceptResult } from './store.js';
export { ParcelError } from './parcel-error.js';
export { ParcelState } from './parcel.js';
export type { Parcel, Region, AclSlot, ParcelStateName } from './parcel.js';
export { IpaAllocator, RM_IPA_BASE, RM_IPA_END } from './ipa-allocator.js';
