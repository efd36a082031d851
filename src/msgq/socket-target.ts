/**
 * Socket transport addresses: the `unix:PATH` / `tcp:HOST:PORT` strings a user types (the
 * CLI's `--target`, `rm serve --listen`), parsed into a tagged union, and the error class the
 * transport rejects with.
 *
 * Reference: docs/socket-transport.md ("Addresses"). Not from any upstream source: the RM's
 * own socket transport names its AF_UNIX sockets itself (rm-rpc.md §1).
 */

/** A parsed address. Also usable as `listenMsgq` options (it has `path`, or `host` + `port`). */
export type MsgqTarget =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** Why a transport call failed, when it is not a HypError from the remote queue. */
export type MsgqSocketErrorReason =
  | 'bad-target' // the address string does not parse
  | 'listen' //     the server could not bind its address (in use, not a socket, …)
  | 'connect' //    the socket could not be opened (ENOENT, ECONNREFUSED, …)
  | 'refused' //    the server answered the handshake with a refusal (text in the message)
  | 'closed' //     the connection is closed (by close(), or the peer went away)
  | 'protocol' //   the peer sent bytes this version cannot parse; the connection was closed
  | 'remote' //     the server closed the connection with an ERROR record (text in the message)
  | 'control'; //   the server's control handler threw (its message is ours)

/** A transport failure. `reason` is stable; the message is for people. */
export class MsgqSocketError extends Error {
  override readonly name = 'MsgqSocketError';

  constructor(
    readonly reason: MsgqSocketErrorReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** True when `e` is a MsgqSocketError, optionally with the given reason. */
export function isMsgqSocketError(e: unknown, reason?: MsgqSocketErrorReason): e is MsgqSocketError {
  return e instanceof MsgqSocketError && (reason === undefined || e.reason === reason);
}

const USAGE = 'expected unix:PATH or tcp:HOST:PORT (IPv6 hosts in brackets, e.g. tcp:[::1]:4000)';

/**
 * Parse `unix:PATH` or `tcp:HOST:PORT`. PORT is a decimal 0..65535 (0 only makes sense for
 * listening: the system picks a port). An IPv6 HOST is written in brackets.
 * @throws MsgqSocketError 'bad-target' with the reason and the expected syntax
 */
export function parseTarget(s: string): MsgqTarget {
  const bad = (why: string): MsgqSocketError => new MsgqSocketError('bad-target', `bad msgq target ${JSON.stringify(s)}: ${why}; ${USAGE}`);
  if (typeof s !== 'string') throw bad('not a string');
  if (s.startsWith('unix:')) {
    const path = s.slice('unix:'.length);
    if (path === '') throw bad('empty socket path');
    if (path.includes('\0')) throw bad('NUL byte in socket path');
    return { kind: 'unix', path };
  }
  if (s.startsWith('tcp:')) {
    const rest = s.slice('tcp:'.length);
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw bad('missing port');
    let host = rest.slice(0, colon);
    const portText = rest.slice(colon + 1);
    if (host.startsWith('[') || host.endsWith(']')) {
      if (!(host.startsWith('[') && host.endsWith(']')) || host.length < 3) throw bad('unbalanced brackets around the host');
      host = host.slice(1, -1);
    } else if (host.includes(':')) {
      throw bad('an IPv6 host must be in brackets');
    }
    if (host === '') throw bad('empty host');
    if (!/^\d{1,5}$/.test(portText)) throw bad(`port ${JSON.stringify(portText)} is not a decimal number`);
    const port = Number(portText);
    if (port > 65535) throw bad(`port ${port} is over 65535`);
    return { kind: 'tcp', host, port };
  }
  throw bad('unknown scheme');
}

/** The string form of a target (inverse of parseTarget). */
export function formatTarget(t: MsgqTarget): string {
  if (t.kind === 'unix') return `unix:${t.path}`;
  return `tcp:${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}
