/**
 * VM creation payloads: VM_CONFIG_IMAGE, VM_AUTH_IMAGE, VM_INIT, and the three calls Linux v17
 * sends to newer firmware: VM_SET_CONTEXT (Linux VM_SET_BOOT_CONTEXT), VM_SET_DEMAND_PAGING,
 * VM_SET_ADDRESS_LAYOUT. All of them have standard replies.
 *
 * Reference: rm-rpc.md §12.2 (layouts, errors), §12.3 (newer-firmware calls; RM side unknown),
 * §19 (the disputed VM_SET_BOOT_CONTEXT ID), uapi.md §8.2 (what Linux sends and when).
 *
 * Decisions (docs/wire-format.md):
 * - auth_type is range-checked by the handler (ARGUMENT_INVALID comes after the caller, owner,
 *   state, parcel and range checks in the RM), not here.
 * - VM_INIT res0 ≠ 0 → MSG_INVALID in decode. The sheet says "must be 0" without naming the
 *   error; MSG_INVALID is what the RM answers for the other res0 checks (VM_EXIT,
 *   VM_SET_FIRMWARE_MEM). Unverified.
 * - VM_AUTH_IMAGE must be exactly 4 + 8·n_params bytes (MSG_INVALID otherwise). Unverified.
 * - The [newer firmware] calls use Linux's layouts with exact lengths (16, 8 + 16·n, 24) and
 *   MSG_INVALID for any other length; their reg_set/reg_index/range_id values are not checked
 *   here (Linux checks reg_set and reg_index itself; the RM side is unknown).
 */
import {
  Reader,
  Writer,
  expectAtLeast,
  expectLength,
  wireFail,
  type PayloadCodec,
} from './codec.js';

// ---------------------------------------------------------------------------------------------
// VM_CONFIG_IMAGE (40): @0 u16 vmid, @2 u16 auth_type, @4 u32 image parcel handle,
// @8 u64 image_offset, @16 u64 image_size, @24 u64 dt_offset, @32 u64 dt_size.
// ---------------------------------------------------------------------------------------------

export interface VmConfigImageReq {
  readonly vmid: number;
  /** `AuthType`; Linux v17 always sends NONE. */
  readonly authType: number;
  /** Handle of the parcel holding the image and the DTB (Linux: the DTB parcel). */
  readonly imageHandle: number;
  readonly imageOffset: bigint;
  readonly imageSize: bigint;
  readonly dtOffset: bigint;
  readonly dtSize: bigint;
}
export const VM_CONFIG_IMAGE_REQ: PayloadCodec<VmConfigImageReq> = {
  encode: (v) =>
    new Writer(40)
      .u16(v.vmid, 'vmid')
      .u16(v.authType, 'authType')
      .u32(v.imageHandle, 'imageHandle')
      .u64(v.imageOffset, 'imageOffset')
      .u64(v.imageSize, 'imageSize')
      .u64(v.dtOffset, 'dtOffset')
      .u64(v.dtSize, 'dtSize')
      .done(),
  decode(b) {
    expectLength(b, 40, 'VM_CONFIG_IMAGE');
    const r = new Reader(b, 'VM_CONFIG_IMAGE');
    return {
      vmid: r.u16(),
      authType: r.u16(),
      imageHandle: r.u32(),
      imageOffset: r.u64(),
      imageSize: r.u64(),
      dtOffset: r.u64(),
      dtSize: r.u64(),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_AUTH_IMAGE: @0 u16 vmid, @2 u16 n_params, @4 n × {u32 type, u32 value}.
// ---------------------------------------------------------------------------------------------

export interface AuthParam {
  readonly type: number;
  readonly value: number;
}
export interface VmAuthImageReq {
  readonly vmid: number;
  readonly params: readonly AuthParam[];
}
export const VM_AUTH_IMAGE_REQ: PayloadCodec<VmAuthImageReq> = {
  encode(v) {
    const w = new Writer(4 + 8 * v.params.length).u16(v.vmid, 'vmid').u16(v.params.length, 'n_params');
    for (const p of v.params) w.u32(p.type, 'type').u32(p.value, 'value');
    return w.done();
  },
  decode(b) {
    expectAtLeast(b, 4, 'VM_AUTH_IMAGE');
    const r = new Reader(b, 'VM_AUTH_IMAGE');
    const vmid = r.u16();
    const n = r.u16('n_params');
    expectLength(b, 4 + 8 * n, 'VM_AUTH_IMAGE');
    const params = new Array<AuthParam>(n);
    for (let i = 0; i < n; i++) params[i] = { type: r.u32('type'), value: r.u32('value') };
    return { vmid, params };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_INIT (4): @0 u16 vmid, @2 u16 res0 (must be 0).
// ---------------------------------------------------------------------------------------------

export interface VmInitReq {
  readonly vmid: number;
}
export const VM_INIT_REQ: PayloadCodec<VmInitReq> = {
  encode(v) {
    return new Writer(4).u16(v.vmid, 'vmid').skip(2).done();
  },
  decode(b) {
    expectLength(b, 4, 'VM_INIT');
    if (b[2] !== 0 || b[3] !== 0) wireFail('reserved', 'VM_INIT: res0 must be zero', 2, 'MSG_INVALID');
    return { vmid: b[0]! | (b[1]! << 8) };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_SET_CONTEXT / VM_SET_BOOT_CONTEXT (16): @0 u16 vmid, @2 u8 reg_set (X 0, PC 1, SP 2),
// @3 u8 reg_index, @4 u32 pad, @8 u64 value.
// ---------------------------------------------------------------------------------------------

export interface VmSetBootContextReq {
  readonly vmid: number;
  /** `BootContextRegSet`. */
  readonly regSet: number;
  readonly regIndex: number;
  readonly value: bigint;
}
export const VM_SET_BOOT_CONTEXT_REQ: PayloadCodec<VmSetBootContextReq> = {
  encode: (v) =>
    new Writer(16).u16(v.vmid, 'vmid').u8(v.regSet, 'regSet').u8(v.regIndex, 'regIndex').skip(4).u64(v.value, 'value').done(),
  decode(b) {
    expectLength(b, 16, 'VM_SET_BOOT_CONTEXT');
    const r = new Reader(b, 'VM_SET_BOOT_CONTEXT');
    const vmid = r.u16();
    const regSet = r.u8();
    const regIndex = r.u8();
    r.skip(4);
    return { vmid, regSet, regIndex, value: r.u64() };
  },
};

/** The RM's name for the same message (0x56000031). */
export type VmSetContextReq = VmSetBootContextReq;
export const VM_SET_CONTEXT_REQ: PayloadCodec<VmSetContextReq> = VM_SET_BOOT_CONTEXT_REQ;

// ---------------------------------------------------------------------------------------------
// VM_SET_DEMAND_PAGING: @0 u16 vmid, @2 pad, @4 u32 range_count, @8 n × {u64 address, u64 size}.
// ---------------------------------------------------------------------------------------------

export interface GuestRange {
  readonly address: bigint;
  readonly size: bigint;
}
export interface VmSetDemandPagingReq {
  readonly vmid: number;
  /** One per lend binding, in guest-address order (Linux). */
  readonly ranges: readonly GuestRange[];
}
export const VM_SET_DEMAND_PAGING_REQ: PayloadCodec<VmSetDemandPagingReq> = {
  encode(v) {
    const w = new Writer(8 + 16 * v.ranges.length).u16(v.vmid, 'vmid').skip(2).u32(v.ranges.length, 'range_count');
    for (const g of v.ranges) w.u64(g.address, 'address').u64(g.size, 'size');
    return w.done();
  },
  decode(b) {
    expectAtLeast(b, 8, 'VM_SET_DEMAND_PAGING');
    const r = new Reader(b, 'VM_SET_DEMAND_PAGING');
    const vmid = r.u16();
    r.skip(2);
    const n = r.u32('range_count');
    expectLength(b, 8 + 16 * n, 'VM_SET_DEMAND_PAGING');
    const ranges = new Array<GuestRange>(n);
    for (let i = 0; i < n; i++) ranges[i] = { address: r.u64('address'), size: r.u64('size') };
    return { vmid, ranges };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_SET_ADDRESS_LAYOUT (24): @0 u16 vmid, @2 pad, @4 u32 range_id, @8 u64 base, @16 u64 size.
// ---------------------------------------------------------------------------------------------

export interface VmSetAddressLayoutReq {
  readonly vmid: number;
  /** `AddressRangeId`; Linux sends IMAGE. */
  readonly rangeId: number;
  readonly base: bigint;
  readonly size: bigint;
}
export const VM_SET_ADDRESS_LAYOUT_REQ: PayloadCodec<VmSetAddressLayoutReq> = {
  encode: (v) => new Writer(24).u16(v.vmid, 'vmid').skip(2).u32(v.rangeId, 'rangeId').u64(v.base, 'base').u64(v.size, 'size').done(),
  decode(b) {
    expectLength(b, 24, 'VM_SET_ADDRESS_LAYOUT');
    const r = new Reader(b, 'VM_SET_ADDRESS_LAYOUT');
    const vmid = r.u16();
    r.skip(2);
    const rangeId = r.u32();
    return { vmid, rangeId, base: r.u64(), size: r.u64() };
  },
};
