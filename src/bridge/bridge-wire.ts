/**
 * Byte codec of the host bridge protocol (versions 1 and 2): the HELLO/WELCOME handshake and the
 * length-prefixed records that carry the HostProcess contract (open, close, dup, fcntl, ioctl,
 * mmap, munmap, fallocate, eventfd bridging, RUN with its run page, access notices; version 2
 * adds MMAP_ANON, anonymous shared user memory for the `gh_` dialect, and KICK, the VMM's
 * `immediate_exit` reaching a RUN already in the daemon) between a foreign VMM process and the
 * `gunyah-emu serve` daemon. Pure functions over bytes plus one stream
 * splitter; no sockets here.
 *
 * Reference: docs/host-bridge-protocol.md (the layout, byte by byte, and every rule); uapi.md
 * §1 (the `_IOC` size and direction bits that size an ioctl's argument), §3 (the structs the
 * client follows pointers in), §5 (the run page). All integers are little-endian.
 *
 *   RECORD (either way, after the handshake)
 *   ┌────────────┬──────┬──────────┬────────────┬──────────────────────┐
 *   │ len (le32) │ type │ rsvd[3]  │ tag (le32) │ body (len − 8 bytes) │   len counts all after itself
 *   └────────────┴──────┴──────────┴────────────┴──────────────────────┘
 */
import { WireError } from '../shared/wire-error.js';

/** Newest protocol version this code speaks (it speaks every version from BRIDGE_MIN_VERSION up). */
export const BRIDGE_VERSION = 2;
/** Oldest protocol version this code still speaks (version 1: no MMAP_ANON, no KICK, dialect v17 only). */
export const BRIDGE_MIN_VERSION = 1;
/** "GHBR" (gunyah host bridge). */
export const BRIDGE_MAGIC: readonly number[] = [0x47, 0x48, 0x42, 0x52];
export const HELLO_SIZE = 16;
export const WELCOME_HDR_SIZE = 16;
/** Bytes before the body: len, type, rsvd[3], tag. */
export const RECORD_HDR_SIZE = 12;
/** Largest `len` (bytes after the length field) either side accepts: 1 MiB. */
export const MAX_RECORD_LEN = 1 << 20;
/** Longest reason / error text (UTF-8 bytes). */
export const MAX_TEXT = 1023;
/** Longest path in OPEN. */
export const MAX_PATH = 4096;
/** Largest run-page prefix a RUN carries either way. */
export const MAX_RUN_PAGE = 4096;

/** Dialects (HELLO byte 6). */
export const BridgeDialect = { v17: 1, gh: 2 } as const;
export type BridgeDialectName = keyof typeof BridgeDialect;

/** Record types. Replies are the request's type | 0x80. */
export const BridgeType = {
  OPEN: 0x01,
  CLOSE: 0x02,
  DUP: 0x03,
  FCNTL: 0x04,
  IOCTL: 0x05,
  RUN: 0x06,
  MMAP: 0x07,
  MUNMAP: 0x08,
  FALLOCATE: 0x09,
  EVENTFD_REGISTER: 0x0a,
  EVENTFD_SIGNAL: 0x0b,
  EVENTFD_UNREGISTER: 0x0c,
  /** Version 2. */
  MMAP_ANON: 0x0d,
  /** Version 2. No reply. */
  KICK: 0x0e,
  EVENTFD_FIRE: 0x40,
  ACCESS_REVOKED: 0x41,
  ACCESS_RESTORED: 0x42,
  ERROR: 0x7f,
} as const;
export const REPLY_BIT = 0x80;

/** IOCTL arg_kind. */
export const ARG_IMMEDIATE = 0;
export const ARG_STRUCT = 1;
/** IOCTL reply newfd_kind. */
export const NewFdKind = { none: 0, vm: 1, vcpu: 2, guestMem: 3 } as const;
export type NewFdKindName = keyof typeof NewFdKind;
/** MMAP / MMAP_ANON reply kind. */
export const MapKind = { file: 1, private: 2, anon: 3 } as const;
/** Largest MMAP_ANON the daemon makes (4 GiB): it syncs every page at every request boundary. */
export const MAX_ANON_LENGTH = 4 * 2 ** 30;
/** EVENTFD_REGISTER role bits. */
export const EVENTFD_ROLE_SOURCE = 0x1;
export const EVENTFD_ROLE_SINK = 0x2;

export interface Hello {
  readonly version: number;
  readonly dialect: number;
  readonly pid: number;
}

export type Welcome =
  | { readonly status: 'accepted'; readonly version: number; readonly dialect: number; readonly clientId: number }
  | { readonly status: 'refused'; readonly version: number; readonly reason: string };

export interface Blob {
  readonly addr: bigint;
  readonly bytes: Uint8Array;
}

export interface Range {
  readonly offset: bigint;
  readonly length: bigint;
}

/** Requests (client → daemon). */
export type BridgeRequest =
  | { readonly type: 'OPEN'; readonly tag: number; readonly flags: number; readonly path: string }
  | { readonly type: 'CLOSE'; readonly tag: number; readonly fd: number }
  | { readonly type: 'DUP'; readonly tag: number; readonly fd: number }
  | { readonly type: 'FCNTL'; readonly tag: number; readonly fd: number; readonly cmd: number; readonly arg: bigint }
  | {
      readonly type: 'IOCTL';
      readonly tag: number;
      readonly fd: number;
      readonly request: number;
      readonly arg: bigint;
      /** The argument struct (ARG_STRUCT), or undefined (ARG_IMMEDIATE). */
      readonly struct: Uint8Array | undefined;
      readonly blobs: readonly Blob[];
    }
  | { readonly type: 'RUN'; readonly tag: number; readonly fd: number; readonly page: Uint8Array }
  | { readonly type: 'MMAP'; readonly tag: number; readonly fd: number; readonly prot: number; readonly offset: bigint; readonly length: bigint }
  | { readonly type: 'MMAP_ANON'; readonly tag: number; readonly length: bigint; readonly prot: number }
  | { readonly type: 'MUNMAP'; readonly tag: number; readonly id: number }
  | { readonly type: 'FALLOCATE'; readonly tag: number; readonly fd: number; readonly mode: number; readonly offset: bigint; readonly length: bigint }
  | { readonly type: 'EVENTFD_REGISTER'; readonly tag: number; readonly localFd: number; readonly roles: number }
  | { readonly type: 'EVENTFD_SIGNAL'; readonly tag: number; readonly id: number; readonly value: bigint }
  | { readonly type: 'EVENTFD_UNREGISTER'; readonly tag: number; readonly id: number }
  /** The client set `immediate_exit` in its copy of vCPU `fd`'s run page while a RUN of it is away. */
  | { readonly type: 'KICK'; readonly tag: number; readonly fd: number };

/** Replies (daemon → client); `errno` 0 or a positive Linux errno. */
export type BridgeReply =
  | { readonly type: 'OPEN_R' | 'DUP_R'; readonly tag: number; readonly errno: number; readonly fd: number }
  | { readonly type: 'CLOSE_R' | 'MUNMAP_R' | 'FALLOCATE_R' | 'EVENTFD_UNREGISTER_R'; readonly tag: number; readonly errno: number }
  | { readonly type: 'FCNTL_R'; readonly tag: number; readonly errno: number; readonly result: number }
  | {
      readonly type: 'IOCTL_R';
      readonly tag: number;
      readonly errno: number;
      readonly result: number;
      readonly newFdKind: number;
      readonly out: Uint8Array;
      readonly gmemSize: bigint;
      readonly path: string;
    }
  | { readonly type: 'RUN_R'; readonly tag: number; readonly errno: number; readonly result: number; readonly page: Uint8Array }
  | {
      readonly type: 'MMAP_R';
      readonly tag: number;
      readonly errno: number;
      readonly id: number;
      readonly kind: number;
      readonly length: bigint;
      readonly fileOffset: bigint;
      /** FILE: the backing file's path (UTF-8); PRIVATE: the run page's current bytes. */
      readonly data: Uint8Array;
    }
  | {
      readonly type: 'MMAP_ANON_R';
      readonly tag: number;
      readonly errno: number;
      readonly id: number;
      /** MapKind.anon when accepted, 0 on error. */
      readonly kind: number;
      readonly length: bigint;
      /** The mapping's user address in the client's emulated process (what the kernel is given). */
      readonly addr: bigint;
      /** The backing file's path. */
      readonly path: string;
    }
  | { readonly type: 'EVENTFD_REGISTER_R'; readonly tag: number; readonly errno: number; readonly id: number; readonly fd: number };

/** Notices (daemon → client, tag 0). */
export type BridgeNotice =
  | { readonly type: 'EVENTFD_FIRE'; readonly tag: number; readonly id: number; readonly value: bigint }
  | { readonly type: 'ACCESS_REVOKED' | 'ACCESS_RESTORED'; readonly tag: number; readonly id: number; readonly ranges: readonly Range[] }
  | { readonly type: 'ERROR'; readonly tag: number; readonly message: string };

export type BridgeRecord = BridgeRequest | BridgeReply | BridgeNotice;

// ── small byte writer / reader ──────────────────────────────────────────────────────────────

class Writer {
  #buf = new Uint8Array(64);
  #dv = new DataView(this.#buf.buffer);
  #n = 0;
  #room(k: number): void {
    if (this.#n + k <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#n + k) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.#buf.subarray(0, this.#n));
    this.#buf = nb;
    this.#dv = new DataView(nb.buffer);
  }
  u8(v: number): this {
    this.#room(1);
    this.#dv.setUint8(this.#n, v);
    this.#n += 1;
    return this;
  }
  u16(v: number): this {
    this.#room(2);
    this.#dv.setUint16(this.#n, v, true);
    this.#n += 2;
    return this;
  }
  u32(v: number): this {
    this.#room(4);
    this.#dv.setUint32(this.#n, v >>> 0, true);
    this.#n += 4;
    return this;
  }
  s32(v: number): this {
    this.#room(4);
    this.#dv.setInt32(this.#n, v, true);
    this.#n += 4;
    return this;
  }
  u64(v: bigint): this {
    this.#room(8);
    this.#dv.setBigUint64(this.#n, BigInt.asUintN(64, v), true);
    this.#n += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#n);
    this.#n += b.length;
    return this;
  }
  done(): Uint8Array {
    return this.#buf.slice(0, this.#n);
  }
}

class Reader {
  readonly #dv: DataView;
  #at = 0;
  constructor(readonly b: Uint8Array, readonly base = 0) {
    this.#dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  #need(k: number, what: string): void {
    if (this.#at + k > this.b.length) throw new WireError('short', { what, offset: this.base + this.#at });
  }
  u8(what: string): number {
    this.#need(1, what);
    return this.#dv.getUint8(this.#at++);
  }
  u16(what: string): number {
    this.#need(2, what);
    const v = this.#dv.getUint16(this.#at, true);
    this.#at += 2;
    return v;
  }
  u32(what: string): number {
    this.#need(4, what);
    const v = this.#dv.getUint32(this.#at, true);
    this.#at += 4;
    return v;
  }
  s32(what: string): number {
    this.#need(4, what);
    const v = this.#dv.getInt32(this.#at, true);
    this.#at += 4;
    return v;
  }
  u64(what: string): bigint {
    this.#need(8, what);
    const v = this.#dv.getBigUint64(this.#at, true);
    this.#at += 8;
    return v;
  }
  bytes(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const v = this.b.slice(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }
  rsvd(n: number, what: string): void {
    for (let i = 0; i < n; i++) {
      const at = this.#at;
      if (this.u8(what) !== 0) throw new WireError('reserved', { what, offset: this.base + at });
    }
  }
  end(what: string): void {
    if (this.#at !== this.b.length) throw new WireError('long', { what: `${this.b.length - this.#at} bytes after ${what}`, offset: this.base + this.#at });
  }
  get rest(): number {
    return this.b.length - this.#at;
  }
}

// ── text ────────────────────────────────────────────────────────────────────────────────────

/** UTF-8 of `s`, cut to at most `max` bytes on a character boundary. */
export function utf8Capped(s: string, max = MAX_TEXT): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.byteLength <= max) return b;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

function utf8(b: Uint8Array, what: string, offset: number): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw new WireError('bad-value', { what: `${what} is not UTF-8`, offset });
  }
}

// ── handshake ───────────────────────────────────────────────────────────────────────────────

/** True while `b` (a handshake prefix of any length) agrees with the magic. */
export function magicPrefixOk(b: Uint8Array): boolean {
  const n = Math.min(b.byteLength, BRIDGE_MAGIC.length);
  for (let i = 0; i < n; i++) if (b[i] !== BRIDGE_MAGIC[i]) return false;
  return true;
}

export function encodeHello(h: Hello): Uint8Array {
  return new Writer().bytes(Uint8Array.from(BRIDGE_MAGIC)).u16(h.version).u8(h.dialect).u8(0).u32(h.pid).u32(0).done();
}

/** @throws WireError 'short' | 'bad-value' (magic) | 'reserved' */
export function decodeHello(b: Uint8Array): Hello {
  if (b.byteLength < HELLO_SIZE) throw new WireError('short', { what: `hello of ${b.byteLength} bytes`, offset: 0 });
  if (!magicPrefixOk(b)) throw new WireError('bad-value', { what: 'magic', offset: 0 });
  const r = new Reader(b.subarray(0, HELLO_SIZE));
  r.bytes(4, 'magic');
  const version = r.u16('version');
  const dialect = r.u8('dialect');
  r.rsvd(1, 'hello byte 7');
  const pid = r.u32('pid');
  r.rsvd(4, 'hello bytes 12-15');
  return { version, dialect, pid };
}

export function encodeWelcome(w: Welcome): Uint8Array {
  const wr = new Writer().bytes(Uint8Array.from(BRIDGE_MAGIC)).u16(w.version);
  if (w.status === 'accepted') return wr.u8(0).u8(w.dialect).u32(w.clientId).u16(0).u16(0).done();
  const reason = utf8Capped(w.reason);
  return wr.u8(1).u8(0).u32(0).u16(reason.length).u16(0).bytes(reason).done();
}

/** Bytes a WELCOME needs in all, once its 16-byte head is known (else undefined). */
export function welcomeSize(b: Uint8Array): number | undefined {
  if (b.byteLength < WELCOME_HDR_SIZE) return undefined;
  return WELCOME_HDR_SIZE + new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(12, true);
}

/** @throws WireError */
export function decodeWelcome(b: Uint8Array): Welcome {
  if (!magicPrefixOk(b) || b.byteLength < 4) throw new WireError('bad-value', { what: 'magic', offset: 0 });
  const r = new Reader(b);
  r.bytes(4, 'magic');
  const version = r.u16('version');
  const status = r.u8('status');
  const dialect = r.u8('dialect');
  const clientId = r.u32('client id');
  const n = r.u16('reason length');
  r.rsvd(2, 'welcome bytes 14-15');
  const reason = utf8(r.bytes(n, 'reason'), 'reason', WELCOME_HDR_SIZE);
  r.end('welcome');
  if (status === 0) return { status: 'accepted', version, dialect, clientId };
  if (status === 1) return { status: 'refused', version, reason };
  throw new WireError('bad-value', { what: `welcome status ${status}`, offset: 6 });
}

// ── records ─────────────────────────────────────────────────────────────────────────────────

/** Type number → record name (replies as `NAME_R`). Built once, never changed. */
const TYPE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(BridgeType).flatMap(([name, v]): Array<[number, string]> => (v < 0x40 ? [[v, name], [v | REPLY_BIT, `${name}_R`]] : [[v, name]])),
);

function typeNumber(name: string): number {
  const base = name.endsWith('_R') ? name.slice(0, -2) : name;
  const v = (BridgeType as Record<string, number>)[base];
  if (v === undefined) throw new TypeError(`unknown record type ${name}`);
  return name.endsWith('_R') ? v | REPLY_BIT : v;
}

function ranges(w: Writer, rs: readonly Range[]): void {
  w.u32(rs.length);
  for (const r of rs) w.u64(r.offset).u64(r.length);
}

/** Encode one record, its 12-byte header included. */
export function encodeRecord(rec: BridgeRecord): Uint8Array {
  const w = new Writer();
  switch (rec.type) {
    case 'OPEN': {
      const p = new TextEncoder().encode(rec.path);
      w.u32(rec.flags).u32(p.length).bytes(p);
      break;
    }
    case 'CLOSE':
    case 'DUP':
    case 'KICK':
      w.s32(rec.fd);
      break;
    case 'FCNTL':
      w.s32(rec.fd).u32(rec.cmd).u64(rec.arg);
      break;
    case 'IOCTL': {
      const st = rec.struct;
      w.s32(rec.fd).u32(rec.request).u64(rec.arg).u8(st === undefined ? ARG_IMMEDIATE : ARG_STRUCT).u8(0).u16(rec.blobs.length);
      w.u32(st?.length ?? 0);
      if (st) w.bytes(st);
      for (const b of rec.blobs) w.u64(b.addr).u32(b.bytes.length).u32(0).bytes(b.bytes);
      break;
    }
    case 'RUN':
      w.s32(rec.fd).u32(rec.page.length).bytes(rec.page);
      break;
    case 'MMAP':
      w.s32(rec.fd).u32(rec.prot).u64(rec.offset).u64(rec.length);
      break;
    case 'MMAP_ANON':
      w.u64(rec.length).u32(rec.prot).u32(0);
      break;
    case 'MUNMAP':
    case 'EVENTFD_UNREGISTER':
      w.u32(rec.id);
      break;
    case 'FALLOCATE':
      w.s32(rec.fd).u32(rec.mode).u64(rec.offset).u64(rec.length);
      break;
    case 'EVENTFD_REGISTER':
      w.s32(rec.localFd).u32(rec.roles);
      break;
    case 'EVENTFD_SIGNAL':
    case 'EVENTFD_FIRE':
      w.u32(rec.id).u32(0).u64(rec.value);
      break;
    case 'OPEN_R':
    case 'DUP_R':
      w.u32(rec.errno).s32(rec.fd);
      break;
    case 'CLOSE_R':
    case 'MUNMAP_R':
    case 'FALLOCATE_R':
    case 'EVENTFD_UNREGISTER_R':
      w.u32(rec.errno);
      break;
    case 'FCNTL_R':
      w.u32(rec.errno).s32(rec.result);
      break;
    case 'IOCTL_R': {
      const p = new TextEncoder().encode(rec.path);
      w.u32(rec.errno).s32(rec.result).u8(rec.newFdKind).u8(0).u16(0).u32(rec.out.length).u64(rec.gmemSize).u32(p.length).bytes(rec.out).bytes(p);
      break;
    }
    case 'RUN_R':
      w.u32(rec.errno).s32(rec.result).u32(rec.page.length).bytes(rec.page);
      break;
    case 'MMAP_R':
      w.u32(rec.errno).u32(rec.id).u8(rec.kind).u8(0).u16(0).u64(rec.length).u64(rec.fileOffset).u32(rec.data.length).bytes(rec.data);
      break;
    case 'MMAP_ANON_R': {
      const p = new TextEncoder().encode(rec.path);
      w.u32(rec.errno).u32(rec.id).u8(rec.kind).u8(0).u16(0).u64(rec.length).u64(rec.addr).u32(p.length).bytes(p);
      break;
    }
    case 'EVENTFD_REGISTER_R':
      w.u32(rec.errno).u32(rec.id).s32(rec.fd);
      break;
    case 'ACCESS_REVOKED':
    case 'ACCESS_RESTORED':
      w.u32(rec.id);
      ranges(w, rec.ranges);
      break;
    case 'ERROR':
      w.bytes(utf8Capped(rec.message));
      break;
  }
  const body = w.done();
  const out = new Uint8Array(RECORD_HDR_SIZE + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 8 + body.length, true);
  dv.setUint8(4, typeNumber(rec.type));
  dv.setUint32(8, rec.tag >>> 0, true);
  out.set(body, RECORD_HDR_SIZE);
  return out;
}

/**
 * Decode one whole record (as RecordReader.next() returns it, length field included).
 * @throws WireError on any layout fault (unknown type: 'bad-type')
 */
export function decodeRecord(b: Uint8Array): BridgeRecord {
  if (b.length < RECORD_HDR_SIZE) throw new WireError('short', { what: `record of ${b.length} bytes`, offset: 0 });
  const h = new Reader(b.subarray(0, RECORD_HDR_SIZE));
  const len = h.u32('len');
  if (len !== b.length - 4) throw new WireError('bad-value', { what: `len ${len} for ${b.length - 4} bytes`, offset: 0 });
  const raw = h.u8('type');
  h.rsvd(3, 'record bytes 5-7');
  const tag = h.u32('tag');
  const name = TYPE_NAMES.get(raw);
  if (name === undefined) throw new WireError('bad-type', { what: `unknown record type 0x${raw.toString(16)}`, offset: 4 });
  const r = new Reader(b.subarray(RECORD_HDR_SIZE), RECORD_HDR_SIZE);
  const rec = decodeBody(name, tag, r);
  r.end(name);
  return rec;
}

function decodeBody(name: string, tag: number, r: Reader): BridgeRecord {
  switch (name) {
    case 'OPEN': {
      const flags = r.u32('flags');
      const n = r.u32('path_len');
      if (n > MAX_PATH) throw new WireError('too-big', { what: `path of ${n} bytes` });
      return { type: 'OPEN', tag, flags, path: utf8(r.bytes(n, 'path'), 'path', 20) };
    }
    case 'CLOSE':
    case 'DUP':
    case 'KICK':
      return { type: name, tag, fd: r.s32('fd') };
    case 'FCNTL':
      return { type: 'FCNTL', tag, fd: r.s32('fd'), cmd: r.u32('cmd'), arg: r.u64('arg') };
    case 'IOCTL': {
      const fd = r.s32('fd');
      const request = r.u32('request');
      const arg = r.u64('arg');
      const kind = r.u8('arg_kind');
      r.rsvd(1, 'ioctl byte 29');
      const nblobs = r.u16('nblobs');
      const slen = r.u32('struct_len');
      const size = (request >>> 16) & 0x3fff;
      if (kind === ARG_IMMEDIATE) {
        if (slen !== 0) throw new WireError('bad-value', { what: `immediate ioctl with struct_len ${slen}`, offset: 32 });
      } else if (kind === ARG_STRUCT) {
        if (slen !== size || size === 0) throw new WireError('bad-value', { what: `struct_len ${slen} for _IOC_SIZE ${size}`, offset: 32 });
      } else throw new WireError('bad-value', { what: `arg_kind ${kind}`, offset: 28 });
      const struct = kind === ARG_STRUCT ? r.bytes(slen, 'struct') : undefined;
      const blobs: Blob[] = [];
      for (let i = 0; i < nblobs; i++) {
        const addr = r.u64('blob addr');
        const n = r.u32('blob len');
        r.rsvd(4, 'blob rsvd');
        blobs.push({ addr, bytes: r.bytes(n, 'blob bytes') });
      }
      return { type: 'IOCTL', tag, fd, request, arg, struct, blobs };
    }
    case 'RUN': {
      const fd = r.s32('fd');
      const n = r.u32('n');
      if (n > MAX_RUN_PAGE) throw new WireError('too-big', { what: `run page of ${n} bytes` });
      return { type: 'RUN', tag, fd, page: r.bytes(n, 'page') };
    }
    case 'MMAP':
      return { type: 'MMAP', tag, fd: r.s32('fd'), prot: r.u32('prot'), offset: r.u64('offset'), length: r.u64('length') };
    case 'MMAP_ANON': {
      const length = r.u64('length');
      const prot = r.u32('prot');
      r.rsvd(4, 'mmap_anon rsvd');
      return { type: 'MMAP_ANON', tag, length, prot };
    }
    case 'MUNMAP':
    case 'EVENTFD_UNREGISTER':
      return { type: name, tag, id: r.u32('id') };
    case 'FALLOCATE':
      return { type: 'FALLOCATE', tag, fd: r.s32('fd'), mode: r.u32('mode'), offset: r.u64('offset'), length: r.u64('length') };
    case 'EVENTFD_REGISTER': {
      const localFd = r.s32('local_fd');
      const roles = r.u32('roles');
      if (roles === 0 || (roles & ~(EVENTFD_ROLE_SOURCE | EVENTFD_ROLE_SINK)) !== 0) throw new WireError('bad-value', { what: `roles 0x${roles.toString(16)}`, offset: 16 });
      return { type: 'EVENTFD_REGISTER', tag, localFd, roles };
    }
    case 'EVENTFD_SIGNAL':
    case 'EVENTFD_FIRE': {
      const id = r.u32('id');
      r.rsvd(4, 'rsvd');
      return { type: name, tag, id, value: r.u64('value') };
    }
    case 'OPEN_R':
    case 'DUP_R':
      return { type: name, tag, errno: r.u32('errno'), fd: r.s32('fd') };
    case 'CLOSE_R':
    case 'MUNMAP_R':
    case 'FALLOCATE_R':
    case 'EVENTFD_UNREGISTER_R':
      return { type: name, tag, errno: r.u32('errno') };
    case 'FCNTL_R':
      return { type: 'FCNTL_R', tag, errno: r.u32('errno'), result: r.s32('result') };
    case 'IOCTL_R': {
      const errno = r.u32('errno');
      const result = r.s32('result');
      const newFdKind = r.u8('newfd_kind');
      r.rsvd(3, 'ioctl reply rsvd');
      const outLen = r.u32('out_len');
      const gmemSize = r.u64('gmem_size');
      const pathLen = r.u32('path_len');
      const out = r.bytes(outLen, 'out');
      const path = utf8(r.bytes(pathLen, 'path'), 'path', 0);
      return { type: 'IOCTL_R', tag, errno, result, newFdKind, out, gmemSize, path };
    }
    case 'RUN_R': {
      const errno = r.u32('errno');
      const result = r.s32('result');
      const m = r.u32('m');
      if (m > MAX_RUN_PAGE) throw new WireError('too-big', { what: `run page of ${m} bytes` });
      return { type: 'RUN_R', tag, errno, result, page: r.bytes(m, 'page') };
    }
    case 'MMAP_R': {
      const errno = r.u32('errno');
      const id = r.u32('id');
      const kind = r.u8('kind');
      r.rsvd(3, 'mmap reply rsvd');
      const length = r.u64('length');
      const fileOffset = r.u64('file_offset');
      const n = r.u32('data_len');
      return { type: 'MMAP_R', tag, errno, id, kind, length, fileOffset, data: r.bytes(n, 'data') };
    }
    case 'MMAP_ANON_R': {
      const errno = r.u32('errno');
      const id = r.u32('id');
      const kind = r.u8('kind');
      r.rsvd(3, 'mmap_anon reply rsvd');
      const length = r.u64('length');
      const addr = r.u64('addr');
      const n = r.u32('path_len');
      if (n > MAX_PATH) throw new WireError('too-big', { what: `path of ${n} bytes` });
      return { type: 'MMAP_ANON_R', tag, errno, id, kind, length, addr, path: utf8(r.bytes(n, 'path'), 'path', RECORD_HDR_SIZE + 32) };
    }
    case 'EVENTFD_REGISTER_R':
      return { type: 'EVENTFD_REGISTER_R', tag, errno: r.u32('errno'), id: r.u32('id'), fd: r.s32('fd') };
    case 'ACCESS_REVOKED':
    case 'ACCESS_RESTORED': {
      const id = r.u32('id');
      const count = r.u32('count');
      if (count * 16 > r.rest) throw new WireError('list-overrun', { what: `${count} ranges` });
      const rs: Range[] = [];
      for (let i = 0; i < count; i++) rs.push({ offset: r.u64('offset'), length: r.u64('length') });
      return { type: name, tag, id, ranges: rs };
    }
    case 'ERROR':
      return { type: 'ERROR', tag, message: utf8(r.bytes(r.rest, 'message'), 'message', RECORD_HDR_SIZE) };
    default:
      // INVARIANT: TYPE_NAMES holds exactly the names handled above.
      throw new WireError('bad-type', { what: name, offset: 4 });
  }
}

/** Splits a byte stream into whole records (length field included). */
export class RecordReader {
  #buf = new Uint8Array(0);
  constructor(readonly maxLen = MAX_RECORD_LEN) {}
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const nb = new Uint8Array(this.#buf.length + chunk.length);
    nb.set(this.#buf);
    nb.set(chunk, this.#buf.length);
    this.#buf = nb;
  }
  get buffered(): number {
    return this.#buf.length;
  }
  /** The next whole record, or undefined. @throws WireError when a length is out of range */
  next(): Uint8Array | undefined {
    if (this.#buf.length < 4) return undefined;
    const len = new DataView(this.#buf.buffer, this.#buf.byteOffset, 4).getUint32(0, true);
    if (len < 8 || len > this.maxLen) throw new WireError('too-big', { what: `record len ${len} (8..${this.maxLen})`, offset: 0 });
    if (this.#buf.length < 4 + len) return undefined;
    const rec = this.#buf.slice(0, 4 + len);
    this.#buf = this.#buf.slice(4 + len);
    return rec;
  }
}
