/**
 * What a scenario run saw, in order: exits read back from the run page, the results and errnos
 * of the calls the VMM made, RM notifications the host received, SCMI results and votes, RUNs
 * that had not returned, eventfd counters, faults the plan fired, and the state after teardown.
 * Every record is plain JSON (u64 values as "0x…" strings), so two runs compare with deep
 * equality and a report can print them.
 *
 * Reference: uapi.md §5 (run page arms), §8.10 (STATUS exits); rm-rpc.md §13 (notification
 * payloads), §15.1 (exit types, VM status); scmi-virtio.md §9 (status codes).
 */
import { ExitType, OsStatus, VmStatus } from '../rm-rpc/wire/enums.js';
import { hex, nameOf, RUN_STATUS } from './values.js';
import type { Phase } from './types.js';

interface Base {
  /** Position in the run (0-based). */
  readonly i: number;
  readonly phase: Phase;
}

export type ExitObservation = Base & {
  readonly kind: 'exit';
  /** The global RUN count of the RUN that reported it. */
  readonly step: number;
  readonly vm: string;
  readonly vcpu: number;
} & (
    | {
        readonly exit: 'mmio';
        readonly addr: string;
        readonly len: number;
        readonly write: boolean;
        /** A write's value (its first `len` bytes). */
        readonly data?: string;
        /** The value the VMM put in mmio.data for a read. */
        readonly supplied?: string;
        /** True when the VM's SCMI device answered the access. */
        readonly device?: true;
      }
    | {
        readonly exit: 'status';
        readonly status: string;
        readonly statusCode: number;
        readonly exitType: string;
        readonly exitTypeCode: number;
        readonly reasonSize: number;
        readonly reason: string;
      }
    | { readonly exit: 'page-fault'; readonly addr: string; readonly attempt: string; readonly attemptCode: number }
    | { readonly exit: 'unknown' | 'unrecognized'; readonly exitReason: number }
  );

export type Observation =
  | ExitObservation
  | (Base & {
      readonly kind: 'ioctl';
      readonly vm?: string;
      readonly vcpu?: number;
      readonly op: string;
      readonly fn?: 'vcpu' | 'irqfd' | 'ioeventfd' | 'scmi';
      readonly detail?: string;
      readonly result?: number;
      readonly errno?: string;
      readonly step?: number;
    })
  | (Base & {
      readonly kind: 'notification';
      readonly name: string;
      readonly vm?: string;
      readonly vmid?: number;
      readonly exitType?: string;
      readonly exitTypeCode?: number;
      readonly reason?: string;
      readonly vmStatus?: string;
      readonly vmStatusCode?: number;
      readonly osStatus?: string;
      readonly osStatusCode?: number;
    })
  | (Base & {
      readonly kind: 'scmi';
      readonly what: 'result' | 'vote' | 'aggregate' | 'agent';
      readonly agent?: number;
      readonly clock?: number;
      readonly enabled?: boolean;
      readonly rate?: number;
      readonly connected?: boolean;
      readonly protocolId?: number;
      readonly messageId?: number;
      readonly status?: string;
      readonly statusCode?: number;
      readonly payload?: readonly number[];
    })
  | (Base & { readonly kind: 'pending'; readonly vm: string; readonly vcpu: number; readonly step: number })
  | (Base & { readonly kind: 'eventfd'; readonly vm: string; readonly ioeventfd?: string; readonly irqfd?: number; readonly value: string })
  | (Base & {
      readonly kind: 'fault';
      readonly layer: string;
      readonly what: string;
      readonly occurrence: number;
      /** Occurrences in a row this record stands for (a sticky fault firing again and again). */
      readonly times: number;
      readonly error: string;
    })
  | (Base & {
      readonly kind: 'shutdown';
      readonly clean: boolean;
      readonly rmVms: number;
      readonly parcels: number;
      readonly problems: readonly string[];
    })
  | (Base & { readonly kind: 'limit'; readonly what: string; readonly vm?: string; readonly vcpu?: number })
  | (Base & { readonly kind: 'error'; readonly vm?: string; readonly vcpu?: number; readonly message: string });

/** An observation before it gets its index and phase. */
export type NewObservation = Observation extends infer O ? (O extends Observation ? Omit<O, 'i' | 'phase'> : never) : never;

export const exitTypeName = (t: number): string => nameOf(ExitType, t) ?? String(t);
export const vmStatusName = (t: number): string => nameOf(VmStatus, t) ?? String(t);
export const osStatusName = (t: number): string => nameOf(OsStatus, t) ?? String(t);
export const runStatusName = (t: number): string => nameOf(RUN_STATUS, t) ?? String(t);

const who = (o: { vm?: string; vcpu?: number }): string => [o.vm, o.vcpu !== undefined ? `vCPU ${o.vcpu}` : undefined].filter((x) => x !== undefined).join(' ');

/** One line for an observation: "vm0 vCPU 0: MMIO write 0x6000 len 8 data 0x5". */
export function formatObservation(o: Observation): string {
  const at = (s: string): string => `${s}${o.phase === 'run' ? '' : ` [${o.phase}]`}`;
  switch (o.kind) {
    case 'exit': {
      const w = who(o);
      switch (o.exit) {
        case 'mmio':
          return at(
            `${w}: MMIO ${o.write ? 'write' : 'read'} ${o.addr} len ${o.len}${o.write ? ` data ${o.data}` : o.supplied !== undefined ? ` → ${o.supplied}` : ''}${o.device ? ' (SCMI device)' : ''}`,
          );
        case 'status':
          return at(`${w}: STATUS ${o.status}, exit type ${o.exitType}, reason_size ${o.reasonSize}, reason ${o.reason}`);
        case 'page-fault':
          return at(`${w}: PAGE_FAULT ${o.addr} attempt -${o.attempt}`);
        default:
          return at(`${w}: exit_reason ${o.exitReason} (${o.exit})`);
      }
    }
    case 'ioctl': {
      const fn = o.fn ? `(${o.fn})` : '';
      const r = o.errno !== undefined ? o.errno : String(o.result);
      return at(`${who(o) || '-'}: ${o.op}${fn}${o.detail ? ` ${o.detail}` : ''} → ${r}`);
    }
    case 'notification': {
      const parts = [o.exitType !== undefined ? `exit type ${o.exitType}` : '', o.reason !== undefined ? `reason ${o.reason || '-'}` : '', o.vmStatus !== undefined ? `vm_status ${o.vmStatus}` : '', o.osStatus !== undefined ? `os_status ${o.osStatus}` : ''].filter(Boolean);
      return at(`${o.name}${o.vm ? ` ${o.vm}` : o.vmid !== undefined ? ` vmid ${hex(o.vmid)}` : ''}${parts.length ? `: ${parts.join(', ')}` : ''}`);
    }
    case 'scmi':
      switch (o.what) {
        case 'result':
          return at(`SCMI agent ${o.agent} protocol ${hex(o.protocolId ?? 0)} message ${hex(o.messageId ?? 0)} → ${o.status}${o.payload?.length ? ` [${o.payload.join(', ')}]` : ''}`);
        case 'vote':
          return at(`SCMI clock ${o.clock} vote of agent ${o.agent}: ${o.enabled ? `enabled, ${o.rate} Hz` : 'none'}`);
        case 'aggregate':
          return at(`SCMI clock ${o.clock} aggregate: ${o.enabled ? 'enabled' : 'disabled'}, ${o.rate} Hz`);
        case 'agent':
          return at(`SCMI agent ${o.agent}: ${o.connected ? 'connected' : 'not connected'}`);
      }
      return at('SCMI');
    case 'pending':
      return at(`${who(o)}: RUN has not returned (asleep or running)`);
    case 'eventfd':
      return at(`${o.vm}: eventfd of ${o.ioeventfd !== undefined ? `ioeventfd ${o.ioeventfd}` : `irqfd ${o.irqfd}`} counter ${o.value}`);
    case 'fault':
      return at(`fault injected: ${o.layer} ${o.what} #${o.occurrence}${o.times > 1 ? `..#${o.occurrence + o.times - 1}` : ''} → ${o.error}`);
    case 'shutdown':
      return at(o.clean ? 'shutdown: clean (no VM, no parcel, all memory back, invariants hold)' : `shutdown: ${o.problems.join('; ')}`);
    case 'limit':
      return at(`${who(o) || 'run'}: limit reached (${o.what})`);
    case 'error':
      return at(`${who(o) || 'run'}: error: ${o.message}`);
  }
}
