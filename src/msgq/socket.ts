/**
 * The msgq socket transport: message-queue endpoints reachable from another process or
 * language over a Unix socket or loopback TCP, with exact queue semantics (every send and
 * receive is executed by the process that owns the queue: a "remote hypercall").
 *
 * Reference: hypervisor.md §4 (the semantics carried), rm-rpc.md §1 (the RM's own AF_UNIX
 * datagram transport, which this replaces because Node has no datagram Unix sockets).
 * Layout and rationale: docs/socket-transport.md. This file is the public face; the parts are
 *   socket-target.ts  addresses (`unix:PATH`, `tcp:HOST:PORT`) and MsgqSocketError
 *   socket-wire.ts    the byte codec (handshake, records, stream splitter)
 *   socket-server.ts  listenMsgq(): serves MsgqEndpoints and a JSON control role
 *   socket-client.ts  connectMsgq() / connectControl(): the AsyncMsgqEndpoint and control client
 */
export { parseTarget, formatTarget, MsgqSocketError, isMsgqSocketError } from './socket-target.js';
export type { MsgqTarget, MsgqSocketErrorReason } from './socket-target.js';
export { listenMsgq } from './socket-server.js';
export type { MsgqServerHandlers, ServedEndpoint, MsgqListenOptions, MsgqServerAddress, MsgqSocketServer } from './socket-server.js';
export { connectMsgq, connectControl, SocketMsgqEndpoint } from './socket-client.js';
export type { MsgqConnectOptions, MsgqControlClient } from './socket-client.js';
export { MSGQ_SOCKET_VERSION } from './socket-wire.js';
