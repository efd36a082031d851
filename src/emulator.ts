/**
 * One emulated machine: the hypervisor, the RM VM, and the host kernel's RM client, wired by
 * message queues exactly as on hardware. Everything hangs off the instance; two emulators in
 * one process share nothing.
 *
 * Reference: DESIGN.md ("Public contracts": createEmulator, rmChannel). The raw channel of a
 * VM is that VM's own RM queue pair. While a raw channel of the host VM is open, the host
 * kernel's client is detached from it (its calls fail with ENODEV), so the raw user is the
 * only client; closing the channel attaches a fresh client again.
 *
 * Each emulator has one SCMI backend (`emu.scmi`, docs/scmi.md): the host votes through its
 * trusted agent (`emu.scmi.host`), and VMs connect through the GUNYAH_FN_SCMI function, which
 * the kernel registers by default next to vCPU, irqfd and ioeventfd.
 *
 * Tracing (docs/tracing.md): with `options.trace`, one stamping tracer (`emu.trace`) is handed
 * to every layer — host process (ioctls), kernel, RM server and host client, hypervisor (host
 * hypercalls, vcpu_run, guest engines), SCMI backend, fault injector — and the counters of lent
 * memory and SCMI votes are installed. Without it no layer gets a tracer.
 *
 * Dialect (`options.dialect`, README.md §Dialects): 'v17' (default) is the upstream `gunyah_`
 * driver; 'gh' is the v14 / Android Common Kernel `gh_` driver (docs/gh-dialect.md), with the RM's
 * image parcel kept at VM_START by default (`rm.imageParcelAtStart: 'keep'`), because that driver
 * takes its regions back with MEM_RECLAIM after the reset, which an absorbed parcel would refuse.
 */
import { Hypervisor } from './hyp/hypervisor.js';
import { HostProcess } from './host/process.js';
import { GunyahKernel } from './vm-mgr/kernel.js';
import type { KernelQuirks, UapiDialect, VmFunctionType } from './vm-mgr/vm-api.js';
import { vcpuFunction } from './vcpu/index.js';
import { irqfdFunction, ioeventfdFunction, scmiFunction } from './functions/index.js';
import { ScmiBackend, type ScmiBackendOptions } from './scmi/backend.js';
import { FaultInjector, type FaultPlan } from './shared/faults.js';
import { checkFaultPlan } from './fault-plan-check.js';
import { RmCalls } from './rm-rpc/client/rm-calls.js';
import type { MsgqEndpoint } from './msgq/endpoint.js';
import { ErrnoError } from './shared/errno.js';
import { HypError, isHypError } from './shared/hyp-errors.js';
import { silentLogger, type Logger } from './shared/log.js';
import { createStampingTracer, type StampingTracer, type TraceSink } from './shared/trace.js';
import { describeGhIoctl, describeGunyahIoctl } from './trace/ioctl-describe.js';
import { watchMemory, watchScmiVotes } from './trace/counters.js';
import { createRmClient, type RmClient } from './rm-rpc/client/rm-client.js';
import { createRmServer, type RmServer } from './rm-rpc/server/rm-server.js';
import type { RmServerOptions } from './rm-rpc/server/context.js';
import { VMID_HLOS } from './rm-rpc/server/vm-record.js';

export interface EmulatorOptions {
  /** Physical cores (default 8). */
  readonly cpus?: number;
  /** Seed for every deterministic choice (default 1). */
  readonly seed?: number;
  /** A pino logger; the emulator only makes child loggers of it. */
  readonly log?: Logger;
  /**
   * Where trace events go (docs/tracing.md). The emulator stamps each record with `seq` and a
   * virtual time `t` before the sink sees it. Without a sink nothing is traced (and nothing is
   * built for it).
   */
  readonly trace?: TraceSink;
  /** RM behaviour switches (assertion mode, firmware generation). */
  readonly rm?: Partial<RmServerOptions>;
  /** Default timeout of the host's RM calls in ms (default: wait forever, as Linux does). */
  readonly rmCallTimeoutMs?: number;
  /** Fault injection: RM calls and host hypercalls that fail (vmm-flows.md §8). */
  readonly faults?: FaultPlan;
  /** Kernel QUIRK switches (uapi.md §9); every one defaults to the real v17 behaviour. */
  readonly quirks?: Partial<KernelQuirks>;
  /**
   * Extra VM function types the kernel registers (besides vCPU, irqfd, ioeventfd and SCMI). A
   * type number given twice, or one of the built-in numbers (1, 2, 3, 0x100), is a TypeError.
   */
  readonly functionTypes?: readonly VmFunctionType[];
  /**
   * The SCMI backend (`emu.scmi`): the platform description (default `defaultPlatform()`),
   * protocols, host agent name, reply size limit. Checked: TypeError when unusable.
   */
  readonly scmi?: ScmiBackendOptions;
  /**
   * The `/dev/gunyah` UAPI the host kernel speaks (default 'v17'). 'gh' is the v14 / Android
   * Common Kernel driver (docs/gh-dialect.md); it also makes `rm.imageParcelAtStart` default to
   * 'keep' (an explicit `rm.imageParcelAtStart` still wins).
   */
  readonly dialect?: UapiDialect;
}

/** Physical memory the host kernel gives to guest-memory files: 256 GiB from 4 GiB up. */
const GUEST_PAGE_POOL = { base: 0x1_0000_0000, size: 256 * 2 ** 30 } as const;

/** A raw end of a VM's RM queue pair (DESIGN.md: `emulator.rmChannel`). */
export interface RmChannel {
  readonly vmid: number;
  /** One message-queue send. @throws HypError ERROR_MSGQUEUE_FULL when the queue is full. */
  send(bytes: Uint8Array, opts?: { push?: boolean }): { ready: boolean };
  /** The next message from the RM, waiting for one if the queue is empty. */
  recv(): Promise<{ bytes: Uint8Array; ready: boolean }>;
  /** True when a message is waiting to be received. */
  readonly rxPending: boolean;
  close(): void;
}

export class Emulator {
  readonly hyp: Hypervisor;
  readonly rm: RmServer;
  readonly log: Logger;
  /** The VMM's process: `/dev/gunyah`, user memory, mmap, eventfds (DESIGN.md HostProcess). */
  readonly host: HostProcess;
  /** The host kernel's Gunyah driver. */
  readonly kernel: GunyahKernel;
  /** What the fault plan fired so far. */
  readonly faults: FaultInjector;
  /** The SCMI backend: platform state, agents (host and VMs), protocols (docs/scmi.md). */
  readonly scmi: ScmiBackend;
  /**
   * The stamping tracer in front of `options.trace` (undefined without a sink): layers emit into
   * it; a driver (CLI, scenario runner) may too, and `trace.count` is the last `seq`.
   */
  readonly trace: StampingTracer | undefined;
  /** The UAPI dialect of `/dev/gunyah` ('v17' or 'gh'). */
  readonly dialect: UapiDialect;
  readonly #opts: EmulatorOptions;
  readonly #notifListeners = new Set<(msgId: number, payload: Uint8Array) => void>();
  #hostClient: RmClient | undefined;
  #hostHeld = false;
  #closed = false;

  constructor(opts: EmulatorOptions = {}) {
    this.#opts = opts;
    const dialect = opts.dialect ?? 'v17';
    if (dialect !== 'v17' && dialect !== 'gh') throw new TypeError(`dialect must be 'v17' or 'gh', got ${String(dialect)}`);
    this.dialect = dialect;
    this.log = opts.log ?? silentLogger();
    if (opts.faults) checkFaultPlan(opts.faults);
    const trace = opts.trace ? createStampingTracer(opts.trace) : undefined;
    this.trace = trace;
    const traced = trace ? { trace } : {};
    this.faults = new FaultInjector(opts.faults, trace);
    this.scmi = new ScmiBackend({ ...opts.scmi, ...traced });
    const functionTypes = [vcpuFunction, irqfdFunction, ioeventfdFunction, scmiFunction(this.scmi), ...(opts.functionTypes ?? [])];
    checkFunctionTypes(functionTypes);
    this.hyp = new Hypervisor({ cpus: opts.cpus ?? 8, faults: this.faults, ...traced });
    this.rm = createRmServer({
      hyp: this.hyp,
      log: this.log,
      seed: opts.seed ?? 1,
      faults: this.faults,
      ...traced,
      ...(dialect === 'gh' ? { imageParcelAtStart: 'keep' as const } : {}),
      ...opts.rm,
    });
    this.#hostClient = this.#newHostClient();
    const hyp = this.hyp;
    this.kernel = new GunyahKernel({
      hyp: hyp.host,
      rm: () => this.#rmCalls(),
      subscribe: (fn) => {
        this.#notifListeners.add(fn);
        return () => void this.#notifListeners.delete(fn);
      },
      pagePool: GUEST_PAGE_POOL,
      discard: (pa, size) => hyp.memory.zero(pa, size),
      functionTypes,
      log: this.log,
      dialect,
      ...(opts.quirks ? { quirks: opts.quirks } : {}),
      ...traced,
    });
    this.host = this.newProcess();
    if (trace) {
      watchMemory(this.hyp, this.rm, trace);
      watchScmiVotes(this.scmi.platform, trace);
    }
  }

  /**
   * A further VMM process on the same kernel (its own fd table, user memory and mappings), as a
   * second process opening `/dev/gunyah` on one machine. `emu.host` is the first one; the host
   * bridge daemon (src/bridge) gives each client its own.
   */
  newProcess(): HostProcess {
    const trace = this.trace;
    return new HostProcess({
      devices: new Map([['/dev/gunyah', () => this.kernel.openDevice()]]),
      anonymousMemory: (length) => this.kernel.anonymousMemory(length),
      log: this.log,
      ...(trace ? { trace, describeIoctl: this.dialect === 'gh' ? describeGhIoctl : describeGunyahIoctl } : {}),
    });
  }

  #rmCallsCache: { client: RmClient; calls: RmCalls } | undefined;
  #rmCalls(): RmCalls {
    const client = this.rmClient;
    if (this.#rmCallsCache?.client !== client) this.#rmCallsCache = { client, calls: new RmCalls(client) };
    return this.#rmCallsCache.calls;
  }

  /**
   * The host kernel's RM client on the host VM's link.
   * @throws ErrnoError ENODEV while a raw channel of the host VM is open
   */
  get rmClient(): RmClient {
    if (!this.#hostClient) throw new ErrnoError('ENODEV', 'the host RM link is held by a raw channel');
    return this.#hostClient;
  }

  /**
   * The raw RM queue pair of `vmid` (default: the host VM). For another VM the link exists
   * from its VM_INIT until its reset completes.
   * @throws ErrnoError ENOENT when the VM has no RM link; EBUSY when a raw channel of it is open
   */
  rmChannel(vmid: number = VMID_HLOS): RmChannel {
    const { endpoint, release } = this.acquireRmEndpoint(vmid);
    return rawChannel(vmid, endpoint, release);
  }

  /**
   * The VM-side end of `vmid`'s RM link, for a user that speaks raw frames (rmChannel, the
   * socket transport of `rm serve`). For the host VM this detaches the host kernel's client
   * until `release()` is called.
   * @throws ErrnoError ENOENT when the VM has no RM link; EBUSY when the host link is held
   */
  acquireRmEndpoint(vmid: number = VMID_HLOS): { endpoint: MsgqEndpoint; release: () => void } {
    if (this.#closed) throw new ErrnoError('ENODEV', 'emulator closed');
    const endpoint = this.rm.vmEndpoint(vmid);
    if (!endpoint) throw new ErrnoError('ENOENT', `VM ${vmid} has no RM link`);
    if (vmid !== VMID_HLOS) return { endpoint, release: () => {} };
    if (this.#hostHeld) throw new ErrnoError('EBUSY', 'the host VM\'s RM link is already held by a raw user');
    this.#hostHeld = true;
    this.#hostClient?.close();
    this.#hostClient = undefined;
    let released = false;
    return {
      endpoint,
      release: () => {
        if (released) return;
        released = true;
        this.#hostHeld = false;
        if (!this.#closed) this.#hostClient = this.#newHostClient();
      },
    };
  }

  /** Invariant checks over every layer; an empty list means all hold. */
  checkInvariants(): string[] {
    return [...this.rm.checkInvariants(), ...this.kernel.checkInvariants()];
  }

  /**
   * Close every fd and mapping of the host process (tearing its VMs down in the real order),
   * then stop the emulator.
   */
  async shutdown(): Promise<void> {
    if (!this.#closed) await this.host.closeAll();
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.kernel.close();
    this.#hostClient?.close();
    this.#hostClient = undefined;
    this.rm.close();
  }

  #newHostClient(): RmClient {
    const ep = this.rm.vmEndpoint(VMID_HLOS);
    if (!ep) throw new Error('the RM has no host link');
    const trace = this.trace;
    const client = createRmClient({
      transport: ep,
      log: this.log,
      ...(trace ? { trace } : {}),
      ...(this.#opts.rmCallTimeoutMs !== undefined ? { timeoutMs: this.#opts.rmCallTimeoutMs } : {}),
    });
    client.events.on('notification', (n) => {
      for (const fn of [...this.#notifListeners]) fn(n.msgId, n.payload);
    });
    return client;
  }
}

/** Every function type number once (the kernel keys its table by number). */
function checkFunctionTypes(types: readonly VmFunctionType[]): void {
  const seen = new Set<number>();
  for (const t of types) {
    if (seen.has(t.type)) throw new TypeError(`function type ${t.type} (0x${t.type.toString(16)}) is registered twice`);
    seen.add(t.type);
  }
}

function rawChannel(vmid: number, ep: MsgqEndpoint, onClose: () => void): RmChannel {
  let closed = false;
  let waiters: Array<() => void> = [];
  const onRx = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  ep.events.on('rx', onRx);
  const ch: RmChannel = {
    vmid,
    send(bytes, opts) {
      if (closed) throw new HypError('ERROR_CSPACE_CAP_NULL', 'channel closed');
      return ep.send(bytes, opts?.push ?? false);
    },
    async recv() {
      for (;;) {
        if (closed) throw new ErrnoError('EBADF', 'channel closed');
        try {
          return ep.receive();
        } catch (err) {
          if (!isHypError(err, 'ERROR_MSGQUEUE_EMPTY')) throw err;
        }
        await new Promise<void>((res) => waiters.push(res));
      }
    },
    get rxPending() {
      return ep.rxPending;
    },
    close() {
      if (closed) return;
      closed = true;
      ep.events.off('rx', onRx);
      onRx();
      onClose();
    },
  };
  return ch;
}

/** Create an emulator (DESIGN.md public contract). */
export function createEmulator(opts: EmulatorOptions = {}): Emulator {
  return new Emulator(opts);
}
