// The DT overlay on its own: node names from `generate` and the capid, the properties of each
// vdevice kind, interrupt specifiers for SPI and ESPI vIRQs, intermediate nodes, the static
// configuration rule, and the size limits (the DTB region, the RM's 256 KiB base limit).
//
// Reference: vmm-flows.md §5.1, hypervisor.md §9.4; quic/gunyah-resource-manager
// src/vm_creation/dto_construct.c and vm_creation.c (names checked, see vm-dt-overlay.ts).
import { describe, expect, test } from 'vitest';
import { FdtBuilder } from '../../src/fdt/writer.js';
import { parseFdt } from '../../src/fdt/reader.js';
import { findNode, getCells, getStringList, getU32 } from '../../src/fdt/query.js';
import { DtOverlayError, guidText, overlayDtb, type OverlayVdevice, type OverlayVm } from '../../src/rm-rpc/server/vm-dt-overlay.js';

const VM: OverlayVm = { vmid: 0x80, owner: 3, name: 'vm' };

function base(minSize = 0x1000): Uint8Array {
  const b = new FdtBuilder();
  b.beginNode('');
  b.propU32('#address-cells', 2);
  b.beginNode('chosen').endNode();
  b.endNode();
  return b.finish({ minSize });
}

const u64s = (b: Uint8Array): bigint[] => Array.from({ length: b.byteLength / 8 }, (_, i) => new DataView(b.buffer, b.byteOffset).getBigUint64(8 * i, false));

describe('overlayDtb', () => {
  test('message-queue and message-queue-pair nodes; ESPI vIRQs; qcom,peers', () => {
    const devs: OverlayVdevice[] = [
      { kind: 'message-queue', generate: '/hypervisor/mq', label: 5, isSender: true, capId: 0x1abn, virq: 4100, messageSize: 240, queueDepth: 16 },
      {
        kind: 'message-queue-pair',
        generate: '/hypervisor/pair',
        pushCompatible: ['vendor,thing'],
        label: 6,
        txCapId: 0x200n,
        rxCapId: 0x201n,
        txVirq: 961,
        rxVirq: 962,
        messageSize: 64,
        queueDepth: 4,
        handle: 2,
        peer: 'vm-b',
      },
    ];
    const out = parseFdt(overlayDtb(base(), 0x1000, { ...VM, peers: ['vm-b', 'vm-b'] }, devs)).root;
    const mq = findNode(out, '/hypervisor/mq@1ab')!;
    expect(getStringList(mq, 'compatible')).toEqual(['qcom,gunyah-message-queue', 'qcom,gunyah-capability']);
    expect(u64s(mq.props.get('reg')!)).toEqual([0x1abn]);
    expect(mq.props.has('is-sender')).toBe(true);
    expect(mq.props.has('is-receiver')).toBe(false);
    expect([getU32(mq, 'tx_message_size'), getU32(mq, 'tx_queue_depth')]).toEqual([240, 16]);
    expect(getCells(mq, 'interrupts')).toEqual([2, 4, 1]); // ESPI class 2, INTID 4100 = line 4

    const pair = findNode(out, '/hypervisor/pair@201')!;
    expect(getStringList(pair, 'compatible')).toEqual(['qcom,gunyah-message-queue', 'qcom,gunyah-capability', 'vendor,thing']);
    expect(u64s(pair.props.get('reg')!)).toEqual([0x200n, 0x201n]);
    expect(getCells(pair, 'interrupts')).toEqual([0, 929, 1, 0, 930, 1]);
    expect(getStringList(pair, 'peer')).toEqual(['vm-b']);
    expect([getU32(pair, 'label'), getU32(pair, 'qcom,label'), getU32(pair, 'qcom,vdevice-handle')]).toEqual([6, 6, 2]);
    expect(getStringList(findNode(out, '/hypervisor/qcom,gunyah-vm')!, 'qcom,peers')).toEqual(['vm-b']);
    // No URI or GUID given: no properties for them.
    expect(findNode(out, '/hypervisor/qcom,gunyah-vm')!.props.has('qcom,vm-uri')).toBe(false);
  });

  test('a generate path outside /hypervisor gets its intermediate nodes', () => {
    const out = parseFdt(overlayDtb(base(), 0x1000, VM, [{ kind: 'doorbell', generate: '/soc/bells/db', label: 1, source: false, capId: 0x10n, virq: 40 }])).root;
    expect(getCells(findNode(out, '/soc/bells/db@10')!, 'interrupts')).toEqual([0, 8, 1]);
    expect(findNode(out, '/chosen')).toBeDefined();
  });

  test('a static /soc/hypervisor suppresses every node', () => {
    const b = new FdtBuilder();
    b.beginNode('').beginNode('soc').beginNode('hypervisor').endNode().endNode().endNode();
    const dtb = b.finish({ minSize: 0x1000 });
    const out = overlayDtb(dtb, 0x1000, VM, [{ kind: 'doorbell', generate: '/hypervisor/db', label: 1, source: false, capId: 1n, virq: 40 }]);
    expect(findNode(parseFdt(out).root, '/hypervisor')).toBeUndefined();
  });

  test('the merged DTB must fit the region exactly or less', () => {
    const exact = overlayDtb(base(), 0x1000, VM, []).byteLength;
    expect(overlayDtb(base(), exact, VM, []).byteLength).toBe(exact);
    expect(() => overlayDtb(base(), exact - 1, VM, [])).toThrow(DtOverlayError);
  });

  test('a base DTB over 256 KiB is refused; a bad generate path is refused', () => {
    expect(() => overlayDtb(base(256 * 1024 + 8), 512 * 1024, VM, [])).toThrow(/at most 262144/);
    expect(() => overlayDtb(base(), 0x1000, VM, [{ kind: 'doorbell', generate: 'relative', label: 1, source: false, capId: 1n, virq: 40 }])).toThrow(DtOverlayError);
  });

  test('guidText writes the 16 bytes as 8-4-4-4-12 lower-case hex', () => {
    const g = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    expect(guidText(g)).toBe('00112233-4455-6677-8899-aabbccddeeff');
  });
});
