/**
 * The SCMI backend: one per emulator. It owns the platform state (vote book), the agent
 * registry and the protocol set, and turns one request (the bytes of a cmdq chain's readable
 * part) from one agent into the response bytes (scmi-virtio.md §5 device rules, §6 header,
 * §9.1 common messages, §12 per-VM agents; docs/decisions.md "SCMI").
 *
 *   dispatch(handle, request)
 *     < 4 bytes                    → PROTOCOL_ERROR (S5)
 *     message_type ≠ command       → NOT_SUPPORTED
 *     protocol unknown / not given → NOT_SUPPORTED
 *     0x0 PROTOCOL_VERSION, 0x2 PROTOCOL_MESSAGE_ATTRIBUTES, 0x10 NEGOTIATE (generic, S6)
 *     message not implemented      → NOT_SUPPORTED
 *     otherwise                    → protocol.handle(call)
 *   response = header word echoed, s32 status, return values on SUCCESS only (else 8 bytes).
 *
 * A handler's parameter read past the end becomes PROTOCOL_ERROR; any other exception, or a
 * reply larger than `maxPayload`, becomes GENERIC_ERROR and is kept in `internalErrors`: a
 * guest's bytes never make dispatch throw.
 *
 * Agents: the host (agent 1, trusted) exists from the start; VM agents come and go with
 * openAgent / closeAgent, and closing releases every vote of the agent. The host's votes are
 * never released by a VM's close.
 */
import type { ScmiAgent, ScmiCall, ScmiPlatformDesc, ScmiProtocol, ScmiReply } from './api.js';
import { SCMI_MAX_PAYLOAD, ScmiCommonMsg, ScmiMessageType, ScmiProtocolId, ScmiStatus } from './api.js';
import { ErrnoError } from '../shared/errno.js';
import type { AgentPolicy, OpenAgentSpec } from './agents.js';
import { AgentRecord, AgentRegistry, HOST_AGENT_ID } from './agents.js';
import { defaultPlatform } from './default-platform.js';
import { decodeHeader, frameError, frameResponse, readHeaderWord } from './header.js';
import { ScmiPlatformState } from './platform-state.js';
import { baseProtocol } from './protocols/base.js';
import { defaultProtocols } from './protocols/index.js';
import { ScmiParamError, okU32 } from './wire.js';
import type { Tracer } from '../shared/trace-events.js';

/** Requests up to this many bytes have their parameters copied rather than viewed (serve). */
const SMALL_REQUEST = 64;

export interface ScmiBackendOptions {
  /** The host's resources (default: `defaultPlatform()`). Checked: TypeError when unusable. */
  readonly platform?: ScmiPlatformDesc;
  /** Protocols other than Base, at most one per ID (default: `defaultProtocols()`). */
  readonly protocols?: readonly ScmiProtocol[];
  /** The host agent's name (default "host"). */
  readonly hostName?: string;
  /** Largest return-value payload a reply may carry (default SCMI_MAX_PAYLOAD, 128). */
  readonly maxPayload?: number;
  /** Where `scmi.msg` records go (begin and end of each dispatched request; docs/tracing.md). */
  readonly trace?: Tracer;
}

/** An agent's connection to the backend (the RFC's "client handle", §12.2). */
export interface ScmiAgentHandle {
  readonly agentId: number;
  readonly agent: ScmiAgent;
  /** True once closeAgent ran. */
  readonly closed: boolean;
}

class AgentHandle implements ScmiAgentHandle {
  closed = false;
  constructor(
    readonly owner: ScmiBackend,
    readonly record: AgentRecord,
  ) {}
  get agentId(): number {
    return this.record.agentId;
  }
  get agent(): ScmiAgent {
    return this.record;
  }
}

/** Internal errors kept for inspection (the oldest are dropped). */
const MAX_INTERNAL_ERRORS = 16;

const VALID_STATUS = new Set<number>(Object.values(ScmiStatus));
const STATUS_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(ScmiStatus).map(([k, v]) => [v, k]));

export class ScmiBackend {
  readonly platform: ScmiPlatformState;
  /** The trusted host agent (1). It cannot be closed. */
  readonly host: ScmiAgentHandle;
  /** Handler failures turned into GENERIC_ERROR, newest last (at most 16). */
  readonly internalErrors: { readonly header: number; readonly error: unknown }[] = [];
  readonly maxPayload: number;

  private readonly registry: AgentRegistry;
  private readonly protocols = new Map<number, ScmiProtocol>();
  private readonly handles = new Map<number, AgentHandle>();
  private readonly trace: Tracer | undefined;

  constructor(options: ScmiBackendOptions = {}) {
    this.trace = options.trace;
    const desc = options.platform ?? defaultPlatform();
    this.platform = new ScmiPlatformState(desc, { hostVoter: HOST_AGENT_ID });
    this.maxPayload = options.maxPayload ?? SCMI_MAX_PAYLOAD;
    if (!Number.isInteger(this.maxPayload) || this.maxPayload < 0) throw new TypeError(`SCMI maxPayload ${this.maxPayload}`);

    const list = options.protocols ?? defaultProtocols();
    for (const p of list) {
      if (!Number.isInteger(p.id) || p.id < 0 || p.id > 0xff) throw new TypeError(`SCMI protocol id ${String(p.id)} out of range`);
      if (p.id === ScmiProtocolId.BASE) throw new TypeError('SCMI protocols: Base (0x10) is built by the backend, leave it out');
      if (this.protocols.has(p.id)) throw new TypeError(`SCMI protocols: 0x${p.id.toString(16)} given twice`);
      this.protocols.set(p.id, p);
    }
    const implemented = [...this.protocols.keys()].sort((a, b) => a - b);
    this.registry = new AgentRegistry(desc, implemented, options.hostName);
    this.protocols.set(
      ScmiProtocolId.BASE,
      baseProtocol({
        desc,
        registry: this.registry,
        policyChanged: (agent) => this.policyChanged(agent),
        resetAgent: (agent, resetPermissions) => this.resetAgent(agent, resetPermissions),
      }),
    );
    const host = new AgentHandle(this, this.registry.host);
    this.handles.set(HOST_AGENT_ID, host);
    this.host = host;
    this.openHooks(this.registry.host);
  }

  /** Implemented protocol IDs, Base included, ascending. */
  protocolIds(): readonly number[] {
    return [...this.protocols.keys()].sort((a, b) => a - b);
  }

  /** A live agent by ID (host or VM). */
  agent(agentId: number): ScmiAgent | undefined {
    return this.registry.get(agentId);
  }

  /** Live agents (host and VMs), ascending by ID. */
  agents(): readonly ScmiAgent[] {
    return this.registry.live();
  }

  /**
   * Connect a VM agent. ErrnoError EINVAL (nothing added) when the ID is not 2..0xFFFFFFFE or is
   * taken by a live agent, the name is not 1..15 printable ASCII characters, the vmid is not
   * 0..0xFFFF, a device is unknown or given twice, or a protocol is not implemented.
   */
  openAgent(spec: OpenAgentSpec): ScmiAgentHandle {
    const rec = this.registry.add(spec);
    const h = new AgentHandle(this, rec);
    this.handles.set(rec.agentId, h);
    this.openHooks(rec);
    return h;
  }

  /**
   * Disconnect an agent: each protocol's close hook, then every vote of the agent is released
   * and the aggregates recomputed. Closing a closed handle does nothing. ErrnoError EINVAL for
   * the host's handle or a handle of another backend.
   */
  closeAgent(handle: ScmiAgentHandle): void {
    const h = this.own(handle);
    if (h.closed) return;
    if (h.record.agentId === HOST_AGENT_ID) throw new ErrnoError('EINVAL', 'the SCMI host agent cannot be closed');
    h.closed = true;
    this.handles.delete(h.record.agentId);
    this.registry.remove(h.record.agentId);
    try {
      this.closeHooks(h.record);
    } finally {
      this.platform.releaseVoter(h.record.agentId);
    }
  }

  /**
   * Replace a VM agent's policy (and the one BASE_RESET_AGENT_CONFIGURATION returns to); its
   * votes on resources it may no longer control are released. ErrnoError EINVAL for an unknown
   * or trusted agent or an invalid policy.
   */
  setPolicy(agentId: number, policy: AgentPolicy): void {
    const rec = this.registry.get(agentId);
    if (!rec || rec.trusted) throw new ErrnoError('EINVAL', `SCMI agent ${agentId}: no VM agent with that id`);
    const p = this.registry.checkPolicy(policy);
    rec.configuredPolicy = p;
    rec.applyPolicy(p);
    this.policyChanged(rec);
  }

  /**
   * Answer one request from `handle`'s agent. Never throws for any request bytes; ErrnoError
   * EBADF for a closed handle, EINVAL for a handle of another backend.
   */
  dispatch(handle: ScmiAgentHandle, request: Uint8Array): Uint8Array {
    const h = this.own(handle);
    if (h.closed) throw new ErrnoError('EBADF', `SCMI agent ${h.record.agentId} is closed`);
    if (this.trace === undefined) return this.serve(h, request);
    const trace = this.trace;
    const w = readHeaderWord(request);
    const hd = decodeHeader(w ?? 0);
    const msg = { agent: h.record.agentId, protocol: hd.protocolId, message: hd.messageId, token: hd.token };
    trace.emit({ kind: 'scmi.msg', phase: 'begin', ...msg });
    const response = this.serve(h, request);
    const status = response.length >= 8 ? new DataView(response.buffer, response.byteOffset, 8).getInt32(4, true) : undefined;
    trace.emit({ kind: 'scmi.msg', phase: 'end', ...msg, ...(status !== undefined ? { status, statusName: STATUS_NAMES.get(status) ?? String(status) } : {}) });
    return response;
  }

  private serve(h: AgentHandle, request: Uint8Array): Uint8Array {
    const word = readHeaderWord(request);
    if (word === undefined) {
      let partial = 0;
      for (let i = 0; i < request.length; i++) partial |= request[i]! << (8 * i);
      return frameError(partial >>> 0, ScmiStatus.PROTOCOL_ERROR);
    }
    const header = decodeHeader(word);
    if (header.messageType !== ScmiMessageType.COMMAND) return frameError(word, ScmiStatus.NOT_SUPPORTED);
    const agent = h.record;
    const protocol = this.protocols.get(header.protocolId);
    if (!protocol || !agent.mayUseProtocol(header.protocolId)) return frameError(word, ScmiStatus.NOT_SUPPORTED);
    // A copy for a small request, not a view: the request is usually a typed array of a few
    // bytes on the JS heap, and a view (subarray) makes V8 give it an ArrayBuffer first, which
    // costs several times the copy. The handlers only read their parameters.
    const params = request.length <= SMALL_REQUEST ? request.slice(4) : request.subarray(4);
    const reply = this.answer(agent, protocol, header, params, word);
    return frameResponse(word, reply);
  }

  private answer(
    agent: AgentRecord,
    protocol: ScmiProtocol,
    header: ScmiCall['header'],
    params: Uint8Array,
    word: number,
  ): ScmiReply {
    const id = header.messageId;
    try {
      if (id === ScmiCommonMsg.PROTOCOL_VERSION) return okU32(protocol.version);
      if (id === ScmiCommonMsg.PROTOCOL_MESSAGE_ATTRIBUTES) {
        if (params.length < 4) return { status: ScmiStatus.PROTOCOL_ERROR };
        const asked = new DataView(params.buffer, params.byteOffset, 4).getUint32(0, true);
        const attrs = protocol.messages.get(asked) ?? (asked === ScmiCommonMsg.NEGOTIATE_PROTOCOL_VERSION ? 0 : undefined);
        return attrs === undefined ? { status: ScmiStatus.NOT_FOUND } : okU32(attrs);
      }
      if (id === ScmiCommonMsg.NEGOTIATE_PROTOCOL_VERSION && !protocol.messages.has(id)) {
        if (params.length < 4) return { status: ScmiStatus.PROTOCOL_ERROR };
        const v = new DataView(params.buffer, params.byteOffset, 4).getUint32(0, true);
        if (v !== protocol.version) return { status: ScmiStatus.NOT_SUPPORTED };
        this.protocolState(agent, protocol.id).negotiatedVersion = v;
        return { status: ScmiStatus.SUCCESS };
      }
      if (!protocol.messages.has(id)) return { status: ScmiStatus.NOT_SUPPORTED };
      const reply = protocol.handle({ agent, header, params, platform: this.platform });
      if (!VALID_STATUS.has(reply.status)) return this.internal(word, new Error(`handler status ${String(reply.status)}`));
      if (reply.status === ScmiStatus.SUCCESS && (reply.payload?.length ?? 0) > this.maxPayload) {
        return this.internal(word, new Error(`reply payload ${reply.payload!.length} bytes > ${this.maxPayload}`));
      }
      if (id === ScmiCommonMsg.NEGOTIATE_PROTOCOL_VERSION && reply.status === ScmiStatus.SUCCESS && params.length >= 4) {
        this.protocolState(agent, protocol.id).negotiatedVersion = new DataView(params.buffer, params.byteOffset, 4).getUint32(0, true);
      }
      return reply;
    } catch (e) {
      if (e instanceof ScmiParamError) return { status: e.status };
      return this.internal(word, e);
    }
  }

  /** The version `agent` negotiated for a protocol, if it did (per-agent protocol state). */
  negotiatedVersion(agentId: number, protocolId: number): number | undefined {
    return this.registry.get(agentId)?.protocolState.get(protocolId)?.negotiatedVersion;
  }

  private protocolState(agent: AgentRecord, protocolId: number): { negotiatedVersion?: number } {
    let s = agent.protocolState.get(protocolId);
    if (!s) agent.protocolState.set(protocolId, (s = {}));
    return s;
  }

  private internal(word: number, error: unknown): ScmiReply {
    this.internalErrors.push({ header: word, error });
    if (this.internalErrors.length > MAX_INTERNAL_ERRORS) this.internalErrors.shift();
    return { status: ScmiStatus.GENERIC_ERROR };
  }

  private own(handle: ScmiAgentHandle): AgentHandle {
    if (!(handle instanceof AgentHandle) || handle.owner !== this) {
      throw new ErrnoError('EINVAL', 'not an SCMI agent handle of this backend');
    }
    return handle;
  }

  private policyChanged(agent: AgentRecord): void {
    this.platform.releaseVotes(agent.agentId, (kind, id) => agent.mayControl(kind, id));
  }

  private resetAgent(agent: AgentRecord, resetPermissions: boolean): void {
    this.closeHooks(agent);
    agent.protocolState.clear();
    if (resetPermissions) agent.applyPolicy(agent.configuredPolicy);
    this.platform.releaseVoter(agent.agentId);
    this.openHooks(agent);
  }

  private openHooks(agent: AgentRecord): void {
    for (const p of this.protocols.values()) p.open?.(agent);
  }

  private closeHooks(agent: AgentRecord): void {
    let first: { error: unknown } | undefined;
    for (const p of this.protocols.values()) {
      try {
        p.close?.(agent);
      } catch (error) {
        first ??= { error };
      }
    }
    if (first) throw first.error;
  }
}
