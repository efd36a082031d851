/**
 * RM RPC wire codecs: pure functions over bytes. Header and frames, whole messages and their
 * fragmentation, message IDs, error codes, and the payload catalogue.
 */
export * from './header.js';
export * from './message.js';
export * from './msg-ids.js';
export * from './errors.js';
