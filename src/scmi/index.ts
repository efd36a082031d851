/**
 * The SCMI backend library (scmi-virtio.md §5–§9, §12): message header and framing, the
 * platform description and vote book, agents and their policy, the protocol handlers and the
 * backend that dispatches a request from an agent to them. Architecture: src/scmi/api.ts.
 */
export * from './api.js';
export {
  SCMI_HEADER_BYTES,
  SCMI_ERROR_REPLY_BYTES,
  buildRequest,
  decodeHeader,
  encodeHeader,
  frameError,
  frameResponse,
  parseResponse,
  readHeaderWord,
} from './header.js';
export type { ParsedResponse } from './header.js';
export { LONG_NAME_BYTES, ParamReader, PayloadWriter, SHORT_NAME_BYTES, ScmiParamError, fail, ok, okU32 } from './wire.js';
export { roundInSet, setContains, setCount, setMax, setMin } from './levels.js';
export type { RoundMode } from './levels.js';
export { checkPlatformDesc, MAX_RESOURCE_NAME, MAX_RESOURCES } from './platform-check.js';
export { ScmiPlatformState } from './platform-state.js';
export type { PlatformStateOptions } from './platform-state.js';
export { DefaultDevice, defaultPlatform } from './default-platform.js';
export { CALLER_AGENT_ID, HOST_AGENT_ID, PLATFORM_AGENT_ID, PLATFORM_AGENT_NAME } from './agents.js';
export type { AgentPolicy, DeviceGrant, OpenAgentSpec } from './agents.js';
export { ScmiBackend } from './backend.js';
export type { ScmiAgentHandle, ScmiBackendOptions } from './backend.js';
export * from './protocols/index.js';
