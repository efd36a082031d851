/**
 * Test utilities shipped with the library (never imported by production code): conformance
 * targets and the conformance test DT.
 */
export { builtinTarget, socketTarget, openTarget, channelOver } from './conformance/targets.js';
export { buildTestDtb } from './conformance/dtb.js';
