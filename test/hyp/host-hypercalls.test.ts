// The host's hypercall surface: capability look-ups and rights (hypervisor.md §6, §10), fault
// injection (src/shared/faults.ts), memextent_donate / addrspace_map / unmap onto the memory
// model (§8), and the host's own memory.
import { describe, expect, test } from 'vitest';
import { DonateType, MapFlag, VcpuRunState as S } from '../../src/hyp/host-api.js';
import { HypErrorCode as E } from '../../src/shared/hyp-errors.js';
import { DP_IPA, DP_PA, GUEST, HOST, PAGE, makeRig, spinner, st, err } from './vcpu-support.js';

describe('capability look-ups and rights', () => {
  test('vcpu_run: null cap → CSPACE_CAP_NULL; not a vCPU → ARGUMENT_INVALID; missing rights → INSUFFICIENT_RIGHTS', () => {
    const rig = makeRig({ guest: spinner });
    const { hyp } = rig;
    expect(hyp.host.vcpuRun(0x9999n, 0n, 0n, 0n)).toEqual(err(E.ERROR_CSPACE_CAP_NULL));
    expect(hyp.host.vcpuRun(rig.dp.asCap, 0n, 0n, 0n)).toEqual(err(E.ERROR_ARGUMENT_INVALID));
    const weak = hyp.grantCap(HOST, rig.vcpus[0]!, 0x2); // AFFINITY only
    expect(hyp.host.vcpuRun(weak, 0n, 0n, 0n)).toEqual(err(E.ERROR_CSPACE_INSUFFICIENT_RIGHTS));
    // The guest's own cspace is not the host's.
    const guestCap = hyp.grantCap(GUEST, rig.vcpus[0]!, 0x12);
    expect(guestCap).toBe(0x100n);
    expect(hyp.host.vcpuRun(rig.caps[0]!, 0n, 0n, 0n)).toEqual(st(S.READY));
  });

  test('doorbell_send needs SEND on a doorbell; doorbell_mask needs RECEIVE (the host BELL_TX cap has SEND only)', () => {
    const rig = makeRig({ guest: spinner });
    const { hyp } = rig;
    const o = hyp.createObject('doorbell', GUEST, {});
    const tx = hyp.grantCap(HOST, o, 0x1);
    const rx = hyp.grantCap(HOST, o, 0x2);
    expect(hyp.host.doorbellSend(rig.caps[0]!, 1n)).toEqual({ error: E.ERROR_CSPACE_WRONG_OBJECT_TYPE, oldFlags: 0n });
    expect(hyp.host.doorbellSend(rx, 1n)).toEqual({ error: E.ERROR_CSPACE_INSUFFICIENT_RIGHTS, oldFlags: 0n });
    expect(hyp.host.doorbellSend(tx, 1n)).toEqual({ error: 0, oldFlags: 0n });
    expect(hyp.host.doorbellSend(tx, 2n)).toEqual({ error: 0, oldFlags: 1n });
    expect(hyp.host.doorbellMask(tx, 1n, 1n)).toBe(E.ERROR_CSPACE_INSUFFICIENT_RIGHTS);
    expect(hyp.host.doorbellMask(rx, 1n, 1n)).toBe(0);
    expect(hyp.doorbell(o)).toMatchObject({ flags: 2n, enableMask: 1n, ackMask: 1n });
  });

  test('memextent_donate and addrspace_map check their capabilities', () => {
    const rig = makeRig({ guest: spinner });
    const h = rig.hyp.host;
    const [gPriv, , hPriv] = rig.dp.extentCaps;
    const noDonate = rig.hyp.grantCap(HOST, rig.hyp.createObject('memextent', GUEST, { label: 2, extent: rig.hyp.hostExtent }), 0x1);
    expect(h.memextentDonate(DonateType.TO_PROTECTED, noDonate, gPriv!, DP_PA, PAGE)).toBe(E.ERROR_CSPACE_INSUFFICIENT_RIGHTS);
    expect(h.memextentDonate(DonateType.TO_PROTECTED, rig.dp.asCap, gPriv!, DP_PA, PAGE)).toBe(E.ERROR_CSPACE_WRONG_OBJECT_TYPE);
    expect(h.addrspaceMap(gPriv!, gPriv!, DP_IPA, 0x77, 0, DP_PA, PAGE)).toBe(E.ERROR_CSPACE_WRONG_OBJECT_TYPE);
    expect(h.addrspaceMap(rig.dp.asCap, 0x7777n, DP_IPA, 0x77, 0, DP_PA, PAGE)).toBe(E.ERROR_CSPACE_CAP_NULL);
    expect(h.memextentDonate(DonateType.TO_PROTECTED, hPriv!, gPriv!, DP_PA, PAGE)).toBe(0);
  });
});

describe('fault injection', () => {
  test('the nth call of a hypercall returns the planned error instead of running', () => {
    const rig = makeRig({
      guest: spinner,
      faults: {
        hypercalls: [
          { call: 'vcpu_run', occurrence: 2, error: 'ERROR_RETRY' },
          { call: 'memextent_donate', error: 10 },
          { call: 'addrspace_map', error: 'NOT_A_NAME' },
          { call: 'doorbell_send', error: 'ERROR_BUSY', sticky: true },
        ],
      },
    });
    const h = rig.hyp.host;
    expect(rig.run(0)).toEqual(st(S.READY));
    expect(rig.run(0)).toEqual(err(E.ERROR_RETRY));
    expect(rig.run(0)).toEqual(st(S.READY));
    const [gPriv, , hPriv] = rig.dp.extentCaps;
    expect(h.memextentDonate(DonateType.TO_PROTECTED, hPriv!, gPriv!, DP_PA, PAGE)).toBe(E.ERROR_NOMEM);
    expect(rig.hyp.memory.extentOf(DP_PA, PAGE)).toBe(rig.hyp.hostExtent); // nothing moved
    expect(h.memextentDonate(DonateType.TO_PROTECTED, hPriv!, gPriv!, DP_PA, PAGE)).toBe(0);
    expect(h.addrspaceMap(rig.dp.asCap, gPriv!, DP_IPA, 0x77, 0x3, DP_PA, PAGE)).toBe(E.ERROR_FAILURE);
    // Injection comes before the capability look-up.
    expect(h.doorbellSend(0x4242n, 1n)).toEqual({ error: E.ERROR_BUSY, oldFlags: 0n });
    expect(h.doorbellSend(0x4242n, 1n)).toEqual({ error: E.ERROR_BUSY, oldFlags: 0n });
  });
});

describe('memory calls', () => {
  test('share: TO_SIBLING between two caps of the host extent is a checked no-op; map RW PARTIAL|VMMIO', () => {
    const rig = makeRig({ guest: spinner });
    const h = rig.hyp.host;
    const [, hShared, , gShared] = rig.dp.extentCaps;
    h.writeMemory(DP_PA, new Uint8Array([9]));
    expect(h.memextentDonate(DonateType.TO_SIBLING, hShared!, gShared!, DP_PA, PAGE)).toBe(0);
    expect(h.memextentDonate(DonateType.TO_SIBLING, hShared!, gShared!, DP_PA + 1, PAGE)).toBe(E.ERROR_ARGUMENT_ALIGNMENT);
    expect(h.memextentDonate(DonateType.TO_SIBLING, hShared!, gShared!, DP_PA, 0)).toBe(E.ERROR_ARGUMENT_SIZE);
    expect(h.addrspaceMap(rig.dp.asCap, gShared!, DP_IPA, 0x000f_0066, MapFlag.PARTIAL | MapFlag.VMMIO, DP_PA, PAGE)).toBe(0);
    expect(rig.hyp.memory.read(GUEST, DP_IPA, 1)[0]).toBe(9);
    expect(h.readMemory(DP_PA, 1)[0]).toBe(9); // coherent both ways
    expect(h.addrspaceUnmap(rig.dp.asCap, gShared!, DP_IPA, 0, DP_PA, PAGE)).toBe(0);
    expect(rig.hyp.memory.translate(GUEST, DP_IPA, PAGE)).toEqual([]);
  });

  test('a donate from an extent that does not own the range → MEMDB_NOT_OWNER', () => {
    const rig = makeRig({ guest: spinner });
    const [gPriv, , hPriv] = rig.dp.extentCaps;
    expect(rig.hyp.host.memextentDonate(DonateType.FROM_PROTECTED, gPriv!, hPriv!, DP_PA, PAGE)).toBe(E.ERROR_MEMDB_NOT_OWNER);
  });

  test('bad options and flags → ARGUMENT_INVALID; memory-model errors come back as codes', () => {
    const rig = makeRig({ guest: spinner });
    const h = rig.hyp.host;
    const [gPriv, , hPriv] = rig.dp.extentCaps;
    expect(h.memextentDonate(0x100 | DonateType.TO_PROTECTED, hPriv!, gPriv!, DP_PA, PAGE)).toBe(E.ERROR_ARGUMENT_INVALID);
    expect(h.memextentDonate(9, hPriv!, gPriv!, DP_PA, PAGE)).toBe(E.ERROR_ARGUMENT_INVALID);
    expect(h.memextentDonate(0x8000_0000 | DonateType.TO_PROTECTED, hPriv!, gPriv!, DP_PA, PAGE)).toBe(0); // NOSYNC
    expect(h.addrspaceMap(rig.dp.asCap, gPriv!, DP_IPA, 0x77, 0x10, DP_PA, PAGE)).toBe(E.ERROR_ARGUMENT_INVALID);
    expect(h.addrspaceMap(rig.dp.asCap, gPriv!, DP_IPA, 0x70, 0x3, DP_PA, PAGE)).toBe(E.ERROR_ARGUMENT_INVALID); // no user access
    expect(h.addrspaceMap(rig.dp.asCap, gPriv!, DP_IPA, 0x77, 0x3, DP_PA, PAGE)).toBe(0);
    expect(h.addrspaceMap(rig.dp.asCap, gPriv!, DP_IPA, 0x77, 0x3, DP_PA, PAGE)).toBe(E.ERROR_EXISTING_MAPPING);
    expect(h.addrspaceUnmap(rig.dp.asCap, gPriv!, DP_IPA, 0, DP_PA + PAGE, PAGE)).toBe(E.ERROR_ADDR_INVALID); // wrong PA
    expect(h.addrspaceUnmap(rig.dp.asCap, gPriv!, DP_IPA + PAGE, 0, DP_PA + PAGE, PAGE)).toBe(E.ERROR_ADDR_INVALID); // not mapped
  });

  test('the host memory: read / write / probe through the host stage 2 (identity)', () => {
    const rig = makeRig({ guest: spinner });
    const h = rig.hyp.host;
    h.writeMemory(DP_PA + 0x10, new Uint8Array([1, 2, 3]));
    expect([...h.readMemory(DP_PA + 0x10, 3)]).toEqual([1, 2, 3]);
    expect(h.probeMemory(DP_PA, 8, 'write')).toBeUndefined();
    expect(h.probeMemory(0x10, 8, 'read')).toBe('unmapped');
    expect(() => h.readMemory(0x10, 8)).toThrow(/fault/);
  });
});
