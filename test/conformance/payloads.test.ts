// The conformance suite's own payload builders and test DTB, against bytes typed by hand from
// rm-rpc.md §12–§13 (layouts) and vmm-flows.md §5 (the VM config tree). The suite's checks are
// only as good as these, so they get their own vectors.
import { describe, test, expect } from 'vitest';
import { toHex } from '../../src/shared/bytes.js';
import { parseFdt, findNode, getString, getU32, getU64, hasProp } from '../../src/fdt/index.js';
import {
  configImageReq,
  consoleWriteReq,
  decodeHypResources,
  decodeVmExited,
  decodeVmIds,
  exitReq,
  lenStringReq,
  setStatusReq,
  setTimeBaseReq,
  stopReq,
  vmExitedBytes,
  vmStatusBytes,
  ascii,
} from '../../src/conformance/payloads.js';
import { CaseFailure } from '../../src/conformance/assert.js';
import { buildTestDtb, guidBytes, CONFORMANCE_IMAGE_NAME } from '../../src/conformance/dtb.js';

const hex = (b: Uint8Array) => toHex(b);

describe('request builders (rm-rpc.md §12.1, §12.2, §12.7)', () => {
  test('VM_CONFIG_IMAGE is 40 bytes: vmid, auth, handle, 4 × u64', () => {
    const b = configImageReq({ vmid: 0x81, authType: 2, handle: 0x1234_5678, imageOffset: 1n, imageSize: 2n, dtOffset: 0x1000n, dtSize: 0x2000n });
    expect(hex(b)).toBe(
      [
        '81 00', '02 00', '78 56 34 12',
        '01 00 00 00 00 00 00 00', '02 00 00 00 00 00 00 00',
        '00 10 00 00 00 00 00 00', '00 20 00 00 00 00 00 00',
      ].join(' '),
    );
  });
  test('VM_STOP: vmid, flags, reserved, stop_reason', () => {
    expect(hex(stopReq(0x80, 1, 3))).toBe('80 00 01 00 03 00 00 00');
  });
  test('VM_SET_STATUS, VM_EXIT, VM_SET_TIME_BASE', () => {
    expect(hex(setStatusReq(4, 0x1234, 0x5a))).toBe('5a 04 34 12');
    expect(hex(exitReq(0x0001, 1, 0))).toBe('01 00 01 00');
    expect(hex(setTimeBaseReq(0x80, 0x0102n, 0x0304n))).toBe('80 00 00 00 02 01 00 00 00 00 00 00 04 03 00 00 00 00 00 00');
  });
  test('length-prefixed strings are padded to 4 with the given byte', () => {
    expect(hex(lenStringReq(ascii('boom!')))).toBe('05 00 00 00 62 6f 6f 6d 21 00 00 00');
    expect(hex(lenStringReq(ascii('abc'), 0x20))).toBe('03 00 00 00 61 62 63 20');
    expect(hex(lenStringReq(ascii('abcd')))).toBe('04 00 00 00 61 62 63 64');
  });
  test('VM_CONSOLE_WRITE has no padding', () => {
    expect(hex(consoleWriteReq(0x80, ascii('hi')))).toBe('80 00 02 00 68 69');
  });
});

describe('notification layouts (rm-rpc.md §13)', () => {
  test('NOTIFY_VM_STATUS is 8 bytes', () => {
    expect(hex(vmStatusBytes(0x80, 9, 4, 0xbeef))).toBe('80 00 00 00 09 04 ef be');
  });
  test('NOTIFY_VM_EXITED: vmid, type, reason size, words', () => {
    const b = vmExitedBytes(0x80, 7, [0]);
    expect(hex(b)).toBe('80 00 07 00 04 00 00 00 00 00 00 00');
    expect(decodeVmExited(b)).toEqual({ vmid: 0x80, exitType: 7, reasonSize: 4, reasons: [0] });
    expect(decodeVmExited(b.subarray(0, 10))).toBeUndefined();
  });
});

describe('reply decoders', () => {
  test('VM_GET_HYP_RESOURCES: exact length 4 + 44n, fields at their offsets', () => {
    const d = new Uint8Array(4 + 44);
    d[0] = 1;
    d.set([4, 0, 0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0], 4); // type VCPU, partner 0x80, handle 0, label 1
    d.set([0xaa, 0, 0, 0, 0, 0, 0, 0], 16); // cap_id
    d.set([0x40, 0, 0, 0], 4 + 24); // virq
    const [e] = decodeHypResources(d);
    expect(e).toMatchObject({ type: 4, partnerVmid: 0x80, handle: 0, label: 1, capId: 0xaan, virq: 0x40 });
    expect(() => decodeHypResources(d.subarray(0, 47))).toThrow(CaseFailure);
  });
  test('VM_GET_ID entries are padded to 4', () => {
    const d = Uint8Array.from([2, 0, 0, 0, 2, 0, 3, 0, 0x61, 0x62, 0x63, 0, 3, 0, 3, 0, 0x4e, 0x2f, 0x41, 0]);
    expect(decodeVmIds(d)).toEqual([
      { idType: 2, bytes: Uint8Array.from([0x61, 0x62, 0x63]) },
      { idType: 3, bytes: Uint8Array.from([0x4e, 0x2f, 0x41]) },
    ]);
  });
});

describe('test DTB (vmm-flows.md §5)', () => {
  test('parses and carries the nodes the RM reads', () => {
    const dtb = buildTestDtb({ cpus: 2, uri: 'vm://x', guid: '6c1d0e4f-2a3b-4c5d-8e9f-0a1b2c3d4e5f' });
    expect(dtb.byteLength).toBe(0x2000);
    const { root } = parseFdt(dtb);
    expect(getString(findNode(root, '/cpus/cpu@1')!, 'device_type')).toBe('cpu');
    expect(getU32(findNode(root, '/cpus/cpu@1')!, 'reg')).toBe(1);
    expect(findNode(root, '/cpus/cpu@2')).toBeUndefined();
    expect(getString(findNode(root, '/psci')!, 'method')).toBe('hvc');
    const cfg = findNode(root, '/gunyah-vm-config')!;
    expect(getString(cfg, 'image-name')).toBe(CONFORMANCE_IMAGE_NAME);
    expect(getString(cfg, 'vm-uri')).toBe('vm://x');
    expect(getU64(findNode(root, '/gunyah-vm-config/memory')!, 'base-address')).toBe(0x8000_0000n);
    expect(getString(findNode(root, '/gunyah-vm-config/vcpus')!, 'affinity')).toBe('proxy');
    expect(getString(findNode(root, '/gunyah-vm-config/vdevices')!, 'generate')).toBe('/hypervisor');
    const rpc = findNode(root, '/gunyah-vm-config/vdevices/rm-rpc')!;
    expect(getString(rpc, 'vdevice-type')).toBe('rm-rpc');
    expect(hasProp(rpc, 'console-dev')).toBe(true);
    const bell = findNode(root, '/gunyah-vm-config/vdevices/bell-1')!;
    expect(getString(bell, 'vdevice-type')).toBe('doorbell');
    expect(getU32(bell, 'label')).toBe(1);
    expect(hasProp(bell, 'peer-default')).toBe(true);
  });
  test('the GUID bytes are the hex digits in order', () => {
    expect(toHex(guidBytes('6c1d0e4f-2a3b-4c5d-8e9f-0a1b2c3d4e5f'), '')).toBe('6c1d0e4f2a3b4c5d8e9f0a1b2c3d4e5f');
  });
});
