/**
 * Shapes of the golden byte vectors of the RM RPC protocol, and the typed constructors the
 * vector files use (STYLE.md rule 12; mqtt-packet testParseGenerate, ethereumjs provenance).
 *
 * Layer: test support for rm-rpc/wire. A vector is a **whole message-queue frame** (8-byte
 * header, the u32 err_code for a reply, then the payload) whose bytes were typed by hand from
 * /work/shared/reference/rm-rpc.md (and hypervisor.md §9.1). The `record` is the payload record
 * of the codec under test; the codec is taken from the catalogue (RM_CATALOGUE / RM_NOTIFICATIONS)
 * unless the vector names another one (request-dependent replies, error tails).
 *
 * The header fields (`type`, `seq`, `msgId`, `err`) are typed by hand too: `msgId` is the number
 * from rm-rpc.md §11/§13, never `RmMsgId.X`, so that the coverage test can check msg-ids.ts
 * against the sheet.
 *
 * What these files must not do: compute expected bytes with any encoder of ours.
 */
import type { PayloadCodec } from '../../src/rm-rpc/wire/codec.js';
import { RM_CATALOGUE, RM_NOTIFICATIONS, type NotifOf, type RepOf, type ReqOf } from '../../src/rm-rpc/wire/catalogue.js';
import type { RmMsgName, RmNotifName } from '../../src/rm-rpc/wire/msg-ids.js';

/** Which test of a vector a known codec/sheet disagreement makes fail. */
export type GoldenCheck = 'decode' | 'encode' | 'mirror';

/**
 * A place where our codec does not do what the sheet says. The vector stays as the sheet says;
 * the named checks run as `test.fails` with a name that says so, and the final report lists it.
 */
export interface Disagreement {
  readonly field: string;
  readonly sheet: string;
  readonly codec: string;
  readonly fails: readonly GoldenCheck[];
}

interface VectorBase<T> {
  /** Shown by `describe.each('$name')`. */
  readonly name: string;
  /** The section of the reference the bytes were typed from, e.g. 'rm-rpc.md §12.1'. */
  readonly ref: string;
  /** Catalogue name of the message (request/reply) or notification. */
  readonly msg: RmMsgName | RmNotifName;
  readonly seq: number;
  /** u32 message ID, typed from the sheet. */
  readonly msgId: number;
  /** The payload codec the record belongs to. */
  readonly codec: PayloadCodec<T>;
  /** The decoded payload (after the 8-byte header, or after err_code for a reply). */
  readonly record: T;
  readonly disagreement?: Disagreement;
  /**
   * Set (to the rule, e.g. 'padding is ignored, §10') on bytes the RM accepts but an encoder
   * never writes: non-zero ignored padding, an absent trailing list. Only decode and mirror run.
   */
  readonly decodeOnly?: string;
}

/** A single-frame message: `bytes` is the whole frame. */
export type GoldenVector<T = unknown> = VectorBase<T> &
  (
    | { readonly type: 'request' | 'notification'; readonly bytes: readonly number[] }
    | { readonly type: 'reply'; readonly err: number; readonly bytes: readonly number[] }
  );

/** A message that spans several frames: `frames[0]` has the real type, the rest are CONTINUATION. */
export type FragmentedVector<T = unknown> = VectorBase<T> &
  (
    | { readonly type: 'request' | 'notification'; readonly frames: readonly (readonly number[])[] }
    | { readonly type: 'reply'; readonly err: number; readonly frames: readonly (readonly number[])[] }
  );

/** A bare 8-byte header (rm-rpc.md §2), for the header-only examples of the sheet. */
export interface HeaderVector {
  readonly name: string;
  readonly ref: string;
  readonly header: { readonly msgType: 0 | 1 | 2 | 3; readonly fragments: number; readonly seq: number; readonly msgId: number };
  readonly bytes: readonly number[];
}

/** Bytes that must be rejected. Whole frames: the header must decode unless `stage` is 'frame'. */
export interface InvalidVector {
  readonly name: string;
  readonly ref: string;
  /** 'frame': decodeRpcFrame must throw. 'payload': the frame decodes, the payload codec throws. */
  readonly stage: 'frame' | 'payload';
  /** The codec for stage 'payload'. */
  readonly codec?: PayloadCodec<unknown>;
  readonly bytes: readonly number[];
  /** Expected `WireError.reason`. */
  readonly reason: string;
  /**
   * Expected `WireError.detail.rmError` (what the RM answers). `null`: no reply at all (the RM
   * drops the frame, §8.1), so the WireError must not name an RM error.
   */
  readonly rmError: 'MSG_INVALID' | 'NORESOURCE' | 'ARGUMENT_INVALID' | 'UNIMPLEMENTED' | null;
  /** Set when the sheet does not name the error and the expectation is a stated decision. */
  readonly note?: string;
  readonly disagreement?: Omit<Disagreement, 'fails'>;
}

type Common = { name: string; ref: string; seq: number; msgId: number; bytes: number[]; disagreement?: Disagreement; decodeOnly?: string };

/** A request frame whose payload is `RM_CATALOGUE[msg].req`. */
export function request<N extends RmMsgName>(msg: N, v: Common & { record: ReqOf<N> }): GoldenVector {
  return { ...v, msg, type: 'request', codec: RM_CATALOGUE[msg].req as PayloadCodec<unknown> };
}

/** An OK reply frame (err 0) whose data is `RM_CATALOGUE[msg].reply`. */
export function reply<N extends RmMsgName>(msg: N, v: Common & { record: RepOf<N> }): GoldenVector {
  return { ...v, msg, type: 'reply', err: 0, codec: RM_CATALOGUE[msg].reply as PayloadCodec<unknown> };
}

/** A reply frame decoded with an explicit codec (request-dependent replies, error replies). */
export function replyWith<T>(msg: RmMsgName, codec: PayloadCodec<T>, v: Common & { err: number; record: T }): GoldenVector {
  return { ...v, msg, type: 'reply', codec: codec as PayloadCodec<unknown> };
}

/** A notification frame whose payload is `RM_NOTIFICATIONS[msg].payload`. */
export function notification<N extends RmNotifName>(msg: N, v: Common & { record: NotifOf<N> }): GoldenVector {
  return { ...v, msg, type: 'notification', codec: RM_NOTIFICATIONS[msg].payload as PayloadCodec<unknown> };
}

/** Bytes of an ASCII string, for records whose wire form is a byte string. */
export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
