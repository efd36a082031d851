// VM boot on the RM side: VM_INIT reads the image parcel (the DTB parcel Linux lent) without
// accepting it, builds the resources and the overlay; VM_START maps the parcel into the new VM at
// the IMAGE address layout base, writes the overlay in place and absorbs the parcel as the VM's
// memory (or keeps it accepted). Every DTB failure at VM_INIT gets the real RM's error and leaves
// the VM in INIT_FAILED with nothing mapped; a refused accept at VM_START is NORESOURCE and
// INIT_FAILED. The memory extents are the memory model's, and a reset gives everything back.
//
// Reference: rm-rpc.md §12.1–§12.4, §15.4, §16.4–§16.5; uapi.md §8.2, §8.3 step 2,
// §8.11–§8.12; vmm-flows.md §5.1, Q8–Q10; hypervisor.md §8–§9; docs/decisions.md "VM boot
// (RM side)" B1–B4, B12.
import { describe, expect, test } from 'vitest';
import { parseFdt } from '../../src/fdt/reader.js';
import { serializeFdt } from '../../src/fdt/writer.js';
import { fdtNode, type FdtNode } from '../../src/fdt/format.js';
import { findNode, getCells, getString, getStringList, getU32 } from '../../src/fdt/query.js';
import { buildTestDtb, TEST_MEMORY_BASE } from '../../src/conformance/dtb.js';
import { Hypervisor } from '../../src/hyp/hypervisor.js';
import { MemAcceptFlag, MemRights, MemType, ResourceType, TransType, VmStatus } from '../../src/rm-rpc/wire/enums.js';
import { RmMsgId, RmNotifId } from '../../src/rm-rpc/wire/msg-ids.js';
import { MEM_ACCEPT_REQ } from '../../src/rm-rpc/wire/mem.js';
import { createRmClient } from '../../src/rm-rpc/client/index.js';
import { MEM_OWNER_NOTIF_PAYLOAD } from '../../src/rm-rpc/wire/notifications.js';
import { GUEST_PRIVATE_EXTENT_LABEL, checkVmMemoryInvariants, guestPrivateExtentsOf } from '../../src/rm-rpc/server/vm-resources.js';
import { BootRig, GUEST_DTB_BASE, HOST, PAGE, RecordingHypervisor, errName } from './vm-boot-support.js';

const DOORBELL_RECEIVE = 0x2;
const MSGQ_SEND = 0x1;
const MSGQ_RECEIVE = 0x2;

/** The test DTB with `edit` applied to its tree, padded to `minSize` (default 8 KiB). */
function dtbWith(edit: (root: FdtNode) => void, minSize = 0x2000): Uint8Array {
  const tree = parseFdt(buildTestDtb());
  edit(tree.root);
  return serializeFdt(tree, { minSize });
}

const child = (n: FdtNode, name: string): FdtNode => n.children.find((c) => c.name === name)!;
const u64At = (b: Uint8Array, i: number): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(8 * i, false);

/** The DTB as the guest reads it at its address, parsed. */
function guestTree(rig: BootRig, vmid: number, at: number) {
  const head = rig.hyp.memory.read(vmid, at, 8);
  const total = new DataView(head.buffer).getUint32(4, false);
  return { bytes: rig.hyp.memory.read(vmid, at, total), tree: parseFdt(rig.hyp.memory.read(vmid, at, total)) };
}

describe('VM_INIT reads the image parcel; VM_START maps it into the VM (docs/decisions.md B3)', () => {
  test('after VM_INIT: READY, nothing mapped, the DTB untouched, the parcel not accepted; VM_GET_HYP_RESOURCES answers the same before and after VM_START', async () => {
    const rig = new BootRig();
    const b = await rig.boot();
    expect(b.init).toBe('OK');
    expect(await rig.state(b.vmid)).toBe(VmStatus.READY);
    expect(rig.hyp.memory.mappingsOf(b.vmid)).toEqual([]);
    expect(rig.hyp.memory.readPhys(b.pa, b.dtb.byteLength)).toEqual(b.dtb);
    expect(rig.rm.inspect().parcels.find((p) => p.handle === b.handle)?.state).toBe('SHARING');
    expect(rig.rm.checkInvariants()).toEqual([]);
    const before = await rig.calls.getHypResources(b.vmid);
    expect(before.length).toBeGreaterThan(0);
    await rig.calls.vmStart(b.vmid);
    expect(await rig.calls.getHypResources(b.vmid)).toEqual(before);
    rig.close();
  });

  test('a failed start leaves the parcel reclaimable: MEM_RECLAIM after VM_INIT succeeds, and the host has its DTB back unchanged', async () => {
    const rig = new BootRig();
    const b = await rig.boot();
    expect(b.init).toBe('OK');
    expect(await errName(() => rig.calls.memReclaim(b.handle))).toBe('OK');
    expect(rig.hyp.memory.read(HOST, b.pa, b.dtb.byteLength)).toEqual(b.dtb);
    expect(rig.rm.inspect().parcels).toEqual([]);
    expect(rig.rm.checkInvariants()).toEqual([]);
    rig.close();
  });

  test("VM_START: at the IMAGE layout base with the ACL rights; the guest reads the DTB with the overlay, the rest of the old DTB zeroed; the parcel becomes the VM's memory (B12)", async () => {
    const rig = new BootRig();
    const b = await rig.boot({ start: true });
    expect(b.start).toBe('OK');
    expect(await rig.state(b.vmid)).toBe(VmStatus.RUNNING);

    // One block at the layout base, reaching the parcel's pages, RWX as the ACL says.
    const t = rig.hyp.memory.translate(b.vmid, GUEST_DTB_BASE, b.parcelSize);
    expect(t).toEqual([expect.objectContaining({ ipa: GUEST_DTB_BASE, pa: b.pa, size: b.parcelSize, rights: MemRights.RWX })]);
    // The lend still keeps the host out.
    expect(rig.hyp.memory.check(HOST, b.pa, 1, 'read')?.reason).toBe('unmapped');

    const { bytes, tree } = guestTree(rig, b.vmid, b.guestDtb);
    expect(findNode(tree.root, '/hypervisor')).toBeDefined();
    expect(tree.totalsize).toBeLessThan(b.dtb.byteLength); // packed: the free space is no longer counted
    // The guest sees exactly what the RM wrote into the parcel's memory, then zeros.
    expect(rig.hyp.memory.readPhys(b.pa, bytes.byteLength)).toEqual(bytes);
    const rest = rig.hyp.memory.read(b.vmid, b.guestDtb + bytes.byteLength, b.dtb.byteLength - bytes.byteLength);
    expect(rest.every((x) => x === 0)).toBe(true);
    // The pages are in the VM's guest_private extent; the parcel is gone.
    expect(rig.hyp.memory.extentOf(b.pa, b.parcelSize)).toBe(guestPrivateExtentsOf(rig.hyp, b.vmid)[0]?.id);
    expect(rig.rm.inspect().parcels).toEqual([]);
    expect(await errName(() => rig.calls.memReclaim(b.handle))).toBe('HANDLE_INVALID');
    expect(rig.rm.checkInvariants()).toEqual([]);
    rig.close();
  });

  test("with imageParcelAtStart 'keep' the parcel stays accepted by the VM (rm-rpc.md §16.4): SHARED, MEM_RECLAIM is MEM_INUSE", async () => {
    const rig = new BootRig(new Hypervisor({ cpus: 8 }), 'v17', 'keep');
    const b = await rig.boot({ start: true });
    expect(b.start).toBe('OK');
    expect(rig.hyp.memory.translate(b.vmid, GUEST_DTB_BASE, b.parcelSize)).toEqual([expect.objectContaining({ pa: b.pa, size: b.parcelSize })]);
    expect(findNode(guestTree(rig, b.vmid, b.guestDtb).tree.root, '/hypervisor')).toBeDefined();
    expect(rig.rm.inspect().parcels.find((p) => p.handle === b.handle)?.state).toBe('SHARED');
    expect(await errName(() => rig.calls.memReclaim(b.handle))).toBe('MEM_INUSE');
    expect(rig.rm.checkInvariants()).toEqual([]);
    rig.close();
  });

  test('a DTB at an offset in the parcel is found and read at base + offset', async () => {
    const rig = new BootRig();
    const b = await rig.boot({ dtOffset: PAGE, start: true });
    expect([b.init, b.start]).toEqual(['OK', 'OK']);
    expect(b.guestDtb).toBe(GUEST_DTB_BASE + PAGE);
    expect(findNode(guestTree(rig, b.vmid, b.guestDtb).tree.root, '/hypervisor/qcom,gunyah-vm')).toBeDefined();
    rig.close();
  });

  test("without an IMAGE layout the parcel goes to the DT's memory base-address", async () => {
    const rig = new BootRig();
    const b = await rig.boot({ layout: false, start: true });
    expect([b.init, b.start]).toEqual(['OK', 'OK']);
    expect(rig.hyp.memory.translate(b.vmid, Number(TEST_MEMORY_BASE), b.parcelSize)).toHaveLength(1);
    expect(rig.hyp.memory.translate(b.vmid, GUEST_DTB_BASE, b.parcelSize)).toEqual([]);
    rig.close();
  });

  test('with neither a layout nor a base-address there is nowhere to map it: VM_INIT is ARGUMENT_INVALID, INIT_FAILED', async () => {
    const rig = new BootRig();
    const dtb = dtbWith((r) => {
      const cfg = child(r, 'gunyah-vm-config');
      cfg.children = cfg.children.filter((c) => c.name !== 'memory');
    });
    const b = await rig.boot({ dtb, layout: false });
    expect(b.init).toBe('ARGUMENT_INVALID');
    expect(await rig.state(b.vmid)).toBe(VmStatus.INIT_FAILED);
    expect(rig.hyp.memory.mappingsOf(b.vmid)).toEqual([]);
    rig.close();
  });

  test('an RW lend (vmm-flows.md Q9) boots; the guest may read and write the DTB but not execute it', async () => {
    const rig = new BootRig();
    const b = await rig.boot({ rights: MemRights.RW, start: true });
    expect([b.init, b.start]).toEqual(['OK', 'OK']);
    expect(rig.hyp.memory.check(b.vmid, b.guestDtb, 4, 'read')).toBeUndefined();
    expect(rig.hyp.memory.check(b.vmid, b.guestDtb, 4, 'write')).toBeUndefined();
    expect(rig.hyp.memory.check(b.vmid, b.guestDtb, 4, 'exec')?.reason).toBe('permission');
    rig.close();
  });

  test('an R-only lend maps read-only', async () => {
    const rig = new BootRig();
    const b = await rig.boot({ rights: MemRights.R, start: true });
    expect([b.init, b.start]).toEqual(['OK', 'OK']);
    expect(rig.hyp.memory.check(b.vmid, b.guestDtb, 4, 'write')?.reason).toBe('permission');
    rig.close();
  });
});

describe('VM_START: the accept refused → NORESOURCE, INIT_FAILED, nothing of the start left (rm-rpc.md §12.1)', () => {
  /** After the failed VM_START: INIT_FAILED, invariants; then a reset leaves nothing of the VM. */
  async function expectStartUndone(rig: BootRig, vmid: number): Promise<void> {
    expect(await rig.state(vmid)).toBe(VmStatus.INIT_FAILED);
    expect(rig.rm.checkInvariants()).toEqual([]);
    await rig.reset(vmid);
    expect(rig.hyp.memory.mappingsOf(vmid)).toEqual([]);
    expect(rig.hyp.objectsOf(vmid)).toEqual([]);
    expect(guestPrivateExtentsOf(rig.hyp, vmid)).toEqual([]);
    expect(rig.rm.checkInvariants()).toEqual([]);
  }

  test('the image parcel was reclaimed after VM_INIT', async () => {
    const rig = new BootRig();
    const b = await rig.boot();
    await rig.calls.memReclaim(b.handle);
    expect(await errName(() => rig.calls.vmStart(b.vmid))).toBe('NORESOURCE');
    expect(rig.hyp.memory.mappingsOf(b.vmid)).toEqual([]);
    await expectStartUndone(rig, b.vmid);
    rig.close();
  });

  test('the VM took the image IPA itself (an ACCEPT on its own link before VM_START): the image parcel stays unaccepted and its DTB untouched', async () => {
    const rig = new BootRig();
    const b = await rig.boot();
    const other = 0xa000_0000;
    const h = await rig.calls.memShare({ acl: [{ vmid: b.vmid, rights: MemRights.RW }], sgl: [{ address: BigInt(other), size: BigInt(PAGE) }] });
    const ep = rig.rm.vmEndpoint(b.vmid);
    if (!ep) throw new Error('the VM has no RM link');
    const guest = createRmClient({ transport: ep });
    const sgl = [{ address: BigInt(GUEST_DTB_BASE), size: BigInt(PAGE) }];
    await guest.call(RmMsgId.MEM_ACCEPT, MEM_ACCEPT_REQ.encode({ handle: h, memType: MemType.NORMAL, transType: TransType.LEND, flags: MemAcceptFlag.DONE, label: 0, acl: [], mapVmid: 0, sgl, attrs: [] }));
    guest.close();
    expect(await errName(() => rig.calls.vmStart(b.vmid))).toBe('NORESOURCE');
    expect(rig.rm.inspect().parcels.find((p) => p.handle === b.handle)?.state).toBe('SHARING');
    expect(rig.hyp.memory.readPhys(b.pa, b.dtb.byteLength)).toEqual(b.dtb);
    expect(rig.hyp.memory.translate(b.vmid, GUEST_DTB_BASE, PAGE)).toEqual([expect.objectContaining({ pa: other })]);
    await expectStartUndone(rig, b.vmid);
    // The reset released the other parcel; the owner reclaims both.
    await rig.calls.memReclaim(h);
    await rig.calls.memReclaim(b.handle);
    expect(rig.rm.inspect().parcels).toEqual([]);
    rig.close();
  });
});

describe('the overlay (vmm-flows.md §5.1; quic/gunyah-resource-manager create_dt_nodes)', () => {
  test('/hypervisor, qcom,gunyah-vm, the bell-1 doorbell and the RM link, with the capabilities and vIRQs the guest holds', async () => {
    const rig = new BootRig();
    const guid = '6c1d0e4f-2a3b-4c5d-8e9f-0a1b2c3d4e5f';
    const b = await rig.boot({ dtbOptions: { uri: 'vm://boot-test', guid }, start: true });
    expect([b.init, b.start]).toEqual(['OK', 'OK']);
    const root = guestTree(rig, b.vmid, b.guestDtb).tree.root;

    const hyp = findNode(root, '/hypervisor')!;
    expect(getU32(hyp, '#address-cells')).toBe(2);
    expect(getU32(hyp, '#size-cells')).toBe(0);
    expect(getStringList(hyp, 'compatible')).toEqual(['qcom,gunyah-hypervisor-1.0', 'qcom,gunyah-hypervisor', 'simple-bus']);

    const id = child(hyp, 'qcom,gunyah-vm');
    expect(getStringList(id, 'compatible')).toEqual(['qcom,gunyah-vm-id-1.0', 'qcom,gunyah-vm-id']);
    expect(getU32(id, 'qcom,vmid')).toBe(b.vmid);
    expect(getU32(id, 'qcom,owner-vmid')).toBe(HOST);
    expect(getString(id, 'qcom,vendor')).toBe('Qualcomm');
    expect(getString(id, 'qcom,image-name')).toBe('gunyah-conformance');
    expect(getString(id, 'qcom,vm-uri')).toBe('vm://boot-test');
    expect(getString(id, 'qcom,vm-guid')).toBe(guid);

    // bell-1: generate "/hypervisor/bell-1" → bell-1@<the VM's receive capid>.
    const bell = hyp.children.find((c) => c.name.startsWith('bell-1@'))!;
    expect(bell).toBeDefined();
    expect(getStringList(bell, 'compatible')).toEqual(['qcom,gunyah-doorbell', 'qcom,gunyah-capability']);
    const bellCap = u64At(bell.props.get('reg')!, 0);
    expect(bell.name).toBe(`bell-1@${bellCap.toString(16)}`);
    expect(rig.hyp.lookupCap(b.vmid, bellCap, 'doorbell', DOORBELL_RECEIVE).attrs['label']).toBe(1);
    expect(getCells(bell, 'interrupts')).toEqual([0, 1, 1]); // the DT's SPI 1 (INTID 33), edge
    expect(getU32(bell, 'label')).toBe(1);
    expect(getU32(bell, 'qcom,label')).toBe(1);

    // The RM link: generate "/hypervisor/qcom,resource-mgr" → @<rx capid>, reg <tx rx>.
    const rpc = hyp.children.find((c) => c.name.startsWith('qcom,resource-mgr@'))!;
    expect(getStringList(rpc, 'compatible')).toEqual(['qcom,gunyah-message-queue', 'qcom,gunyah-capability', 'qcom,resource-manager', 'qcom,resource-manager-1-0']);
    const [tx, rx] = [u64At(rpc.props.get('reg')!, 0), u64At(rpc.props.get('reg')!, 1)];
    expect(rpc.name).toBe(`qcom,resource-mgr@${rx.toString(16)}`);
    rig.hyp.lookupCap(b.vmid, tx, 'msgqueue', MSGQ_SEND);
    rig.hyp.lookupCap(b.vmid, rx, 'msgqueue', MSGQ_RECEIVE);
    const irqs = getCells(rpc, 'interrupts')!;
    expect(irqs).toHaveLength(6);
    expect([irqs[0], irqs[2], irqs[3], irqs[5]]).toEqual([0, 1, 0, 1]);
    expect(irqs[1]! + 32).toBeGreaterThanOrEqual(960); // vIRQs from the VM's free range
    expect(getU32(rpc, 'qcom,free-irq-start')).toBe(0);
    expect(rpc.props.get('qcom,is-full-duplex')?.byteLength).toBe(0);
    expect([getU32(rpc, 'qcom,tx-message-size'), getU32(rpc, 'qcom,rx-message-size')]).toEqual([240, 240]);
    expect([getU32(rpc, 'qcom,tx-queue-depth'), getU32(rpc, 'qcom,rx-queue-depth')]).toEqual([8, 8]);
    expect(getU32(rpc, 'qcom,vdevice-handle')).toBeGreaterThan(0);

    // The rest of the VMM's tree is untouched.
    expect(getString(findNode(root, '/gunyah-vm-config')!, 'image-name')).toBe('gunyah-conformance');
    expect(rig.rm.checkInvariants()).toEqual([]);
    rig.close();
  });

  test('a doorbell-source is described with the VM send capability and no interrupts', async () => {
    const rig = new BootRig();
    const dtb = dtbWith((r) => {
      const vd = child(child(r, 'gunyah-vm-config'), 'vdevices');
      const n = fdtNode('bell-src');
      const enc = new TextEncoder();
      n.props.set('vdevice-type', enc.encode('doorbell-source\0'));
      n.props.set('generate', enc.encode('/hypervisor/bell-src\0'));
      n.props.set('label', Uint8Array.of(0, 0, 0, 7));
      n.props.set('peer-default', new Uint8Array(0));
      vd.children.push(n);
    });
    const b = await rig.boot({ dtb, start: true });
    expect([b.init, b.start]).toEqual(['OK', 'OK']);
    const hyp = findNode(guestTree(rig, b.vmid, b.guestDtb).tree.root, '/hypervisor')!;
    const src = hyp.children.find((c) => c.name.startsWith('bell-src@'))!;
    expect(getStringList(src, 'compatible')).toEqual(['qcom,gunyah-doorbell-source', 'qcom,gunyah-capability']);
    expect(src.props.has('interrupts')).toBe(false);
    rig.hyp.lookupCap(b.vmid, u64At(src.props.get('reg')!, 0), 'doorbell', 0x1);
    // The owner holds the receiving end, with a vIRQ of its own.
    const res = await rig.calls.getHypResources(b.vmid);
    expect(res.find((r) => r.type === ResourceType.BELL_RX && r.resourceLabel === 7)?.virq).toBeGreaterThanOrEqual(960);
    rig.close();
  });

  test('a DTB that already has /hypervisor is a static configuration: no nodes are added', async () => {
    const rig = new BootRig();
    const dtb = dtbWith((r) => {
      const h = fdtNode('hypervisor');
      h.props.set('compatible', new TextEncoder().encode('qcom,gunyah-hypervisor\0'));
      r.children.push(h);
    });
    const b = await rig.boot({ dtb, start: true });
    expect([b.init, b.start]).toEqual(['OK', 'OK']);
    const hyp = findNode(guestTree(rig, b.vmid, b.guestDtb).tree.root, '/hypervisor')!;
    expect(hyp.children).toEqual([]);
    expect([...hyp.props.keys()]).toEqual(['compatible']);
    rig.close();
  });
});

describe('DTB failures: the RM error, INIT_FAILED, and nothing left behind', () => {
  /** After a failed VM_INIT: the state, no mapping, no objects, no guest extent, the parcel reclaimable. */
  async function expectNothingLeft(rig: BootRig, vmid: number, handle: number): Promise<void> {
    expect(await rig.state(vmid)).toBe(VmStatus.INIT_FAILED);
    expect(rig.hyp.memory.mappingsOf(vmid)).toEqual([]);
    expect(rig.hyp.objectsOf(vmid)).toEqual([]);
    expect(guestPrivateExtentsOf(rig.hyp, vmid)).toEqual([]);
    expect(rig.rm.inspect().parcels.find((p) => p.handle === handle)?.state).toBe('SHARING');
    expect(rig.rm.checkInvariants()).toEqual([]);
    expect(await errName(() => rig.calls.memReclaim(handle))).toBe('OK');
  }

  test('no room for the overlay (dt_size = the DTB without free space): NORESOURCE, DTB untouched', async () => {
    const rig = new BootRig();
    const dtb = buildTestDtb({ minSize: 0 });
    const b = await rig.boot({ dtb });
    expect(b.init).toBe('NORESOURCE');
    await expectNothingLeft(rig, b.vmid, b.handle);
    expect(rig.hyp.memory.read(HOST, b.pa, dtb.byteLength)).toEqual(dtb);
    rig.close();
  });

  test('a DT region a few bytes larger than the DTB is not enough for the overlay; the rest of its page is', async () => {
    const rig = new BootRig();
    const dtb = buildTestDtb({ minSize: 0 });
    expect(dtb.byteLength).toBeLessThan(PAGE / 2);
    const tight = await rig.boot({ dtb, dtSize: BigInt(dtb.byteLength + 64) });
    expect(tight.init).toBe('NORESOURCE');
    const roomy = await rig.boot({ dtb, dtSize: BigInt(PAGE) });
    expect(roomy.init).toBe('OK');
    rig.close();
  });

  test.each([
    ['bad magic', (d: Uint8Array) => void d.fill(0, 0, 4)],
    ['a structure block token that is not one', (d: Uint8Array) => {
      const off = new DataView(d.buffer).getUint32(8, false);
      new DataView(d.buffer).setUint32(off, 0x77, false);
    }],
    ['totalsize past the DT region', (d: Uint8Array) => void new DataView(d.buffer).setUint32(4, 0x3000, false)],
  ])('a malformed DTB (%s): MEM_INVALID', async (_what, corrupt) => {
    const rig = new BootRig();
    const dtb = buildTestDtb();
    corrupt(dtb);
    const b = await rig.boot({ dtb });
    expect(b.init).toBe('MEM_INVALID');
    await expectNothingLeft(rig, b.vmid, b.handle);
    rig.close();
  });

  test('dt_size 0 (no DTB): MEM_INVALID', async () => {
    const rig = new BootRig();
    const b = await rig.boot({ dtSize: 0n });
    expect(b.init).toBe('MEM_INVALID');
    await expectNothingLeft(rig, b.vmid, b.handle);
    rig.close();
  });

  test('an IO image parcel is not memory the RM maps a DTB from: MEM_INVALID', async () => {
    const rig = new BootRig();
    const b = await rig.boot({ memType: MemType.IO, rights: MemRights.RW });
    expect(b.init).toBe('MEM_INVALID');
    await expectNothingLeft(rig, b.vmid, b.handle);
    rig.close();
  });

  test.each([
    ['image-name missing (a listener refuses: parse failure)', 'MEM_INVALID', (r: FdtNode): void => void child(r, 'gunyah-vm-config').props.delete('image-name')],
    ['crash-fatal in an untrusted config (vm_config_update_parsed)', 'ARGUMENT_INVALID', (r: FdtNode): void => void child(r, 'gunyah-vm-config').props.set('vm-attrs', new TextEncoder().encode('crash-fatal\0'))],
    ['no vcpus node (handle_vcpu)', 'NORESOURCE', (r: FdtNode): void => void (child(r, 'gunyah-vm-config').children = child(r, 'gunyah-vm-config').children.filter((c) => c.name !== 'vcpus'))],
  ] as const)('a DT the RM refuses, %s: %s', async (_what, err, edit) => {
    const rig = new BootRig();
    const b = await rig.boot({ dtb: dtbWith(edit) });
    expect(b.init).toBe(err);
    await expectNothingLeft(rig, b.vmid, b.handle);
    rig.close();
  });

  test('more vCPUs than physical cores (vmm-flows.md Q10): VM_INIT is NORESOURCE, INIT_FAILED', async () => {
    const rig = new BootRig(new Hypervisor({ cpus: 2 }));
    const b = await rig.boot({ dtbOptions: { cpus: 3 } });
    expect(b.init).toBe('NORESOURCE');
    await expectNothingLeft(rig, b.vmid, b.handle);
    const ok = await rig.boot({ dtbOptions: { cpus: 2 } });
    expect(ok.init).toBe('OK');
    rig.close();
  });
});

describe('memory extents (hypervisor.md §9.3, uapi.md §8.11)', () => {
  test("label 0 is a guest_private extent of the VM's own; 1, 2 and 3 are the host's RAM extent", async () => {
    const rig = new BootRig();
    const b = await rig.boot();
    const extents = rig.hyp.objectsOf(b.vmid).filter((o) => o.type === 'memextent').sort((x, y) => Number(x.attrs['label']) - Number(y.attrs['label']));
    expect(extents.map((o) => o.attrs['label'])).toEqual([0, 1, 2, 3]);
    const priv = rig.hyp.memory.extents().find((e) => e.id === extents[0]!.attrs['extent'])!;
    expect(priv).toMatchObject({ ownerVmid: b.vmid, label: GUEST_PRIVATE_EXTENT_LABEL, bytes: 0 });
    expect(extents.slice(1).map((o) => o.attrs['extent'])).toEqual([rig.hyp.hostExtent, rig.hyp.hostExtent, rig.hyp.hostExtent]);
    // The owner's MEM_EXTENT capabilities lead to those objects.
    const res = (await rig.calls.getHypResources(b.vmid)).filter((r) => r.type === ResourceType.MEM_EXTENT);
    for (const r of res) expect(rig.hyp.lookupCap(HOST, r.capId, 'memextent').attrs['label']).toBe(r.resourceLabel);
    rig.close();
  });

  test('the public firmware has no memory extents, so no guest_private extent', async () => {
    const rig = new BootRig(new Hypervisor({ cpus: 8 }), 'public-12-2023');
    const b = await rig.boot({ layout: false });
    expect(b.init).toBe('OK');
    expect(guestPrivateExtentsOf(rig.hyp, b.vmid)).toEqual([]);
    rig.close();
  });

  test('guest_private extents are destroyed at reset; memory the host left in one is returned to it', async () => {
    const rig = new BootRig();
    const a = await rig.boot();
    const b = await rig.boot();
    // Give b's guest_private extent a page, as a lend the host never reclaimed would.
    const [priv] = guestPrivateExtentsOf(rig.hyp, b.vmid);
    const pa = 0x7000_0000 + 0x8000_0000;
    rig.hyp.memory.donate(rig.hyp.hostExtent, priv!.id, pa, PAGE);
    expect(rig.hyp.memory.extentOf(pa, PAGE)).toBe(priv!.id);
    await rig.reset(a.vmid);
    await rig.reset(b.vmid);
    expect(guestPrivateExtentsOf(rig.hyp, a.vmid)).toEqual([]);
    expect(guestPrivateExtentsOf(rig.hyp, b.vmid)).toEqual([]);
    expect(rig.hyp.memory.extentOf(pa, PAGE)).toBe(rig.hyp.hostExtent);
    const stateOf = (v: number) => (v === b.vmid || v === a.vmid ? VmStatus.RESET : undefined);
    expect(checkVmMemoryInvariants(rig.hyp, stateOf)).toEqual([]);
    rig.close();
  });
});

describe('reset gives the image back', () => {
  test('after VM_START (absorbed, B12): no MEM_RELEASED, no parcel; the page with the DTB the guest saw is back with the host', async () => {
    const rig = new BootRig();
    const b = await rig.boot({ start: true });
    const written = rig.hyp.memory.readPhys(b.pa, b.dtb.byteLength);
    await rig.calls.vmStop(b.vmid);
    await rig.reset(b.vmid);
    expect(rig.hyp.memory.mappingsOf(b.vmid)).toEqual([]);
    expect(rig.hostNotifs.filter((n) => n.msgId === RmNotifId.MEM_RELEASED)).toEqual([]);
    expect(rig.hyp.memory.extentOf(b.pa, b.parcelSize)).toBe(rig.hyp.hostExtent);
    expect(rig.hyp.memory.readPhys(b.pa, b.dtb.byteLength)).toEqual(written);
    expect(rig.rm.inspect().parcels).toEqual([]);
    await rig.calls.deallocVmid(b.vmid);
    expect(rig.rm.checkInvariants()).toEqual([]);
    rig.close();
  });

  test("with 'keep': the owner hears MEM_RELEASED, MEM_RECLAIM then succeeds, the host has its page back with the overlay, invariants hold", async () => {
    const rig = new BootRig(new Hypervisor({ cpus: 8 }), 'v17', 'keep');
    const b = await rig.boot({ start: true });
    const written = rig.hyp.memory.readPhys(b.pa, b.dtb.byteLength);
    await rig.calls.vmStop(b.vmid);
    await rig.reset(b.vmid);
    expect(rig.hyp.memory.mappingsOf(b.vmid)).toEqual([]);
    const released = rig.hostNotifs.filter((n) => n.msgId === RmNotifId.MEM_RELEASED);
    expect(released.map((n) => n.payload)).toEqual([MEM_OWNER_NOTIF_PAYLOAD.encode({ handle: b.handle, vmid: b.vmid, memInfoTag: 0 })]);
    expect(rig.rm.checkInvariants()).toEqual([]);
    await rig.calls.memReclaim(b.handle);
    expect(rig.hyp.memory.read(HOST, b.pa, b.dtb.byteLength)).toEqual(written); // the DTB with the overlay
    expect(rig.rm.inspect().parcels).toEqual([]);
    expect(rig.rm.checkInvariants()).toEqual([]);
    await rig.calls.deallocVmid(b.vmid);
    expect(rig.rm.checkInvariants()).toEqual([]);
    rig.close();
  });

  test('a VM reset from READY (never started) had nothing accepted: no MEM_RELEASED, the DTB untouched and reclaimable', async () => {
    const rig = new BootRig();
    const b = await rig.boot();
    await rig.reset(b.vmid);
    expect(rig.hostNotifs.filter((n) => n.msgId === RmNotifId.MEM_RELEASED)).toEqual([]);
    expect(rig.hyp.memory.readPhys(b.pa, b.dtb.byteLength)).toEqual(b.dtb);
    await rig.calls.memReclaim(b.handle);
    await rig.calls.deallocVmid(b.vmid);
    expect(rig.rm.checkInvariants()).toEqual([]);
    rig.close();
  });

  test("with 'keep', booting again from the same parcel after a reset maps it again; its /hypervisor is now static", async () => {
    const rig = new BootRig(new Hypervisor({ cpus: 8 }), 'v17', 'keep');
    const b = await rig.boot({ start: true });
    const first = rig.hyp.memory.read(b.vmid, b.guestDtb, b.dtb.byteLength);
    await rig.calls.vmStop(b.vmid);
    await rig.reset(b.vmid);
    await rig.calls.vmConfigure({ vmid: b.vmid, authType: 0, imageHandle: b.handle, imageOffset: 0n, imageSize: 0n, dtOffset: 0n, dtSize: BigInt(b.dtb.byteLength) });
    await rig.calls.vmSetAddressLayout(b.vmid, 0, BigInt(GUEST_DTB_BASE), BigInt(b.parcelSize));
    await rig.calls.vmInit(b.vmid);
    await rig.calls.vmStart(b.vmid);
    expect(rig.hyp.memory.read(b.vmid, b.guestDtb, b.dtb.byteLength)).toEqual(first);
    expect(rig.rm.checkInvariants()).toEqual([]);
    rig.close();
  });
});

describe('demand paging (VM_SET_DEMAND_PAGING, uapi.md §8.2 step 7)', () => {
  test('the ranges go to the hypervisor at VM_INIT', async () => {
    const hyp = new RecordingHypervisor({ cpus: 8 });
    const rig = new BootRig(hyp);
    const b = await rig.boot({ demandPaging: [{ address: 0x8000_0000n, size: 0x10_0000n }, { address: 0x9000_0000n, size: 0x2000n }] });
    expect(b.init).toBe('OK');
    expect(hyp.demandPaging).toEqual([{ vmid: b.vmid, ranges: [{ base: 0x8000_0000, size: 0x10_0000 }, { base: 0x9000_0000, size: 0x2000 }] }]);
    rig.close();
  });

  test('no VM_SET_DEMAND_PAGING, no call; a failed VM_INIT makes none either', async () => {
    const hyp = new RecordingHypervisor({ cpus: 8 });
    const rig = new BootRig(hyp);
    await rig.boot();
    await rig.boot({ dtb: buildTestDtb({ minSize: 0 }), demandPaging: [{ address: 0x8000_0000n, size: 0x1000n }] });
    expect(hyp.demandPaging).toEqual([]);
    rig.close();
  });
});
