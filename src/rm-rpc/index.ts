/**
 * The RM RPC layer: wire codecs, the host's client, and the emulated RM server.
 */
export * from './wire/index.js';
export * from './client/index.js';
export { RmServer, createRmServer } from './server/rm-server.js';
export type { CreateRmServerOptions, RmServerEvents } from './server/rm-server.js';
export type { RmServerOptions } from './server/context.js';
export type { RmControl, RmInspection, PlatformParcelSpec } from './server/control.js';
