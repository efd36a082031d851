// What parseVmDtConfig gives VM_INIT for the overlay and its errors: the rm-rpc vdevice's
// generate path, console flag and queue sizes; push-compatible lists; and which RM error each
// refusal is (vm-dt-config.ts D10: none = MEM_INVALID, else ARGUMENT_INVALID or NORESOURCE).
//
// Reference: vmm-flows.md §5.1; quic/gunyah-resource-manager src/vm_creation/vm_creation.c
// vm_creation_init (parse → MEM_INVALID, update_parsed → ARGUMENT_INVALID, create_vdevices →
// NORESOURCE).
import { describe, expect, test } from 'vitest';
import { parseFdt } from '../../src/fdt/reader.js';
import { serializeFdt } from '../../src/fdt/writer.js';
import type { FdtNode } from '../../src/fdt/format.js';
import { buildTestDtb } from '../../src/conformance/dtb.js';
import { parseVmDtConfig } from '../../src/rm-rpc/server/vm-dt-config.js';
import { WireError } from '../../src/shared/wire-error.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const child = (n: FdtNode, name: string): FdtNode => n.children.find((c) => c.name === name)!;

function variant(edit: (root: FdtNode) => void): Uint8Array {
  const t = parseFdt(buildTestDtb());
  edit(t.root);
  return serializeFdt(t);
}

function rmErrorOf(dtb: Uint8Array, opts = {}): string {
  try {
    parseVmDtConfig(dtb, opts);
    return 'OK';
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    return (e as WireError).detail.rmError ?? 'MEM_INVALID';
  }
}

describe('parseVmDtConfig for VM_INIT', () => {
  test('the rm-rpc vdevice keeps generate, console-dev and its queue sizes; push-compatible lists are kept', () => {
    const cfg = parseVmDtConfig(
      variant((r) => {
        const vd = child(child(r, 'gunyah-vm-config'), 'vdevices');
        child(vd, 'rm-rpc').props.set('push-compatible', enc('a,b\0c,d\0'));
        child(vd, 'bell-1').props.set('push-compatible', enc('x,y\0'));
      }),
    );
    expect(cfg.otherVdevices).toEqual([
      { type: 'rm-rpc', label: 0, name: 'rm-rpc', path: '/gunyah-vm-config/vdevices/rm-rpc', generate: '/hypervisor/qcom,resource-mgr', pushCompatible: ['a,b', 'c,d'], consoleDev: true, messageSize: 240, queueDepth: 8 },
    ]);
    expect(cfg.doorbells[0]!.pushCompatible).toEqual(['x,y']);
    // Without push-compatible the field is absent.
    expect('pushCompatible' in parseVmDtConfig(buildTestDtb()).doorbells[0]!).toBe(false);
  });

  test.each([
    ['a malformed DTB', 'MEM_INVALID', () => buildTestDtb().fill(0, 0, 4), {}],
    ['a listener refusal (no image-name)', 'MEM_INVALID', () => variant((r) => void child(r, 'gunyah-vm-config').props.delete('image-name')), {}],
    ['an untrusted crash-fatal', 'ARGUMENT_INVALID', () => variant((r) => void child(r, 'gunyah-vm-config').props.set('vm-attrs', enc('crash-fatal\0'))), {}],
    ['no vm-config node', 'NORESOURCE', () => variant((r) => void (r.children = r.children.filter((c) => c.name !== 'gunyah-vm-config'))), {}],
    ['more vCPUs than cores', 'NORESOURCE', () => buildTestDtb({ cpus: 3 }), { maxVcpus: 2 }],
    ['as many vCPUs as cores', 'OK', () => buildTestDtb({ cpus: 2 }), { maxVcpus: 2 }],
  ] as const)('%s → %s', (_what, want, dtb, opts) => {
    expect(rmErrorOf(dtb(), opts)).toBe(want);
  });
});
