/**
 * Firmware payloads: FW_MILESTONE (empty) and FW_SET_VM_FIRMWARE. Both have standard replies.
 * (VM_SET_FIRMWARE_MEM, 0x56000032, is a VM-management call: vm-mgmt.ts.)
 *
 * Reference: rm-rpc.md §12.9.
 *
 *   FW_SET_VM_FIRMWARE (24): +0 u16 auth_type  +2 u16 res0  +4 u32 parcel handle
 *                            +8 u64 image_offset  +16 u64 image_size
 *
 * Decode: FW_MILESTONE must be empty (the RM checks `len != 0` → MSG_INVALID, after its
 * milestone and HLOS-only checks, which the handler makes first). FW_SET_VM_FIRMWARE must be
 * exactly 24 bytes (MSG_INVALID); res0 ≠ 0 → **UNIMPLEMENTED**, as the sheet states (the
 * snapshot RM treats that half-word as unknown flags). auth_type values other than 2 →
 * ARGUMENT_INVALID is the handler's.
 */
import { EMPTY, Reader, Writer, expectLength, type Empty, type PayloadCodec } from './codec.js';

/** FW_MILESTONE request: empty, strictly. */
export const FW_MILESTONE_REQ: PayloadCodec<Empty> = EMPTY;

export interface FwSetVmFirmwareReq {
  /** `AuthType`; only ANDROID (2) has a firmware slot. */
  readonly authType: number;
  readonly imageHandle: number;
  readonly imageOffset: bigint;
  readonly imageSize: bigint;
}
export const FW_SET_VM_FIRMWARE_REQ: PayloadCodec<FwSetVmFirmwareReq> = {
  encode: (v) =>
    new Writer(24)
      .u16(v.authType, 'authType')
      .skip(2)
      .u32(v.imageHandle, 'imageHandle')
      .u64(v.imageOffset, 'imageOffset')
      .u64(v.imageSize, 'imageSize')
      .done(),
  decode(b) {
    expectLength(b, 24, 'FW_SET_VM_FIRMWARE');
    const r = new Reader(b, 'FW_SET_VM_FIRMWARE');
    const authType = r.u16();
    r.zeros(2, 'res0', 'UNIMPLEMENTED');
    return { authType, imageHandle: r.u32(), imageOffset: r.u64(), imageSize: r.u64() };
  },
};
