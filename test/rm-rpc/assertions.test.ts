// The inputs that abort the real RM (rm-rpc.md §17): the emulated RM detects each one, records
// it, and either answers the closest error (default) or stops answering like a crashed RM.
import { describe, expect, test } from 'vitest';
import { createEmulator } from '../../src/emulator.js';
import { RmMsgId } from '../../src/rm-rpc/wire/msg-ids.js';
import { RmErrorCode } from '../../src/rm-rpc/wire/errors.js';
import { RawRm, vmidPayload } from '../support/raw-rm.js';

describe.each(['reply', 'crash'] as const)('RM assertions, mode %s', (onAssert) => {
  const cases: Array<[string, (rm: RawRm) => Promise<number>, number]> = [
    ['VM_DEALLOCATE of an unknown VM (#1)', async (rm) => rm.send(RmMsgId.VM_DEALLOCATE, vmidPayload(0x99)), RmErrorCode.VMID_INVALID],
    ['VM_IRQ_LEND with an empty payload (#2)', async (rm) => rm.send(RmMsgId.VM_IRQ_LEND), RmErrorCode.MSG_INVALID],
    ['VM_IRQ_NOTIFY with an empty payload (#2)', async (rm) => rm.send(RmMsgId.VM_IRQ_NOTIFY), RmErrorCode.MSG_INVALID],
    ['VM_EXIT from HLOS (#3)', async (rm) => rm.send(RmMsgId.VM_EXIT, new Uint8Array(4)), RmErrorCode.DENIED],
    ['VM_CONSOLE_WRITE under 4 bytes (#6)', async (rm) => rm.send(RmMsgId.VM_CONSOLE_WRITE, new Uint8Array(2)), RmErrorCode.MSG_INVALID],
    [
      'VM_RESET after a VM_CONFIG_IMAGE that failed before its configuration (#5)',
      async (rm) => {
        const alloc = await rm.call(RmMsgId.VM_ALLOCATE, vmidPayload(0));
        const vmid = alloc.data[0]!;
        const cfg = new Uint8Array(40);
        cfg[0] = vmid;
        cfg[4] = 0x77; // no such parcel → MEM_INVALID, INIT_FAILED without configuration
        expect((await rm.call(RmMsgId.VM_CONFIG_IMAGE, cfg)).err).toBe(RmErrorCode.MEM_INVALID);
        return rm.send(RmMsgId.VM_RESET, vmidPayload(vmid));
      },
      RmErrorCode.VM_STATE,
    ],
  ];

  test.each(cases)('%s', async (_name, provoke, closest) => {
    const emu = createEmulator({ rm: { onAssert } });
    const rm = new RawRm(emu);
    const seq = await provoke(rm);
    if (onAssert === 'reply') {
      expect((await rm.reply(seq)).err).toBe(closest);
      // The RM still answers.
      expect((await rm.call(RmMsgId.VM_GET_VMID)).err).toBe(RmErrorCode.OK);
    } else {
      // A crashed RM answers nothing more: the probe stays unanswered.
      rm.send(RmMsgId.VM_GET_VMID);
      await new Promise((r) => setTimeout(r, 20));
      expect(rm.ch.rxPending).toBe(false);
      expect(emu.rm.crashed).toBe(true);
    }
    expect(emu.rm.inspect().assertions).toHaveLength(1);
    rm.close();
    emu.close();
  });
});
