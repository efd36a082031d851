/**
 * gunyah-emu public entry point (DESIGN.md "Public contracts").
 */
export { createEmulator, Emulator } from './emulator.js';
export type { EmulatorOptions, RmChannel } from './emulator.js';
export { ErrnoError, Errno, isErrnoError } from './shared/errno.js';
export type { ErrnoName } from './shared/errno.js';
export { HypError, HypErrorCode, isHypError, hypErrorToErrno } from './shared/hyp-errors.js';
export { WireError, isWireError } from './shared/wire-error.js';
export { RmError, RmErrorCode, rmErrorName, rmErrorToErrno } from './rm-rpc/wire/errors.js';
export { RmMsgId, RmNotifId, rmMsgName, rmNotifName } from './rm-rpc/wire/msg-ids.js';
export { RmCalls, RmClient, createRmClient, onVmExited, onVmStatus } from './rm-rpc/client/index.js';
export { FdtBuilder, parseFdt, serializeFdt } from './fdt/index.js';
export { createMemoryTraceSink } from './shared/trace.js';
export type { TraceEvent, TraceSink } from './shared/trace.js';
export type { RmControl, RmInspection, PlatformParcelSpec } from './rm-rpc/server/control.js';
