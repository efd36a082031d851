/**
 * The human log of a trace: one line per record in the style of the kernel's tracepoints
 * (`name: key=value key=value`), prefixed with the record's virtual time in seconds as ftrace
 * prints it. Keys are snake_case; numbers are decimal except addresses, IDs and words, which
 * keep their `0x…` form; VM IDs print as `vm=0x80`; message IDs as `NAME(0x…)`; text with
 * spaces is quoted.
 *
 * Reference: docs/tracing.md (one line per kind, with examples); Linux include/trace/events/
 * (the `name: field=value` convention; our own field names, no text taken from it).
 */
import type { TraceEvent } from '../shared/trace.js';

type Fields = Array<[string, unknown]>;

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const vm = (v: unknown): string => (typeof v === 'number' ? `0x${v.toString(16)}` : String(v));
const msg = (name: unknown, id: unknown): string => (typeof id === 'number' ? `${String(name)}(0x${id.toString(16).padStart(8, '0')})` : String(name));
const named = (name: unknown, n: unknown): string => `${String(name)}(${String(n)})`;

function value(v: unknown): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'string') return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (Array.isArray(v)) return v.map(value).join(',');
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** `k=v` pairs, skipping undefined values; nested objects flatten as `a.b=v`. */
function pairs(fields: Fields): string {
  const out: string[] = [];
  const add = (k: string, v: unknown): void => {
    if (v === undefined) return;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) add(`${k}.${snake(k2)}`, v2);
      return;
    }
    out.push(`${k}=${value(v)}`);
  };
  for (const [k, v] of fields) add(k, v);
  return out.join(' ');
}

/** An object's fields as snake_cased pairs (none for undefined). */
function kv(o: unknown): Fields {
  return o !== null && typeof o === 'object' ? Object.entries(o).map(([k, v]): [string, unknown] => [snake(k), v]) : [];
}

/** Fields of `e` other than the listed ones, snake_cased, in record order. */
function rest(e: TraceEvent, skip: readonly string[]): Fields {
  return Object.entries(e)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => [snake(k), v]);
}

const STAMP = ['seq', 't', 'kind'];

/** The tracepoint name and fields of one record. */
function line(e: TraceEvent): [string, Fields] {
  const f = (k: string): unknown => e[k];
  switch (e.kind) {
    case 'trace.header':
      return ['gunyah_trace_header', [['version', f('version')], ['seed', f('seed')], ['emulator', f('emulator')], ['scenario', typeof f('scenario') === 'string' ? f('scenario') : 'inline']]];
    case 'ioctl.enter':
      return ['gunyah_ioctl_enter', [['call', f('call')], ['fd', f('fd')], ['file', f('file')], ['cmd', f('name') !== undefined ? named(f('name'), f('request')) : f('request')]]];
    case 'ioctl': {
      const ret = f('errno') !== undefined ? `-${String(f('errno'))}` : f('result');
      return ['gunyah_ioctl', [['call', f('call')], ['fd', f('fd')], ['file', f('file')], ['cmd', f('name') !== undefined ? named(f('name'), f('request')) : f('request')], ...kv(f('args')), ['ret', ret]]];
    }
    case 'rm.frame':
      return [
        'gh_rm_frame',
        [['side', f('side')], ['vm', f('vmid') !== undefined ? vm(f('vmid')) : undefined], ['dir', f('dir')], ['type', f('type')], ['msg', f('msgId') !== undefined ? msg(f('name'), f('msgId')) : undefined], ['seq', f('rmSeq')], ['frags', f('fragments')], ['len', String(f('hex') ?? '').length / 2], ['data', f('hex')]],
      ];
    case 'rm.call':
      return ['gh_rm_call', [['msg', msg(f('name'), f('msgId'))], ['seq', f('rmSeq')], ['len', String(f('hex') ?? '').length / 2]]];
    case 'rm.reply':
      return ['gh_rm_reply', [['side', f('side')], ['vm', f('vmid') !== undefined ? vm(f('vmid')) : undefined], ['msg', msg(f('name'), f('msgId'))], ['seq', f('rmSeq')], ['err', named(f('err'), f('code'))]]];
    case 'rm.notification':
      return ['gh_rm_notification', [['side', f('side')], ['vm', f('vmid') !== undefined ? vm(f('vmid')) : undefined], ['msg', msg(f('name'), f('msgId'))], ['seq', f('rmSeq')]]];
    case 'rm.drop':
      return ['gh_rm_drop', [['side', f('side')], ['vm', f('vmid') !== undefined ? vm(f('vmid')) : undefined], ['reason', f('reason')], ['detail', f('detail')]]];
    case 'rm.assertion':
      return ['gh_rm_assertion', [['mode', f('mode')], ['what', f('what')]]];
    case 'rm.vm-state':
      return ['gh_rm_vm_state', [['vm', vm(f('vmid'))], ['from', f('from')], ['to', f('to')]]];
    case 'hyp.call':
      return ['gunyah_hypercall', [['call', f('call')], ...kv(f('args')), ...kv(f('out')), ['ret', named(f('errorName'), f('error'))]]];
    case 'vcpu.state':
      return [
        'gunyah_vcpu_run',
        [['vm', f('vmid') !== undefined ? vm(f('vmid')) : undefined], ['vcpu', f('vcpu')], ['capid', f('vmid') === undefined ? f('capid') : undefined], ['ret', named(f('errorName'), f('error'))], ['state', named(f('stateName'), f('state'))], ['data', f('data')], ['resume', f('resume')], ['forced', f('forced')]],
      ];
    case 'guest.op':
      return ['gunyah_guest_op', [['vm', vm(f('vmid'))], ['vcpu', f('vcpu')], ['op', f('op')], ['addr', f('addr')], ['len', f('len')], ['value', f('value')], ['fn', f('fn')], ['args', f('args')]]];
    case 'guest.exception':
      return ['gunyah_guest_exception', [['vm', vm(f('vmid'))], ['vcpu', f('vcpu')], ['esr', f('esr')], ['far', f('far')], ['why', f('why')]]];
    case 'mem.lent':
      return ['gunyah_mem_lent', [['vm', vm(f('vmid'))], ['lent', f('lent')], ['shared', f('shared')]]];
    case 'vcpu.exit': {
      const base: Fields = [['vm', vm(f('vmid'))], ['vcpu', f('vcpu')], ['reason', f('reason')]];
      if (f('reason') === 'STATUS') {
        return ['gunyah_vcpu_exit', [...base, ['status', named(f('statusName'), f('status'))], ['exit_type', f('exitType')], ['reason_size', f('reasonSize')], ['exit_reason', f('reasonHex')], ['repeat', f('repeat')]]];
      }
      if (f('reason') === 'PAGE_FAULT') return ['gunyah_vcpu_exit', [...base, ['addr', f('addr')], ['attempt', f('attempt')]]];
      return ['gunyah_vcpu_exit', [...base, ['addr', f('addr')], ['len', f('len')], ['write', f('write')], ['data', f('data')]]];
    }
    case 'vm.status':
      return ['gunyah_vm_status', [['vm', vm(f('vmid'))], ['id', f('vm')], ['status', named(f('statusName'), f('status'))]]];
    case 'kernel.vm-created':
      return ['gunyah_vm_create', [['id', f('vm')]]];
    case 'kernel.vm-freed':
      return ['gunyah_vm_free', [['id', f('vm')], ['vm', vm(f('vmid'))]]];
    case 'kernel.function-added':
      return ['gunyah_fn_add', [['id', f('vm')], ['type', f('type')], ['ret', f('result')]]];
    case 'kernel.function-removed':
      return ['gunyah_fn_remove', [['id', f('vm')], ['type', f('type')], ['count', f('count')]]];
    case 'kernel.scmi-queue-broken':
      return ['gunyah_scmi_queue_broken', [['agent', f('agent')], ['reason', f('reason')]]];
    case 'scmi.msg': {
      const base: Fields = [['agent', f('agent')], ['protocol', hex(f('protocol'))], ['msg_id', hex(f('message'))], ['seq', f('token')]];
      if (f('phase') === 'begin') return ['scmi_xfer_begin', base];
      return ['scmi_xfer_end', [...base, ['status', f('status')]]];
    }
    case 'scmi.vote':
      return ['scmi_vote', [['resource', f('resource')], ['id', f('id')], ['value', f('value')], ['voters', f('voters')]]];
    case 'fault.injected':
      return ['gunyah_fault_injected', [['layer', f('layer')], ['what', f('what')], ['occurrence', f('occurrence')], ['error', f('error')]]];
    default:
      return [e.kind.replace(/[.-]/g, '_'), rest(e, STAMP)];
  }
}

function hex(v: unknown): string {
  return typeof v === 'number' ? `0x${v.toString(16)}` : String(v);
}

/** ftrace's timestamp: seconds with 6 decimals, right-aligned. */
function stamp(t: unknown): string {
  if (typeof t !== 'number') return '';
  const us = Math.floor(t / 1000);
  return `${`${Math.floor(us / 1e6)}`.padStart(6)}.${`${us % 1e6}`.padStart(6, '0')}: `;
}

/** One record as a tracepoint-style line (no newline). */
export function formatTraceLine(e: TraceEvent): string {
  const [name, fields] = line(e);
  const body = pairs(fields);
  return `${stamp(e['t'])}${name}:${body ? ` ${body}` : ''}`;
}
