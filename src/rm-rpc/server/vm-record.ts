/**
 * What the RM keeps per VM: identity, owner, status, peers, configuration and the hypervisor
 * objects created for it.
 *
 * Reference: rm-rpc.md §10 (VMIDs), §11–§12 (who may call what), §15 (states), §12.4
 * (resources). "Query-allowed" = the VM itself, its owner, or a registered peer.
 */
import type { HypObject } from '../../hyp/hypervisor.js';
import type { VmDtConfig } from './vm-dt-config.js';
import type { TransitionFlags, VmStatusValue } from './vm-state.js';
import type { RmLink } from './link.js';

export const VMID_HYP = 0x0;
export const VMID_HLOS = 0x3;
export const VMID_RM = 0xff;
export const VMID_DYNAMIC_BASE = 0x80;
/** Exclusive end of the dynamic range (0x80..0xBE). */
export const VMID_DYNAMIC_END = 0xbf;
/** Secondary VMIDs the qemu platform reserves (4..31). */
export const VMID_SECONDARY_MIN = 4;
export const VMID_SECONDARY_MAX = 31;
/** VM_ALLOCATE takes explicit VMIDs below this (rm-rpc.md §12.1). */
export const VMID_EXPLICIT_LIMIT = 64;

/** A resource the RM hands out through VM_GET_HYP_RESOURCES (hypervisor.md §9.1). */
export interface RmResource {
  readonly type: number;
  readonly partnerVmid: number;
  readonly label: number;
  readonly capId: bigint;
  readonly virq: number;
  readonly base: bigint;
  readonly size: bigint;
  /** Which VM may see this entry. */
  readonly holder: number;
}

/** Where the image came from (VM_CONFIG_IMAGE). */
export interface VmImageConfig {
  readonly authType: number;
  readonly parcelHandle: number;
  readonly imageOffset: bigint;
  readonly imageSize: bigint;
  readonly dtOffset: bigint;
  readonly dtSize: bigint;
}

/**
 * What VM_INIT prepared for VM_START to do with the image parcel: where the VM gets it, and the
 * DTB with the overlay to write over the old one (docs/decisions.md B3).
 */
export interface VmBootImage {
  /** The IPA of the parcel's first byte in the VM (B1). */
  readonly ipa: number;
  /** The packed DTB with the overlay. */
  readonly dtb: Uint8Array;
  /** The old DTB's totalsize: what is left of it past the new one is zeroed. */
  readonly oldLength: number;
}

export interface ConsoleState {
  vmOpen: boolean;
  ownerOpen: boolean;
}

export interface RmVm extends TransitionFlags {
  readonly vmid: number;
  readonly owner: number;
  state: VmStatusValue;
  osStatus: number;
  appStatus: number;
  /** Registered peers: they may query this VM and receive its VM_STATUS notifications. */
  readonly peers: Set<number>;
  /** Created by VM_CONFIG_IMAGE once its arguments pass (rm-rpc.md §17 #5 depends on this). */
  image: VmImageConfig | undefined;
  /** Parsed at VM_INIT. */
  dt: VmDtConfig | undefined;
  /** Prepared by VM_INIT, placed in the VM by VM_START (then cleared). */
  bootImage: VmBootImage | undefined;
  /** Hypervisor objects created for this VM (vCPUs, vdevices, link queues). */
  objects: HypObject[];
  resources: RmResource[];
  /** vIRQs allocated for this VM's resources: [vmid, virq]. */
  virqs: Array<readonly [number, number]>;
  link: RmLink | undefined;
  console: ConsoleState | undefined;
  crashMsg: Uint8Array | undefined;
  exitCount: number;
  name: string;
  uri: string;
  guid: Uint8Array;
  /** Boot context registers set with VM_SET_CONTEXT: key (set << 8 | index) → value. */
  bootContext: Map<number, bigint>;
  demandPaging: Array<{ base: bigint; size: bigint }> | undefined;
  addressLayout: Map<number, { base: bigint; size: bigint }>;
  timeBase: { timeBase: bigint; sysTimerRef: bigint } | undefined;
  firmwareMem: { handle: number; offset: bigint; size: bigint } | undefined;
  /** Set while VM_RESET's staged cleanup runs. */
  resetting: boolean;
}

/** True when `caller` may query `vm` (itself, its owner, or a registered peer). */
export function queryAllowed(vm: RmVm, caller: number): boolean {
  return caller === vm.vmid || caller === vm.owner || vm.peers.has(caller);
}

/** Dynamic VMIDs are 0x80..0xBE. */
export function isDynamicVmid(vmid: number): boolean {
  return vmid >= VMID_DYNAMIC_BASE && vmid < VMID_DYNAMIC_END;
}

/** Secondary VMIDs are the platform's reserved range (4..31 on the qemu platform). */
export function isSecondaryVmid(vmid: number): boolean {
  return vmid >= VMID_SECONDARY_MIN && vmid <= VMID_SECONDARY_MAX;
}
