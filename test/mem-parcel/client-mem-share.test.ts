// The host's RmCalls.memShare and memReclaim against the emulated RM: LEND or SHARE by ACL size,
// the local EINVAL checks, MEM_APPEND chunking beyond 512 SGL entries, and the reclaim after a
// failed append (rm-rpc.md §16.1 "Linux v17 sends …", §12.5 layouts, §16.3, §16.5 APPEND).
import { describe, expect, test } from 'vitest';
import { createEmulator, type Emulator } from '../../src/emulator.js';
import { RmCalls, type RmClient } from '../../src/rm-rpc/client/index.js';
import { RmMsgId } from '../../src/rm-rpc/wire/msg-ids.js';
import { MEM_APPEND_REQ, MEM_CREATE_REQ, MEM_RECLAIM_REQ, type AclEntry, type SglEntry } from '../../src/rm-rpc/wire/mem.js';
import { MemAppendFlag, MemCreateFlag, MemRights, TransType } from '../../src/rm-rpc/wire/enums.js';
import { HOST } from './support.js';

const PAGE = 4096;
const BASE = 0x20_0000_0000;

/** What the client handed to its RM client, in order. */
interface Sent {
  readonly msgId: number;
  readonly payload: Uint8Array;
}

/** RmCalls over the emulator's host client, recording each call it makes. */
function recordingCalls(emu: Emulator): { calls: RmCalls; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = {
    call: (msgId: number, payload: Uint8Array, opts?: object) => {
      sent.push({ msgId, payload: payload.slice() });
      return emu.rmClient.call(msgId, payload, opts);
    },
  } as unknown as RmClient;
  return { calls: new RmCalls(client), sent };
}

/** `n` one-page entries two pages apart from `base` (never adjacent). */
function spread(n: number, base = BASE): SglEntry[] {
  return Array.from({ length: n }, (_, i) => ({ address: BigInt(base + 2 * i * PAGE), size: BigInt(PAGE) }));
}

/** A guest VMID the RM accepts in an ACL without allocating it (a secondary VMID, decision M1). */
const SECONDARY = 5;

function hostOwnsAll(emu: Emulator, sgl: readonly SglEntry[]): void {
  for (const e of sgl) expect(emu.hyp.memory.check(HOST, Number(e.address), Number(e.size), 'write'), `host access at 0x${e.address.toString(16)}`).toBeUndefined();
}

describe('RmCalls.memShare', () => {
  test('one ACL entry → MEM_LEND; more → MEM_SHARE; the handle comes back; memReclaim returns the memory', async () => {
    const emu = createEmulator();
    const { calls, sent } = recordingCalls(emu);
    const sgl = spread(2);
    const lend = await calls.memShare({ acl: [{ vmid: SECONDARY, rights: MemRights.RW }], sgl, label: 7 });
    const share = await calls.memShare({ acl: [{ vmid: HOST, rights: MemRights.RW }, { vmid: SECONDARY, rights: MemRights.R }], sgl: spread(2, BASE + 0x10_0000) });
    expect(sent.map((s) => s.msgId)).toEqual([RmMsgId.MEM_LEND, RmMsgId.MEM_SHARE]);
    const req = MEM_CREATE_REQ.decode(sent[0]!.payload);
    expect(req).toMatchObject({ memType: 0, flags: 0, label: 7, attrs: [] });
    expect(req.sgl).toEqual(sgl);
    const parcels = emu.rm.inspect().parcels;
    expect(parcels.find((p) => p.handle === lend)?.transType).toBe(TransType.LEND);
    expect(parcels.find((p) => p.handle === share)?.transType).toBe(TransType.SHARE);
    // LEND: the host lost access at once; SHARE: it keeps it.
    expect(emu.hyp.memory.check(HOST, BASE, 1, 'read')?.reason).toBe('unmapped');
    expect(emu.hyp.memory.check(HOST, BASE + 0x10_0000, 1, 'read')).toBeUndefined();
    await calls.memReclaim(lend);
    await calls.memReclaim(share);
    expect(MEM_RECLAIM_REQ.decode(sent[2]!.payload)).toEqual({ handle: lend, flags: 0 });
    hostOwnsAll(emu, sgl);
    expect(emu.rm.inspect().parcels).toEqual([]);
    expect(emu.checkInvariants()).toEqual([]);
    emu.close();
  });

  test.each([
    ['an empty ACL', [], spread(1)],
    ['an empty SGL', [{ vmid: SECONDARY, rights: MemRights.R }], []],
    ['256 ACL entries', Array.from({ length: 256 }, (_, i) => ({ vmid: 4 + (i % 60), rights: MemRights.R })), spread(1)],
  ] as Array<[string, AclEntry[], SglEntry[]]>)('%s → EINVAL with nothing sent', async (_what, acl, sgl) => {
    const emu = createEmulator();
    const { calls, sent } = recordingCalls(emu);
    await expect(calls.memShare({ acl, sgl })).rejects.toMatchObject({ name: 'ErrnoError', code: 'EINVAL' });
    expect(sent).toEqual([]);
    expect(emu.rm.inspect().parcels).toEqual([]);
    emu.close();
  });

  test('1300 SGL entries: a create with APPEND (512), MEM_APPEND (512) and MEM_APPEND (276, END); the parcel covers them all', async () => {
    const emu = createEmulator();
    const { calls, sent } = recordingCalls(emu);
    const sgl = spread(1300);
    const handle = await calls.memShare({ acl: [{ vmid: SECONDARY, rights: MemRights.RWX }], sgl });
    expect(sent.map((s) => s.msgId)).toEqual([RmMsgId.MEM_LEND, RmMsgId.MEM_APPEND, RmMsgId.MEM_APPEND]);
    const create = MEM_CREATE_REQ.decode(sent[0]!.payload);
    expect(create.flags).toBe(MemCreateFlag.APPEND);
    expect(create.sgl).toEqual(sgl.slice(0, 512));
    const a1 = MEM_APPEND_REQ.decode(sent[1]!.payload);
    const a2 = MEM_APPEND_REQ.decode(sent[2]!.payload);
    expect([a1.handle, a1.flags, a1.sgl.length]).toEqual([handle, 0, 512]);
    expect([a2.handle, a2.flags, a2.sgl.length]).toEqual([handle, MemAppendFlag.DONE, 276]);
    expect([...create.sgl, ...a1.sgl, ...a2.sgl]).toEqual(sgl);

    // The RM holds one complete parcel of all 1300 pages, none of which the host can reach.
    expect(emu.rm.inspect().parcels).toEqual([{ handle, owner: HOST, size: 1300 * PAGE, state: 'SHARING', transType: TransType.LEND }]);
    for (const e of sgl) expect(emu.hyp.memory.check(HOST, Number(e.address), PAGE, 'read')?.reason).toBe('unmapped');
    // The gaps between the entries are still the host's.
    expect(emu.hyp.memory.check(HOST, BASE + PAGE, PAGE, 'write')).toBeUndefined();
    expect(emu.checkInvariants()).toEqual([]);

    await calls.memReclaim(handle);
    hostOwnsAll(emu, sgl);
    expect(emu.rm.inspect().parcels).toEqual([]);
    emu.close();
  });

  test('an append that fails part way (its SGL overlaps the parcel: MEM_INVALID) makes the client reclaim the parcel', async () => {
    const emu = createEmulator();
    const { calls, sent } = recordingCalls(emu);
    const own0 = emu.hyp.memory.ownership();
    const sgl = spread(1300);
    // The last chunk (entries 1024..1299) names, at its end, a page already in the first chunk.
    sgl[1299] = sgl[5]!;
    const ok = (await calls.memShare({ acl: [{ vmid: SECONDARY, rights: MemRights.RW }], sgl }).then(
      () => undefined,
      (err: unknown) => err,
    )) as { name?: string; rmName?: string; msgId?: number } | undefined;
    expect(ok).toMatchObject({ name: 'RmError', rmName: 'MEM_INVALID', msgId: RmMsgId.MEM_APPEND });
    expect(sent.map((s) => s.msgId)).toEqual([RmMsgId.MEM_LEND, RmMsgId.MEM_APPEND, RmMsgId.MEM_APPEND, RmMsgId.MEM_RECLAIM]);
    const handle = MEM_APPEND_REQ.decode(sent[1]!.payload).handle;
    expect(MEM_RECLAIM_REQ.decode(sent[3]!.payload)).toEqual({ handle, flags: 0 });
    // Nothing is left: no parcel, and the host owns and reaches every page again.
    expect(emu.rm.inspect().parcels).toEqual([]);
    expect(emu.hyp.memory.ownership()).toEqual(own0);
    hostOwnsAll(emu, sgl);
    expect(emu.checkInvariants()).toEqual([]);
    emu.close();
  });

  test('an append refused on its first chunk is rolled back the same way', async () => {
    const emu = createEmulator();
    const { calls, sent } = recordingCalls(emu);
    const sgl = spread(600);
    sgl[512] = sgl[0]!; // the first MEM_APPEND starts with a page of the create
    await expect(calls.memShare({ acl: [{ vmid: SECONDARY, rights: MemRights.RW }], sgl })).rejects.toMatchObject({ rmName: 'MEM_INVALID' });
    expect(sent.map((s) => s.msgId)).toEqual([RmMsgId.MEM_LEND, RmMsgId.MEM_APPEND, RmMsgId.MEM_RECLAIM]);
    expect(emu.rm.inspect().parcels).toEqual([]);
    hostOwnsAll(emu, sgl);
    emu.close();
  });
});
