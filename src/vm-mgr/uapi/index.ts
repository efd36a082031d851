/**
 * The v17 `/dev/gunyah` UAPI as data: ioctl numbers, flags and enums, argument-struct codecs and
 * the vCPU run-page layout, all under upstream names. Reference: uapi.md §1–§5.
 * Pure: no state, no side effects; the kernel model (src/vm-mgr, src/vcpu) does the validation.
 */
export * from './ioctls.js';
export * from './constants.js';
export * from './structs.js';
export * from './run-page.js';
export * from './scmi-arg.js';
