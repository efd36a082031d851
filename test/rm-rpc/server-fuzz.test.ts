// Property tests of the RM's receive path: any bytes on any link never throw out of the
// server, never produce an internal error, and leave the RM's invariants intact (STYLE rule 13).
import { expect } from 'vitest';
import { test, fc } from '@fast-check/vitest';
import { createEmulator } from '../../src/emulator.js';
import { RmMsgId } from '../../src/rm-rpc/wire/msg-ids.js';
import { RmErrorCode } from '../../src/rm-rpc/wire/errors.js';
import { encodeRpcFrame } from '../../src/rm-rpc/wire/header.js';
import { RawRm } from '../support/raw-rm.js';

const KNOWN_IDS = Object.values(RmMsgId);

/** Frames that look like RM traffic often enough to reach the handlers. */
const frameArb = fc.oneof(
  fc.uint8Array({ maxLength: 240 }),
  fc.record({
    msgType: fc.constantFrom(0, 1, 1, 1, 2, 3),
    fragments: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 63 })),
    seq: fc.integer({ min: 0, max: 0xffff }),
    msgId: fc.oneof(fc.constantFrom(...KNOWN_IDS), fc.integer({ min: 0, max: 0xffffffff })),
    payload: fc.uint8Array({ maxLength: 232 }),
    errCode: fc.integer({ min: 0, max: 0xffffffff }),
  }).map((f) => encodeRpcFrame(f.msgType === 2 ? { ...f, msgType: 2 } : { ...f, msgType: f.msgType as 0 | 1 | 3 })),
);

test.prop([fc.array(frameArb, { maxLength: 40 })], { numRuns: 150 })('random frames keep the RM consistent', async (frames) => {
  const emu = createEmulator();
  const rm = new RawRm(emu);
  for (const f of frames) {
    try {
      rm.sendFrame(f);
    } catch {
      // queue full: drain what the RM answered, then carry on
    }
    while (rm.ch.rxPending) await rm.ch.recv();
    await Promise.resolve();
  }
  await new Promise((r) => setImmediate(r));
  while (rm.ch.rxPending) await rm.ch.recv();
  // The RM is alive and well: it answers a probe, and every invariant holds.
  expect((await rm.call(RmMsgId.VM_GET_VMID)).err).toBe(RmErrorCode.OK);
  expect(emu.checkInvariants()).toEqual([]);
  rm.close();
  emu.close();
});
