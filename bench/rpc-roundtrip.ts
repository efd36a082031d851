/**
 * RM RPC round trips per second, against a bare message-queue ping-pong of the same frames.
 *
 * Subject: `emu.rmClient.call()` on the host's RM link: client → msgq → RM server → msgq →
 * client (rm-rpc.md §4–§9). Baseline: the very same frames (pre-built once with
 * fragmentMessage(), so no encoding) exchanged over a createMsgqPair() by two sides that are
 * driven by the queues' vIRQ events exactly as the RPC layers are:
 *
 *   side A (client pattern)                     side B (RM link pattern)
 *   send frames; on !ready / FULL wait for      'rx' → drain synchronously in the listener;
 *   'tx', resume in a microtask;                a complete request → queueMicrotask(reply);
 *   'rx' → queueMicrotask(drain)                send reply frames without PUSH; FULL → resume
 *                                               synchronously on 'tx'
 *
 * The ratio rpc / baseline is the share of the transport's own speed the RPC layers keep.
 * Not part of the emulator.
 */
import { createEmulator, type Emulator } from '../src/emulator.js';
import { createMsgqPair } from '../src/msgq/index.js';
import { isHypError } from '../src/shared/hyp-errors.js';
import { toHex, fromHex } from '../src/shared/bytes.js';
import { createMemoryTraceSink } from '../src/shared/trace.js';
import { RmMsgId, rmMsgName } from '../src/rm-rpc/wire/msg-ids.js';
import { RmError, RmErrorCode } from '../src/rm-rpc/wire/errors.js';
import { fragmentMessage } from '../src/rm-rpc/wire/message.js';
import { RPC_HDR_SIZE, RPC_MAX_FRAGMENT_PAYLOAD } from '../src/rm-rpc/wire/header.js';
import { VmStatus } from '../src/rm-rpc/server/vm-state.js';
import type { BenchRow, BenchSuite } from './lib/suite.js';
import { comparePair, type Op, type TimingConfig } from './lib/timing.js';

/** The ratio goal: the RPC layers keep at least half the bare transport's rate. */
export const RPC_RATIO_GOAL = 0.5;

/** A message ID the RM does not know (rm-rpc.md §11: answered UNIMPLEMENTED, no handler runs). */
export const UNKNOWN_MSG_ID = 0x5600_00ff;

/** One request and the reply the RM gives it. */
export interface RpcCase {
  readonly name: string;
  readonly msgId: number;
  readonly payload: Uint8Array;
  /** The reply's err_code. */
  readonly errCode: number;
  /** The reply's data after err_code (empty for an error reply). */
  readonly replyData: Uint8Array;
}

/** The three cases: one frame each way; 45 request frames + 1 reply frame (twice). */
export function rpcCases(): RpcCase[] {
  const big = 10 * 1024;
  return [
    {
      name: 'small: VM_GET_STATE(self)',
      msgId: RmMsgId.VM_GET_STATE,
      payload: new Uint8Array(4), // vmid 0 = the caller itself, 2 bytes padding
      errCode: RmErrorCode.OK,
      // The host VM is RUNNING; os_status 0, app_status 0.
      replyData: Uint8Array.of(VmStatus.RUNNING, 0, 0, 0),
    },
    {
      name: '10 KiB: unknown msg_id',
      msgId: UNKNOWN_MSG_ID,
      payload: new Uint8Array(big),
      errCode: RmErrorCode.UNIMPLEMENTED,
      replyData: new Uint8Array(0),
    },
    {
      name: '10 KiB: VM_START',
      msgId: RmMsgId.VM_START,
      payload: new Uint8Array(big), // not the 4-byte {vmid} it wants → MSG_INVALID from the decoder
      errCode: RmErrorCode.MSG_INVALID,
      replyData: new Uint8Array(0),
    },
  ];
}

/** The frames of a case, as the Linux client and the RM would put them on the wire (seq 0). */
export function caseFrames(c: RpcCase): { request: Uint8Array[]; reply: Uint8Array[] } {
  return {
    request: fragmentMessage({ kind: 'request', seq: 0, msgId: c.msgId, payload: c.payload }, 'linux'),
    reply: fragmentMessage({ kind: 'reply', seq: 0, msgId: c.msgId, errCode: c.errCode, payload: c.replyData }, 'rm'),
  };
}

// ── the subject ─────────────────────────────────────────────────────────────

/** One RPC round trip of `c` on `emu`'s host client; rejects if the RM answers differently. */
export function rpcOp(emu: Emulator, c: RpcCase): Op {
  const client = emu.rmClient;
  if (c.errCode === RmErrorCode.OK) return () => client.call(c.msgId, c.payload);
  const expectErr = (e: unknown): void => {
    if (!(e instanceof RmError) || e.rmCode !== c.errCode) throw e;
  };
  const unexpected = (): never => {
    throw new Error(`case ${c.name}: expected RM error ${c.errCode}, got OK`);
  };
  return () => client.call(c.msgId, c.payload).then(unexpected, expectErr);
}

/**
 * Run one call of `c` through a traced emulator and check that the frames the RM received and
 * the frames the client received are byte for byte the baseline's frames (seq field aside).
 * @throws Error on any difference, so a wrong baseline can never be reported.
 */
export async function checkSameFrames(c: RpcCase): Promise<void> {
  const trace = createMemoryTraceSink();
  const emu = createEmulator({ trace });
  try {
    await rpcOp(emu, c)();
  } finally {
    emu.close();
  }
  const seen = (side: string): string[] =>
    trace.events
      .filter((e) => e.kind === 'rm.frame' && e.side === side && e.dir === 'rx')
      .map((e) => noSeq(fromHex(String(e.hex))));
  const want = caseFrames(c);
  const cmp = (what: string, got: string[], exp: Uint8Array[]): void => {
    const e = exp.map(noSeq);
    if (got.length !== e.length || got.some((g, i) => g !== e[i])) {
      throw new Error(`case ${c.name}: ${what} frames differ from the baseline's (${got.length} vs ${e.length} frames)`);
    }
  };
  cmp('request', seen('rm'), want.request);
  cmp('reply', seen('client'), want.reply);
}

/** Hex of a frame with its seq field (bytes 2–3) zeroed. */
function noSeq(f: Uint8Array): string {
  const g = f.slice();
  g[2] = 0;
  g[3] = 0;
  return toHex(g, '');
}

// ── the baseline ────────────────────────────────────────────────────────────

/** A bare two-sided exchange of pre-built frames over one queue pair. */
export interface PingPong {
  /** Send the request frames, let B answer, resolve once A has drained every reply frame. */
  readonly roundTrip: Op;
  /** Times side A found its TX queue full and waited for the TX vIRQ. */
  readonly txWaits: () => number;
  close(): void;
}

/**
 * Build the baseline. Side A follows rm-client.ts's event pattern and side B follows link.ts's
 * and rm-server.ts's (see the module header); neither decodes nor encodes anything: A counts
 * reply frames, B counts request frames.
 */
export function createPingPong(request: readonly Uint8Array[], reply: readonly Uint8Array[]): PingPong {
  const [a, b] = createMsgqPair();
  const nReq = request.length;
  const nRep = reply.length;
  const rxBuf = RPC_HDR_SIZE + RPC_MAX_FRAGMENT_PAYLOAD;

  // Side A: the client.
  let aNext = nReq; // next request frame to send; nReq = nothing to send
  let aTxReady = true;
  let aWaiting = false;
  let aWaits = 0;
  let aGot = 0;
  let aDraining = false;
  let aAgain = false;
  let done: (() => void) | undefined;

  const aSend = (): void => {
    while (aNext < nReq) {
      if (!aTxReady) {
        aWaiting = true;
        aWaits++;
        return;
      }
      try {
        aTxReady = a.send(request[aNext]!, aNext === nReq - 1).ready;
        aNext++;
      } catch (err) {
        if (!isHypError(err, 'ERROR_MSGQUEUE_FULL')) throw err;
        aTxReady = false;
      }
    }
  };
  const aDrain = (): void => {
    do {
      aAgain = false;
      while (a.rxPending) {
        a.receive(rxBuf);
        if (++aGot === nRep) {
          aGot = 0;
          const d = done;
          done = undefined;
          d?.();
        }
      }
    } while (aAgain);
    aDraining = false;
  };
  const aOnRx = (): void => {
    if (aDraining) {
      aAgain = true;
      return;
    }
    aDraining = true;
    queueMicrotask(aDrain);
  };
  const aOnTx = (): void => {
    aTxReady = true;
    if (aWaiting) {
      aWaiting = false;
      queueMicrotask(aSend); // the client's sender resumes from a resolved promise
    }
  };

  // Side B: the RM.
  let bGot = 0;
  let bNext = nRep; // next reply frame to send; nRep = nothing in flight
  const bPump = (): void => {
    while (bNext < nRep) {
      try {
        b.send(reply[bNext]!, false);
      } catch (err) {
        if (isHypError(err, 'ERROR_MSGQUEUE_FULL')) return; // resume on the TX vIRQ
        throw err;
      }
      bNext++;
    }
  };
  const bReply = (): void => {
    bNext = 0;
    bPump();
  };
  const bOnRx = (): void => {
    while (b.rxPending) {
      b.receive();
      if (++bGot === nReq) {
        bGot = 0;
        queueMicrotask(bReply); // the RM's task loop runs in a microtask
      }
    }
  };

  a.events.on('rx', aOnRx);
  a.events.on('tx', aOnTx);
  b.events.on('rx', bOnRx);
  b.events.on('tx', bPump);

  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        done = resolve;
        aNext = 0;
        aSend();
      }),
    txWaits: () => aWaits,
    close: () => {
      a.events.off('rx', aOnRx);
      a.events.off('tx', aOnTx);
      b.events.off('rx', bOnRx);
      b.events.off('tx', bPump);
    },
  };
}

// ── the suite ───────────────────────────────────────────────────────────────

export const suite: BenchSuite = {
  name: 'rpc-roundtrip',
  description: 'RM RPC round trips (client → msgq → RM → msgq → client) vs a bare msgq ping-pong of the same frames',
  async run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]> {
    if (rmMsgName(UNKNOWN_MSG_ID) !== undefined) throw new Error(`0x${UNKNOWN_MSG_ID.toString(16)} is a known msg_id`);
    const rows: BenchRow[] = [];
    for (const c of rpcCases()) {
      await checkSameFrames(c);
      const frames = caseFrames(c);
      const detail = `${c.payload.byteLength} B req = ${frames.request.length} frame(s), ${4 + c.replyData.byteLength} B reply = ${frames.reply.length} frame(s)`;
      log(`  ${c.name}: ${detail}`);
      const emu = createEmulator();
      const pp = createPingPong(frames.request, frames.reply);
      try {
        const r = await comparePair(rpcOp(emu, c), pp.roundTrip, timing);
        rows.push({
          name: c.name,
          opsPerSec: r.subjectMedian,
          baselineOpsPerSec: r.baselineMedian,
          ratio: r.ratio,
          goal: RPC_RATIO_GOAL,
          rounds: { subject: r.subject, baseline: r.baseline },
          detail: `${detail}; baseline TX waits ${pp.txWaits()}`,
        });
      } finally {
        pp.close();
        emu.close();
      }
    }
    return rows;
  },
};
