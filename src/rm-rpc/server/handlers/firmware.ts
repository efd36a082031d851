/**
 * Firmware handlers: FW_MILESTONE and FW_SET_VM_FIRMWARE.
 *
 * Reference: rm-rpc.md §12.9. HLOS only; after the milestone every firmware call is DENIED.
 * Only auth_type 2 (ANDROID) has a firmware slot; the parcel's ACL must contain the RM (0xFF);
 * the RM then takes the parcel as a donation to itself (recorded here; the memory moves when
 * the memory model arrives).
 */
import { RmMsgId } from '../../wire/msg-ids.js';
import { FW_MILESTONE_REQ, FW_SET_VM_FIRMWARE_REQ } from '../../wire/firmware.js';
import { AuthType } from '../../wire/enums.js';
import { OK, type RmContext, type Register } from '../context.js';
import { VMID_HLOS, VMID_RM } from '../vm-record.js';
import { require } from './refusal.js';

export function registerFirmwareHandlers(ctx: RmContext, reg: Register): void {
  let milestone = false;
  let slot: { handle: number; offset: bigint; size: bigint } | undefined;

  reg(RmMsgId.FW_MILESTONE, ({ caller, payload }) => {
    require(caller === VMID_HLOS && !milestone, 'DENIED', 'firmware calls are closed');
    FW_MILESTONE_REQ.decode(payload);
    milestone = true;
    return OK;
  });

  reg(RmMsgId.FW_SET_VM_FIRMWARE, ({ caller, payload }) => {
    require(caller === VMID_HLOS && !milestone, 'DENIED', 'firmware calls are closed');
    const req = FW_SET_VM_FIRMWARE_REQ.decode(payload);
    require(req.authType === AuthType.ANDROID, 'ARGUMENT_INVALID', `no firmware slot for auth_type ${req.authType}`);
    require(slot === undefined, 'BUSY', 'the firmware slot is already set');
    const parcel = ctx.parcels.get(req.imageHandle);
    require(parcel !== undefined && parcel.acl.some((e) => e.vmid === VMID_RM), 'HANDLE_INVALID', "the parcel's ACL lacks the RM");
    require(
      req.imageOffset === 0n && req.imageSize > 0n && req.imageSize <= BigInt(parcel.size),
      'ARGUMENT_INVALID',
      'bad firmware range',
    );
    slot = { handle: req.imageHandle, offset: req.imageOffset, size: req.imageSize };
    return OK;
  });
}
