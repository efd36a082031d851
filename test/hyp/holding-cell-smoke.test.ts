// The real guest entry (src/guest/boot.ts) on the vcpu_run driver: a holding-cell image in
// guest RAM polls its command register (vmm-flows.md §6.5, §6.7) and powers a second vCPU on.
import { describe, expect, test } from 'vitest';
import { Hypervisor } from '../../src/hyp/hypervisor.js';
import { VcpuRunState as S } from '../../src/hyp/host-api.js';
import { Access } from '../../src/hyp/memory/api.js';
import { holdingCellImage, holdingCellWord, HoldingCellCmd } from '../../src/guest/index.js';

describe('holding cell on the driver', () => {
  test('first RUN → MMIO read at 0x6000; loopback; power_on_cell', () => {
    const hyp = new Hypervisor({ cpus: 8 });
    const vmid = 0x80;
    const caps: bigint[] = [];
    for (let i = 0; i < 2; i++) caps.push(hyp.grantCap(3, hyp.createObject('vcpu', vmid, { affinityIndex: i, mpidr: BigInt(i) }), 0x12));
    const ext = hyp.memory.createExtent(vmid, 'guest');
    const size = 64 * 4096;
    hyp.memory.donate(hyp.hostExtent, ext, 0x9000_0000, size);
    hyp.memory.map(vmid, ext, 0x8000_0000, 0x9000_0000, size, Access.RWX);
    const img = holdingCellImage();
    hyp.memory.writePhys(0x9000_0000, img);
    hyp.startVm(vmid, { bootRegs: new Map([[0x100, 0x8000_0000n], [0x201, 0x8000_0000n + 0x2_0000n]]) });
    const run = (i: number, r0 = 0n, r1 = 0n) => hyp.host.vcpuRun(caps[i]!, r0, r1, 0n);
    expect(run(0)).toMatchObject({ error: 0, state: S.ADDRSPACE_VMMIO_READ, data0: 0x6000n, data1: 8n });
    // loopback(0x55)
    expect(run(0, holdingCellWord(HoldingCellCmd.LOOPBACK, 1))).toMatchObject({ state: S.ADDRSPACE_VMMIO_READ, data0: 0x6000n });
    expect(run(0, 0x55n)).toMatchObject({ state: S.ADDRSPACE_VMMIO_WRITE, data0: 0x6000n, data2: 0x55n });
    // power_on_cell(1): smccc_hvc(CPU_ON_64, target 1, entry, context 0, 0)
    expect(run(0, 0n, 0n)).toMatchObject({ state: S.ADDRSPACE_VMMIO_READ, data0: 0x6000n });
    let r = run(0, holdingCellWord(HoldingCellCmd.SMCCC_HVC, 5));
    for (const a of [0xc400_0003n, 1n, 0x8000_0000n, 0n, 0n]) {
      expect(r).toMatchObject({ state: S.ADDRSPACE_VMMIO_READ, data0: 0x6000n });
      r = run(0, a);
    }
    expect(r).toMatchObject({ state: S.ADDRSPACE_VMMIO_WRITE, data0: 0x6000n, data2: 0n });
    expect(run(1)).toMatchObject({ error: 0, state: S.ADDRSPACE_VMMIO_READ, data0: 0x6000n, data1: 8n });
    // power_off: SYSTEM_OFF → no result write, POWERED_OFF exited.
    const exits: number[] = [];
    hyp.events.on('vm-exit', (_v, t) => exits.push(t));
    expect(run(0, 0n, 0n)).toMatchObject({ state: S.ADDRSPACE_VMMIO_READ, data0: 0x6000n });
    r = run(0, holdingCellWord(HoldingCellCmd.SMCCC_HVC, 5));
    for (const a of [0x8400_0008n, 0n, 0n, 0n, 0n]) r = run(0, a);
    expect(r).toMatchObject({ state: S.POWERED_OFF, data0: 1n });
    expect(exits).toEqual([1]);
  });
});
