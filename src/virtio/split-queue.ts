/**
 * The device side of a split virtqueue over a VM's guest memory: take the next available
 * descriptor chain (`pop`), return it with the bytes written (`push`), and decide whether the
 * driver wants a used-buffer interrupt (`needsInterrupt`).
 *
 * Reference: scmi-virtio.md §4 (ring layout: descriptor table 16 × Q, available ring 6 + 2Q with
 * used_event at 4 + 2Q, used ring 6 + 8Q with avail_event at 4 + 8Q; descriptor {u64 addr, u32
 * len, u16 flags, u16 next}; NEXT 0x1, WRITE 0x2, INDIRECT 0x4; device processing steps 1–6;
 * readable before writable), §2 (DEVICE_NEEDS_RESET), §3 (INDIRECT_DESC, EVENT_IDX,
 * NOTIFY_ON_EMPTY), §11 (ring memory is shared memory).
 *
 * Malformed rings. A structurally broken ring cannot be answered: the device cannot tell which
 * buffers belong to which request, so the queue goes to the broken state (`broken` says why) and
 * is not processed any more; the transport sets DEVICE_NEEDS_RESET (virtio: the device "hit an
 * error it cannot recover from"). Broken are: avail.idx more than Q ahead of the last one seen;
 * a head or `next` index ≥ Q (≥ the table's length inside an indirect table); a chain with more
 * descriptors than Q (a loop); a device-readable descriptor after a device-writable one; a
 * zero-length descriptor (as QEMU refuses "zero sized buffers"); INDIRECT without the feature,
 * INDIRECT together with NEXT, an indirect table inside an indirect table, or a table whose
 * length is 0, not a multiple of 16, or more than 32768 entries; a buffer or ring address the
 * guest-memory accessor refuses; a chain whose buffers add up to more than 2^32 bytes or whose
 * readable part exceeds `maxReadableBytes`; a head that is still in flight. Nothing else is:
 * a chain without a readable or writable part, or whose writable part is too short for the
 * answer, is returned to the caller, who answers it (used len 0, or a truncated reply: `push`
 * writes what fits and returns the count). No method throws for anything the guest wrote;
 * `push` throws only for a head the caller was never given.
 */
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_ELEM_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtqAlign,
  VirtqDescFlag,
} from './constants.js';
import type { GuestMemoryAccess } from './guest-memory.js';

/** Where the queue is and what was negotiated for it. */
export interface SplitQueueConfig {
  /** Queue size Q: a power of 2, 1..32768. */
  readonly size: number;
  /** Guest physical address of the descriptor table (16-byte aligned). */
  readonly descAddr: bigint;
  /** Guest physical address of the available ring, the "driver area" (2-byte aligned). */
  readonly availAddr: bigint;
  /** Guest physical address of the used ring, the "device area" (4-byte aligned). */
  readonly usedAddr: bigint;
  /** VIRTIO_RING_F_EVENT_IDX negotiated. */
  readonly eventIdx: boolean;
  /** VIRTIO_RING_F_INDIRECT_DESC negotiated (default false: INDIRECT is malformed). */
  readonly indirect?: boolean;
  /** VIRTIO_F_NOTIFY_ON_EMPTY negotiated (default false). */
  readonly notifyOnEmpty?: boolean;
}

export interface SplitQueueOptions {
  /** Largest readable part of a chain the device accepts (default 1 MiB); more breaks the queue. */
  readonly maxReadableBytes?: number;
  /**
   * The 16-bit index the device starts at, as its last available index and its used.idx
   * (default 0, a fresh queue). A device set up again over rings already in use passes the
   * ring's used.idx, so that what was answered is not served twice (QEMU restores
   * last_avail_idx from used.idx the same way).
   */
  readonly startIndex?: number;
}

/** A device-writable buffer of a chain. */
export interface WritableSegment {
  readonly addr: bigint;
  readonly len: number;
}

/** One available descriptor chain, as `pop` hands it out. */
export interface DescriptorChain {
  /** Index of the chain's first descriptor: the id for `push`. */
  readonly head: number;
  /** The device-readable buffers, concatenated in chain order. */
  readonly readable: Uint8Array;
  /** The device-writable buffers in chain order. */
  readonly writable: readonly WritableSegment[];
  /** Sum of the writable lengths. */
  readonly writableLength: number;
  /** Descriptors walked (the indirect descriptor itself and its table entries included). */
  readonly descriptors: number;
}

/** Why a queue stopped. */
export type QueueBrokenKind =
  | 'avail-idx-jump'
  | 'head-out-of-range'
  | 'head-in-use'
  | 'next-out-of-range'
  | 'chain-loop'
  | 'readable-after-writable'
  | 'zero-length'
  | 'indirect-not-negotiated'
  | 'indirect-malformed'
  | 'chain-too-large'
  | 'address-refused'
  | 'ring-inaccessible';

/** The broken state of a queue. */
export interface QueueBroken {
  readonly kind: QueueBrokenKind;
  readonly detail: string;
  /** The head of the chain being walked, when there was one. */
  readonly head?: number;
}

/** Byte sizes of the three ring parts for queue size `q` (scmi-virtio.md §4, event fields included). */
export function splitQueueLayout(q: number): { readonly descBytes: number; readonly availBytes: number; readonly usedBytes: number } {
  return { descBytes: VIRTQ_DESC_SIZE * q, availBytes: 6 + 2 * q, usedBytes: 6 + VIRTQ_USED_ELEM_SIZE * q };
}

/** What is wrong with `c`, or undefined when it describes a queue (size and alignments). */
export function checkSplitQueueConfig(c: SplitQueueConfig): string | undefined {
  const q = c.size;
  if (!Number.isInteger(q) || q < 1 || q > VIRTQ_MAX_SIZE || (q & (q - 1)) !== 0) return `queue size ${q} is not a power of 2 in 1..${VIRTQ_MAX_SIZE}`;
  const areas: Array<[string, bigint, number]> = [
    ['descriptor table', c.descAddr, VirtqAlign.DESC],
    ['available ring', c.availAddr, VirtqAlign.AVAIL],
    ['used ring', c.usedAddr, VirtqAlign.USED],
  ];
  for (const [name, addr, align] of areas) {
    if (addr < 0n || addr >= 1n << 64n) return `${name} address 0x${addr.toString(16)} is not a u64`;
    if (addr % BigInt(align) !== 0n) return `${name} address 0x${addr.toString(16)} is not ${align}-byte aligned`;
  }
  return undefined;
}

const U32_LIMIT = 2 ** 32;
const DEFAULT_MAX_READABLE = 1 << 20;

/** A structural fault found while walking; turned into the broken state by the caller. */
class RingFault {
  constructor(
    readonly kind: QueueBrokenKind,
    readonly detail: string,
  ) {}
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class SplitQueue {
  readonly config: SplitQueueConfig;
  readonly #mem: GuestMemoryAccess;
  readonly #mask: number;
  readonly #maxReadable: number;
  #lastAvail = 0;
  #usedIdx = 0;
  #signalledUsed = 0;
  #signalledValid = false;
  /** push() ran since the last needsInterrupt(). */
  #pushed = false;
  #notifications = true;
  #broken: QueueBroken | undefined;
  /** head → its writable segments, for chains popped and not yet pushed (an array of Q entries). */
  readonly #inflight: (readonly WritableSegment[] | undefined)[];
  #inflightCount = 0;
  // Ring addresses computed once (bigint arithmetic allocates).
  readonly #availIdxAddr: bigint;
  readonly #availRingAddr: bigint;
  readonly #usedEventAddr: bigint;
  readonly #usedIdxAddr: bigint;
  readonly #usedRingAddr: bigint;
  readonly #availEventAddr: bigint;
  /**
   * Scratch for the used element and used.idx stores (`write` copies). Its own ArrayBuffer:
   * V8 keeps typed arrays of ≤ 64 bytes on the JS heap and materialises a buffer when `.buffer`
   * is touched, so a small array per store would cost an allocation each time.
   */
  readonly #elem = new Uint8Array(new ArrayBuffer(8));
  readonly #idx = new Uint8Array(new ArrayBuffer(2));

  /** @throws TypeError when `config` does not describe a queue (checkSplitQueueConfig) */
  constructor(mem: GuestMemoryAccess, config: SplitQueueConfig, options: SplitQueueOptions = {}) {
    const problem = checkSplitQueueConfig(config);
    if (problem !== undefined) throw new TypeError(problem);
    this.#mem = mem;
    this.config = { ...config };
    this.#mask = config.size - 1;
    this.#inflight = new Array<readonly WritableSegment[] | undefined>(config.size).fill(undefined);
    this.#maxReadable = options.maxReadableBytes ?? DEFAULT_MAX_READABLE;
    const start = options.startIndex ?? 0;
    if (!Number.isInteger(start) || start < 0 || start > 0xffff) throw new TypeError(`start index ${start} is not a u16`);
    this.#lastAvail = this.#usedIdx = this.#signalledUsed = start;
    this.#availIdxAddr = config.availAddr + 2n;
    this.#availRingAddr = config.availAddr + 4n;
    this.#usedEventAddr = config.availAddr + 4n + BigInt(2 * config.size);
    this.#usedIdxAddr = config.usedAddr + 2n;
    this.#usedRingAddr = config.usedAddr + 4n;
    this.#availEventAddr = config.usedAddr + 4n + BigInt(VIRTQ_USED_ELEM_SIZE * config.size);
  }

  /** Why the queue stopped, or undefined while it works. */
  get broken(): QueueBroken | undefined {
    return this.#broken;
  }

  /** The device's next available-ring index (16-bit, wraps). */
  get lastAvailIdx(): number {
    return this.#lastAvail;
  }

  /** The device's used.idx (16-bit, wraps). */
  get usedIdx(): number {
    return this.#usedIdx;
  }

  /** Chains popped and not pushed yet. */
  get inFlight(): number {
    return this.#inflightCount;
  }

  /**
   * The next available chain, or undefined when there is none (avail.idx equals the last index
   * seen) or the queue is broken (see `broken`). Never throws.
   */
  pop(): DescriptorChain | undefined {
    if (this.#broken) return undefined;
    const c = this.config;
    let availIdx: number;
    let head: number;
    try {
      availIdx = this.#u16(this.#availIdxAddr);
      const pending = (availIdx - this.#lastAvail) & 0xffff;
      if (pending === 0) {
        this.#updateAvailEvent();
        return undefined;
      }
      if (pending > c.size) {
        return this.#fail(new RingFault('avail-idx-jump', `avail.idx ${availIdx} is ${pending} entries ahead of ${this.#lastAvail}, more than the queue size ${c.size}`));
      }
      head = this.#u16(this.#availRingAddr + BigInt(2 * (this.#lastAvail & this.#mask)));
    } catch (e) {
      return this.#fail(new RingFault('ring-inaccessible', `available ring: ${errText(e)}`));
    }
    if (head >= c.size) return this.#fail(new RingFault('head-out-of-range', `head ${head} ≥ queue size ${c.size}`), head);
    if (this.#inflight[head] !== undefined) return this.#fail(new RingFault('head-in-use', `head ${head} is made available again before it was used`), head);
    let chain: DescriptorChain;
    try {
      chain = this.#walk(head);
    } catch (e) {
      return this.#fail(e instanceof RingFault ? e : new RingFault('address-refused', errText(e)), head);
    }
    this.#lastAvail = (this.#lastAvail + 1) & 0xffff;
    this.#inflight[head] = chain.writable;
    this.#inflightCount++;
    try {
      this.#updateAvailEvent();
    } catch (e) {
      this.#inflight[head] = undefined;
      this.#inflightCount--;
      return this.#fail(new RingFault('ring-inaccessible', `avail_event: ${errText(e)}`), head);
    }
    return chain;
  }

  /**
   * Give chain `head` back: `written` goes into its writable buffers in order (cut where they
   * end), then used.ring[used.idx % Q] = {head, bytes written} and used.idx + 1 (16-bit wrap).
   * @returns the bytes written (less than `written.length` when the buffers are too short); 0
   *   when the queue is or becomes broken
   * @throws RangeError when `head` is not a chain `pop` handed out and `push` did not take yet
   */
  push(head: number, written: Uint8Array = new Uint8Array(0)): number {
    const segs = Number.isInteger(head) ? this.#inflight[head] : undefined;
    if (segs === undefined) throw new RangeError(`descriptor chain ${head} is not in flight on this queue`);
    this.#inflight[head] = undefined;
    this.#inflightCount--;
    if (this.#broken) return 0;
    let n = 0;
    try {
      for (let i = 0; i < segs.length && n < written.length; i++) {
        const s = segs[i]!;
        const k = Math.min(s.len, written.length - n);
        this.#mem.write(s.addr, n === 0 && k === written.length ? written : written.subarray(n, n + k));
        n += k;
      }
    } catch (e) {
      this.#fail(new RingFault('address-refused', `writable buffer: ${errText(e)}`), head);
      return 0;
    }
    try {
      const elem = this.#elem;
      elem[0] = head & 0xff;
      elem[1] = (head >>> 8) & 0xff;
      elem[2] = (head >>> 16) & 0xff;
      elem[3] = (head >>> 24) & 0xff;
      elem[4] = n & 0xff;
      elem[5] = (n >>> 8) & 0xff;
      elem[6] = (n >>> 16) & 0xff;
      elem[7] = (n >>> 24) & 0xff;
      this.#mem.write(this.#usedRingAddr + BigInt(VIRTQ_USED_ELEM_SIZE * (this.#usedIdx & this.#mask)), elem);
      const next = (this.#usedIdx + 1) & 0xffff;
      this.#writeU16(this.#usedIdxAddr, next);
      this.#usedIdx = next;
      this.#pushed = true;
    } catch (e) {
      this.#fail(new RingFault('ring-inaccessible', `used ring: ${errText(e)}`), head);
      return 0;
    }
    return n;
  }

  /**
   * Whether the driver wants a used-buffer interrupt for the entries pushed since the last call.
   * False when nothing was pushed since then or the queue is broken. Without EVENT_IDX: unless
   * avail.flags has NO_INTERRUPT. With EVENT_IDX: when used.idx passed used_event (the avail
   * ring's trailing u16) since the last call. With NOTIFY_ON_EMPTY: also whenever the
   * available ring is empty and no chain is in flight. With EVENT_IDX the first call after pushes says true
   * (there is no earlier used.idx to compare with).
   */
  needsInterrupt(): boolean {
    if (this.#broken) return false;
    const c = this.config;
    const now = this.#usedIdx;
    const old = this.#signalledUsed;
    const valid = this.#signalledValid;
    if (!this.#pushed) return false;
    this.#pushed = false;
    this.#signalledUsed = now;
    this.#signalledValid = true;
    try {
      if (c.notifyOnEmpty === true && this.#inflightCount === 0 && this.#u16(this.#availIdxAddr) === this.#lastAvail) return true;
      if (!c.eventIdx) return (this.#u16(c.availAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
      if (!valid) return true;
      const usedEvent = this.#u16(this.#usedEventAddr);
      return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    } catch (e) {
      this.#fail(new RingFault('ring-inaccessible', `available ring: ${errText(e)}`));
      return false;
    }
  }

  /**
   * Ask for kicks (true) or not (false). Without EVENT_IDX this sets or clears used.flags
   * NO_NOTIFY; with it, enabling writes avail_event = the current avail.idx (and `pop` keeps it
   * at the last index seen), disabling stops those updates. Never throws.
   */
  setNotifications(enabled: boolean): void {
    if (this.#broken) return;
    this.#notifications = enabled;
    const c = this.config;
    try {
      if (c.eventIdx) {
        if (enabled) this.#writeU16(this.#availEventAddr, this.#u16(this.#availIdxAddr));
      } else {
        this.#writeU16(c.usedAddr, enabled ? 0 : VIRTQ_USED_F_NO_NOTIFY);
      }
    } catch (e) {
      this.#fail(new RingFault('ring-inaccessible', `used ring: ${errText(e)}`));
    }
  }

  /** Available entries not popped yet (0 when broken or unreadable). Never throws. */
  pending(): number {
    if (this.#broken) return 0;
    try {
      return (this.#u16(this.#availIdxAddr) - this.#lastAvail) & 0xffff;
    } catch {
      return 0;
    }
  }

  // ── internals ────────────────────────────────────────────────────────────

  #fail(f: RingFault, head?: number): undefined {
    this.#broken ??= head === undefined ? { kind: f.kind, detail: f.detail } : { kind: f.kind, detail: f.detail, head };
    return undefined;
  }

  #u16(gpa: bigint): number {
    const b = this.#mem.read(gpa, 2);
    return b[0]! | (b[1]! << 8);
  }

  #writeU16(gpa: bigint, v: number): void {
    const b = this.#idx;
    b[0] = v & 0xff;
    b[1] = (v >> 8) & 0xff;
    this.#mem.write(gpa, b);
  }

  #updateAvailEvent(): void {
    if (!this.config.eventIdx || !this.#notifications) return;
    this.#writeU16(this.#availEventAddr, this.#lastAvail);
  }

  /** Walk chain `head`; throws RingFault for a structural fault, anything else for memory. */
  #walk(head: number): DescriptorChain {
    const c = this.config;
    // The first readable part in locals (the usual request is one buffer); more go to `readParts`.
    let firstAddr = 0n;
    let firstLen = 0;
    let readParts: WritableSegment[] | undefined;
    const writable: WritableSegment[] = [];
    let readableLen = 0;
    let writableLen = 0;
    let base = c.descAddr;
    let limit = c.size;
    let inTable = false;
    let idx = head;
    let count = 0;
    let total = 0;
    for (;;) {
      count++;
      total++;
      if (count > limit) throw new RingFault('chain-loop', `the chain has more than ${limit} descriptors${inTable ? ' in its indirect table' : ''}`);
      let d: Uint8Array;
      try {
        d = this.#mem.read(base + BigInt(VIRTQ_DESC_SIZE * idx), VIRTQ_DESC_SIZE);
      } catch (e) {
        throw new RingFault(inTable ? 'address-refused' : 'ring-inaccessible', `${inTable ? 'indirect table' : 'descriptor table'}: ${errText(e)}`);
      }
      // {u64 addr, u32 len, u16 flags, u16 next}, little-endian, decoded from the bytes (no
      // DataView: see #elem).
      const lo = (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0;
      const hi = (d[4]! | (d[5]! << 8) | (d[6]! << 16) | (d[7]! << 24)) >>> 0;
      const addr = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
      const len = (d[8]! | (d[9]! << 8) | (d[10]! << 16) | (d[11]! << 24)) >>> 0;
      const flags = d[12]! | (d[13]! << 8);
      const next = d[14]! | (d[15]! << 8);
      if (flags & VirtqDescFlag.INDIRECT) {
        if (c.indirect !== true) throw new RingFault('indirect-not-negotiated', `descriptor ${idx} has INDIRECT but VIRTIO_RING_F_INDIRECT_DESC was not negotiated`);
        if (inTable) throw new RingFault('indirect-malformed', `descriptor ${idx} of an indirect table is itself INDIRECT`);
        if (flags & VirtqDescFlag.NEXT) throw new RingFault('indirect-malformed', `descriptor ${idx} has both INDIRECT and NEXT`);
        if (len === 0 || len % VIRTQ_DESC_SIZE !== 0 || len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SIZE) {
          throw new RingFault('indirect-malformed', `indirect table length ${len} is not a multiple of 16 in 16..${16 * VIRTQ_MAX_SIZE}`);
        }
        base = addr;
        limit = len / VIRTQ_DESC_SIZE;
        inTable = true;
        idx = 0;
        count = 0;
        continue;
      }
      if (len === 0) throw new RingFault('zero-length', `descriptor ${idx} has length 0`);
      if (flags & VirtqDescFlag.WRITE) {
        writable.push({ addr, len });
        writableLen += len;
      } else {
        if (writable.length > 0) throw new RingFault('readable-after-writable', `descriptor ${idx} is device-readable after a device-writable one`);
        if (readableLen === 0) {
          firstAddr = addr;
          firstLen = len;
        } else {
          (readParts ??= [{ addr: firstAddr, len: firstLen }]).push({ addr, len });
        }
        readableLen += len;
        if (readableLen > this.#maxReadable) throw new RingFault('chain-too-large', `the readable part exceeds ${this.#maxReadable} bytes`);
      }
      if (readableLen + writableLen > U32_LIMIT) throw new RingFault('chain-too-large', 'the buffers add up to more than 2^32 bytes');
      if (!(flags & VirtqDescFlag.NEXT)) break;
      if (next >= limit) throw new RingFault('next-out-of-range', `descriptor ${idx} chains to ${next} ≥ ${limit}${inTable ? ' (indirect table length)' : ' (queue size)'}`);
      idx = next;
    }
    let readable: Uint8Array;
    if (readParts === undefined) {
      // No readable part, or one (the usual request): the accessor's copy is the chain's bytes.
      readable = readableLen === 0 ? new Uint8Array(0) : this.#mem.read(firstAddr, firstLen);
    } else {
      readable = new Uint8Array(readableLen);
      let at = 0;
      for (const p of readParts) {
        readable.set(this.#mem.read(p.addr, p.len), at);
        at += p.len;
      }
    }
    for (let i = 0; i < writable.length; i++) {
      const w = writable[i]!;
      if (this.#mem.probe) this.#mem.probe(w.addr, w.len, 'write');
      else this.#mem.read(w.addr, w.len);
    }
    return { head, readable, writable, writableLength: writableLen, descriptors: total };
  }
}
