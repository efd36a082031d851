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
export { createJsonLinesSink, createLogSink, formatTraceLine, parseJsonLines, teeTraceSinks, traceHeader, TRACE_EVENT_KINDS } from './trace/index.js';
export type { ClosableTraceSink, StampedTraceEvent, TraceEventData, TraceEventKind } from './trace/index.js';
export type { RmControl, RmInspection, PlatformParcelSpec } from './rm-rpc/server/control.js';
export { HostProcess } from './host/process.js';
export type { Mapping } from './host/process.js';
export { SigbusError, isSigbusError } from './shared/sigbus-error.js';
export type { FaultPlan, RmFault, HypercallFault, VcpuRunFault, VmExitedFault } from './shared/faults.js';
export * from './vm-mgr/uapi/index.js';
export { DEFAULT_QUIRKS } from './vm-mgr/vm-api.js';
export type { KernelQuirks } from './vm-mgr/vm-api.js';
export { GunyahDevice, VmFd, VcpuFd, GuestMemFd, buildVmDtb, ScmiVirtioDevice } from './vmm/index.js';
export type {
  HostLike,
  HostMapping,
  MapMemOptions,
  IoeventfdOptions,
  VmDtbOptions,
  VmDtbDoorbell,
  VmDtbVirtioMmio,
  VmDtbScmi,
  ScmiAgentSpec,
  ScmiVirtioDeviceOptions,
} from './vmm/index.js';
export { holdingCellImage, guestProgram, decodeGuestProgram } from './guest/index.js';
export { ScmiBackend, defaultPlatform } from './scmi/index.js';
export type { ScmiBackendOptions, ScmiAgentHandle, ScmiPlatformDesc } from './scmi/index.js';
export { SCMI_FUNCTION_FEATURES } from './functions/scmi-arg-check.js';
