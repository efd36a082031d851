/**
 * The RM's out-of-band control surface: what the emulator's platform (firmware, test harness,
 * `rm serve`'s control connection) may do to the RM that no VM can do over RPC. Nothing here
 * is part of the RM RPC protocol; it exists so that tests and tools can set up and inspect
 * state. All values are JSON-serialisable so that it can cross a socket.
 */

/** A memory parcel created by the platform rather than by a VM's MEM_LEND/MEM_SHARE. */
export interface PlatformParcelSpec {
  /** Owner VMID (default HLOS, 3). */
  readonly owner?: number;
  /** VMIDs in the ACL with their rights (X 1, W 2, R 4). */
  readonly acl: ReadonlyArray<{ readonly vmid: number; readonly rights: number }>;
  /** Parcel contents as hex (its size is the byte length rounded up to 4 KiB). */
  readonly contentsHex: string;
  /** Optional label (default 0). */
  readonly label?: number;
}

/** A read-only picture of RM state. */
export interface RmInspection {
  readonly vms: ReadonlyArray<{
    readonly vmid: number;
    readonly owner: number;
    readonly state: number;
    readonly stateName: string;
    readonly osStatus: number;
    readonly appStatus: number;
    readonly peers: readonly number[];
    readonly hasLink: boolean;
  }>;
  readonly parcels: ReadonlyArray<{ readonly handle: number; readonly owner: number; readonly size: number; readonly state: string; readonly transType: number }>;
  /** True after the RM hit one of its fatal assertions and stopped answering. */
  readonly crashed: boolean;
  /** RM assertions the real RM would have hit (rm-rpc.md §17), in order. */
  readonly assertions: readonly string[];
}

export interface RmControl {
  /** Create a parcel as platform code would; returns its handle. */
  seedParcel(spec: PlatformParcelSpec): Promise<number>;
  /** Snapshot of the RM's VMs, parcels and health. */
  inspect(): Promise<RmInspection>;
  /** Internal consistency checks; an empty list means all hold. */
  checkInvariants(): Promise<string[]>;
}
