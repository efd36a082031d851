/**
 * The guest layer's public surface: what runs inside a guest VM. The hypervisor starts
 * `bootGuest` on each vCPU; VMMs and tests build images with `holdingCellImage()` and
 * `guestProgram()`. Imports only src/shared (DESIGN.md layering).
 *
 * Reference: DESIGN.md "Guest images"; docs/guest-images.md.
 */

export { Esr, GuestException } from './api.js';
export type { AccessLen, BootGuest, GuestCpu, GuestImage, GuestOp, GuestThread } from './api.js';
export { bootGuest, loadGuestImage } from './boot.js';
export {
  GUEST_IMAGE_HEADER_SIZE,
  GUEST_IMAGE_MAX_LENGTH,
  GUEST_PROGRAM_MAGIC,
  HOLDING_CELL_MAGIC,
  decodeGuestImageHeader,
} from './image-header.js';
export type { GuestImageHeader, GuestImageKind } from './image-header.js';
export { HOLDING_CELL_IMAGE_SIZE, HOLDING_CELL_IMAGE_VERSION, holdingCellImage, runHoldingCell } from './holding-cell.js';
export {
  BOOT_REG_SP_EL1,
  HOLDING_CELL_ACCESS_LEN,
  HOLDING_CELL_MAGIC_VALUE,
  HOLDING_CELL_MAX_ID,
  HOLDING_CELL_NARGS,
  HOLDING_CELL_NOK,
  HOLDING_CELL_PAGE_PATTERN,
  HOLDING_CELL_PAGE_SIZE,
  HOLDING_CELL_STACK_KEY,
  HoldingCellCmd,
  HoldingCellErrorLine,
  HoldingCellEsr,
  HoldingCellReg,
  HoldingCellWord,
  holdingCellWord,
} from './holding-cell-protocol.js';
export { GUEST_VA_LIMIT } from './guest-va.js';
export { GuestProgramBuilder, guestProgram } from './program-builder.js';
export type { ScmiCallOptions, U64Like, VirtioScmiProbeOpts } from './program-builder.js';
export {
  SCMI_CALL_MAX_WORDS,
  SCMI_DATA_WORDS,
  ScmiCallFlag,
  VirtioScmiProbeFlag,
  scmiCallDataChunks,
  GUEST_HVC_MAX_ARGS,
  GUEST_INSN_SIZE,
  GUEST_PROGRAM_HEADER_SIZE,
  GUEST_PROGRAM_VERSION,
  ProgramOp,
  decodeGuestProgram,
  encodeGuestProgram,
  formatGuestInstruction,
} from './program-format.js';
export type { GuestInstruction, GuestProgram } from './program-format.js';
export { PROGRAM_IDLE_LIMIT, ProgramEsr, loadGuestProgram } from './program-engine.js';
export type { GuestProgramImage } from './program-engine.js';
export { GUNYAH_PAGE_RELINQUISH_FN, PsciFn, RelinquishFlag } from './smccc.js';
export {
  VIRTIO_SCMI_BUFFER_SIZE,
  VIRTIO_SCMI_MAX_PARAMS,
  VIRTIO_SCMI_MAX_PAYLOAD,
  VIRTIO_SCMI_MAX_QUEUE_SIZE,
  VIRTIO_SCMI_MMIO_SIZE,
  VIRTIO_SCMI_RESET_POLLS,
  VIRTIO_SCMI_STATE_KEY,
  VirtioScmiEsr,
  VirtioScmiFeature,
  VirtioScmiReg,
  VirtioScmiStatusBit,
  isVirtioScmiQueueSize,
  scmiRequestHeader,
  virtioScmiCall,
  virtioScmiChannel,
  virtioScmiLayout,
  virtioScmiProbe,
} from './virtio-scmi-driver.js';
export type {
  ScmiCallReply,
  ScmiRequest,
  VirtioScmiChannel,
  VirtioScmiDriverState,
  VirtioScmiLayout,
  VirtioScmiProbeOptions,
  VirtqLayout,
} from './virtio-scmi-driver.js';
