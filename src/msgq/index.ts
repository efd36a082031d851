/**
 * Hypervisor message queues: one-way queues, connected endpoint pairs, and the asynchronous
 * endpoint form used across processes.
 */
export { MsgQueue, RM_MSGQ_CONFIG, checkMsgQueueConfig } from './msgqueue.js';
export type { MsgQueueConfig, MsgQueueEvents, SendResult, ReceiveResult } from './msgqueue.js';
export { QueueEndpoint, createMsgqPair } from './endpoint.js';
export type { MsgqEndpoint, EndpointEvents } from './endpoint.js';
export { asAsyncEndpoint } from './async-endpoint.js';
export type { AsyncMsgqEndpoint } from './async-endpoint.js';
export { listenMsgq, connectMsgq, connectControl, parseTarget, formatTarget, SocketMsgqEndpoint, MsgqSocketError, isMsgqSocketError, MSGQ_SOCKET_VERSION } from './socket.js';
export type { MsgqTarget, MsgqSocketErrorReason, MsgqServerHandlers, ServedEndpoint, MsgqListenOptions, MsgqServerAddress, MsgqSocketServer, MsgqConnectOptions, MsgqControlClient } from './socket.js';
