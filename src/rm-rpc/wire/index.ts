/**
 * RM RPC wire codecs: pure functions over bytes. Header and frames, whole messages and their
 * fragmentation, message IDs, error codes, and the payload catalogue.
 */
export * from './header.js';
export * from './message.js';
export * from './msg-ids.js';
export * from './errors.js';
export * from './codec.js';
export * from './enums.js';
export * from './vm-mgmt.js';
export * from './vm-creation.js';
export * from './mem.js';
export * from './irq.js';
export * from './console.js';
export * from './ipa.js';
export * from './firmware.js';
export * from './notifications.js';
export * from './catalogue.js';
