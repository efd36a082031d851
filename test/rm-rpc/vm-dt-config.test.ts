/**
 * Tests of the RM's VM-config parse (src/rm-rpc/server/vm-dt-config.ts).
 *
 * Provenance of the DTs: the holding-cell tree follows vmm-flows.md §5.1–§5.2 and
 * quic/gunyah-test-vmm `vmm/src/virtual_machine.rs` (create_fdt_basic_config,
 * create_fdt_vm_config) and `vmm/src/interrupt.rs` (generate_vdevice: bell-<line hex>). The
 * crosvm-style shm node follows crosvm `hypervisor/src/gunyah/aarch64.rs`. Expected
 * outcomes follow quic/gunyah-resource-manager @ bf31a9a src/vm_config/vm_config_parser.c and
 * vm_config.c (see the decisions D1–D9 in the module header).
 */
import { describe, expect, test } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { FdtBuilder } from '../../src/fdt/index.js';
import { WireError } from '../../src/shared/wire-error.js';
import { parseVmDtConfig, VM_DT_DEFAULT_MESSAGE_SIZE, VM_DT_DEFAULT_QUEUE_DEPTH } from '../../src/rm-rpc/server/vm-dt-config.js';
import type { VmDtConfig, VmDtConfigOptions } from '../../src/rm-rpc/server/vm-dt-config.js';

// ----- a small DT description language: objects are nodes, everything else a property -----
type PropVal = string | string[] | number | number[] | bigint | bigint[] | null | Uint8Array;
interface NodeSpec {
  [key: string]: PropVal | NodeSpec;
}
const isNode = (v: PropVal | NodeSpec): v is NodeSpec =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function emit(w: FdtBuilder, name: string, spec: NodeSpec): void {
  w.beginNode(name);
  for (const [k, v] of Object.entries(spec)) {
    if (isNode(v)) continue;
    if (v === null) w.propEmpty(k);
    else if (typeof v === 'string') w.propString(k, v);
    else if (typeof v === 'number') w.propU32(k, v);
    else if (typeof v === 'bigint') w.propU64(k, v);
    else if (v instanceof Uint8Array) w.propBytes(k, v);
    else if (v.length > 0 && typeof v[0] === 'string') w.propStrings(k, v as string[]);
    else if (v.length > 0 && typeof v[0] === 'bigint') w.propU64s(k, v as bigint[]);
    else w.propCells(k, v as number[]);
  }
  for (const [k, v] of Object.entries(spec)) if (isNode(v)) emit(w, k, v);
  w.endNode();
}

function dtb(root: NodeSpec): Uint8Array {
  const w = new FdtBuilder();
  emit(w, '', root);
  return w.finish({ minSize: 4096 });
}

const cpu = (id: number, extra: NodeSpec = {}): NodeSpec => ({
  device_type: 'cpu',
  compatible: 'arm,arm-v8',
  'enable-method': 'psci',
  reg: id,
  'cpu-idle-states': null,
  ...extra,
});

const bell = (line: number, extra: NodeSpec = {}): NodeSpec => ({
  'vdevice-type': 'doorbell',
  generate: `/hypervisor/bell-${line.toString(16)}`,
  label: line,
  'peer-default': null,
  'source-can-clean': null,
  interrupts: [0, line, 1],
  ...extra,
});

/** The quic/gunyah-test-vmm holding-cell DT with two vCPUs and one edge irqfd (line 1). */
function holdingCell(): NodeSpec {
  return {
    '#address-cells': 2,
    '#size-cells': 2,
    'interrupt-parent': 1,
    memory: { device_type: 'memory', reg: [0x8000_0000n, 0x10_0000n] },
    cpus: { '#address-cells': 1, '#size-cells': 0, 'cpu@0': cpu(0), 'cpu@1': cpu(1) },
    psci: { compatible: 'arm,psci-0.2', method: 'hvc' },
    'interrupt-controller@3fff0000': {
      compatible: 'arm,gic-v3',
      '#interrupt-cells': 3,
      '#address-cells': 2,
      '#size-cells': 2,
      'interrupt-controller': null,
      reg: [0x3fff_0000n, 0x1_0000n, 0x3fff_0000n - 0x4_0000n, 0x4_0000n],
      phandle: 1,
    },
    timer: {
      compatible: 'arm,armv8-timer',
      'always-on': null,
      interrupts: [1, 13, 0x108, 1, 14, 0x108, 1, 11, 0x108, 1, 10, 0x108],
      'clock-frequency': 19_200_000,
    },
    'gunyah-vm-config': {
      'image-name': 'gunyah-vmm-vm',
      'os-type': 'linux',
      memory: { '#address-cells': 2, '#size-cells': 2, 'base-address': 0x8000_0000n },
      interrupts: { config: 1 },
      vcpus: { affinity: 'proxy' },
      vdevices: { generate: '/hypervisor', 'bell-1': bell(1) },
    },
  };
}

type Edit = (root: NodeSpec) => void;
function variant(edit: Edit): Uint8Array {
  const root = structuredClone(holdingCell());
  edit(root);
  return dtb(root);
}
const vmConfig = (r: NodeSpec): NodeSpec => r['gunyah-vm-config'] as NodeSpec;
const vdevices = (r: NodeSpec): NodeSpec => vmConfig(r).vdevices as NodeSpec;
const cpusOf = (r: NodeSpec): NodeSpec => r.cpus as NodeSpec;

function parse(bytes: Uint8Array, opts?: VmDtConfigOptions): VmDtConfig {
  return parseVmDtConfig(bytes, opts);
}

function rejected(bytes: Uint8Array, what: RegExp, opts?: VmDtConfigOptions): void {
  let caught: unknown;
  try {
    parseVmDtConfig(bytes, opts);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(WireError);
  expect((caught as WireError).reason).toBe('bad-fdt');
  expect((caught as WireError).detail.what).toMatch(what);
}

describe('holding-cell DT (vmm-flows.md §5.2)', () => {
  test('two vCPUs and the bell-1 doorbell parse to the expected config', () => {
    const cfg = parse(dtb(holdingCell()));
    expect(cfg).toEqual({
      imageName: 'gunyah-vmm-vm',
      osType: 'linux',
      vmAttrs: [],
      memory: { baseAddress: 0x8000_0000n, sizeMax: 2n ** 64n - 0x8000_0000n, isDirect: false },
      vcpus: [
        { affinityIndex: 0, mpidr: 0n, path: '/cpus/cpu@0', bootCpu: true },
        { affinityIndex: 1, mpidr: 1n, path: '/cpus/cpu@1', bootCpu: false },
      ],
      affinity: 'proxy',
      proxyScheduled: true,
      doorbells: [
        {
          label: 1,
          name: 'bell-1',
          path: '/gunyah-vm-config/vdevices/bell-1',
          source: false,
          peerDefault: true,
          sourceCanClear: true,
          sourceCanClearSpelling: 'source-can-clean',
          generate: '/hypervisor/bell-1',
          interrupt: { type: 0, line: 1, flags: 1, intid: 33, edge: true },
        },
      ],
      msgQueues: [],
      shms: [],
      otherVdevices: [],
      psci: true,
    } satisfies VmDtConfig);
  });

  test('trailing free space after totalsize does not matter', () => {
    const b = dtb(holdingCell());
    const big = new Uint8Array(b.byteLength + 8192);
    big.set(b);
    expect(parse(big)).toEqual(parse(b));
  });

  test('one vCPU, a level doorbell and the crosvm spelling source-can-clear', () => {
    const cfg = parse(
      variant((r) => {
        delete cpusOf(r)['cpu@1'];
        const d = vdevices(r);
        const b = bell(0x2a, { interrupts: [0, 0x2a, 4], 'source-can-clear': null });
        delete b['source-can-clean'];
        d['bell-2a'] = b;
      }),
    );
    expect(cfg.vcpus).toHaveLength(1);
    expect(cfg.doorbells[1]).toMatchObject({
      label: 0x2a,
      sourceCanClear: true,
      sourceCanClearSpelling: 'source-can-clear',
      interrupt: { type: 0, line: 0x2a, flags: 4, intid: 74, edge: false },
    });
  });

  test('acceptSourceCanClean: false reads the flag as the RM at bf31a9a does (ignored)', () => {
    const cfg = parse(dtb(holdingCell()), { acceptSourceCanClean: false });
    expect(cfg.doorbells[0]!.sourceCanClear).toBe(false);
    expect(cfg.doorbells[0]!.sourceCanClearSpelling).toBeUndefined();
  });

  test('the vm-config node may be spelled /qcom,vm-config', () => {
    const cfg = parse(
      variant((r) => {
        r['qcom,vm-config'] = vmConfig(r);
        delete r['gunyah-vm-config'];
      }),
    );
    expect(cfg.imageName).toBe('gunyah-vmm-vm');
    expect(cfg.doorbells[0]!.path).toBe('/qcom,vm-config/vdevices/bell-1');
  });
});

describe('vdevices', () => {
  test('message-queue and message-queue-pair: defaults, overrides, 16-bit truncation', () => {
    const cfg = parse(
      variant((r) => {
        const d = vdevices(r);
        d['mq-tx'] = { 'vdevice-type': 'message-queue', 'is-sender': null, 'peer-default': null, label: 5 };
        d['mq-pair'] = {
          'vdevice-type': 'message-queue-pair',
          peer: 'vm-b',
          'qcom,label': 6,
          'message-size': 0x1_0010,
          'queue-depth': 16,
          interrupts: [0, 10, 1, 0, 11, 4],
        };
      }),
    );
    expect(cfg.msgQueues).toEqual([
      {
        kind: 'message-queue',
        label: 5,
        name: 'mq-tx',
        path: '/gunyah-vm-config/vdevices/mq-tx',
        peerDefault: true,
        isSender: true,
        messageSize: VM_DT_DEFAULT_MESSAGE_SIZE,
        queueDepth: VM_DT_DEFAULT_QUEUE_DEPTH,
        interrupts: [],
      },
      {
        kind: 'message-queue-pair',
        label: 6,
        name: 'mq-pair',
        path: '/gunyah-vm-config/vdevices/mq-pair',
        peerDefault: false,
        peer: 'vm-b',
        messageSize: 0x10, // uint16_t in the RM
        queueDepth: 16,
        interrupts: [
          { type: 0, line: 10, flags: 1, intid: 42, edge: true },
          { type: 0, line: 11, flags: 4, intid: 43, edge: false },
        ],
      },
    ]);
    expect(VM_DT_DEFAULT_MESSAGE_SIZE).toBe(240);
    expect(VM_DT_DEFAULT_QUEUE_DEPTH).toBe(8);
  });

  test('crosvm-style shm: label and base from the memory child', () => {
    const cfg = parse(
      variant((r) => {
        vdevices(r)['shm-3'] = {
          'vdevice-type': 'shm',
          'peer-default': null,
          dma_base: 0n,
          memory: { optional: null, label: 3, '#address-cells': 2, base: 0x9000_0000n },
        };
        vdevices(r)['shmdb'] = {
          'vdevice-type': 'shm-doorbell',
          'peer-default': null,
          label: 9, // the shm node's own label overrides the memory child's
          memory: { label: 4, 'allocate-base': null },
        };
      }),
    );
    expect(cfg.shms).toEqual([
      {
        label: 3,
        name: 'shm-3',
        path: '/gunyah-vm-config/vdevices/shm-3',
        plain: true,
        base: 0x9000_0000n,
        allocateBase: false,
        optional: true,
        dmaBase: 0n,
      },
      { label: 9, name: 'shmdb', path: '/gunyah-vm-config/vdevices/shmdb', plain: false, allocateBase: true, optional: false },
    ]);
  });

  test('doorbell-source and vdevices outside vdevices/ are found anywhere in the tree', () => {
    const cfg = parse(
      variant((r) => {
        r['elsewhere'] = { 'vdevice-type': 'doorbell-source', 'peer-default': null, label: 7, interrupts: [0, 3, 1] };
      }),
    );
    expect(cfg.doorbells.map((d) => [d.path, d.source, d.label, d.interrupt])).toEqual([
      ['/gunyah-vm-config/vdevices/bell-1', false, 1, { type: 0, line: 1, flags: 1, intid: 33, edge: true }],
      ['/elsewhere', true, 7, undefined], // document order (added last); a source takes no irq
    ]);
  });

  test('D3: a doorbell without a label gets label 0 (the RM ignores the lookup)', () => {
    const cfg = parse(variant((r) => void delete (vdevices(r)['bell-1'] as NodeSpec).label));
    expect(cfg.doorbells[0]!.label).toBe(0);
  });

  test.each([
    ['2 cells', [0, 1]],
    ['unknown class', [7, 1, 1]],
    ['SPI line past 1019', [0, 988, 1]],
    ['trigger 2 (falling edge)', [0, 1, 2]],
  ])('D4: an unusable interrupts property (%s) is ignored, not refused', (_n, cells) => {
    const cfg = parse(variant((r) => void ((vdevices(r)['bell-1'] as NodeSpec).interrupts = cells)));
    expect(cfg.doorbells[0]!.interrupt).toBeUndefined();
  });

  test('rm-rpc, virtio-mmio, iomem, vsmmu-v2 are recorded as other vdevices', () => {
    const cfg = parse(
      variant((r) => {
        const d = vdevices(r);
        d['rpc'] = { 'vdevice-type': 'rm-rpc', 'push-compatible': ['a', 'b', 'c'] };
        d['vio'] = { 'vdevice-type': 'virtio-mmio', 'peer-default': null, memory: { label: 11, 'allocate-base': null } };
        d['io'] = { 'vdevice-type': 'iomem', 'peer-default': null, memory: { label: 12 } };
        d['smmu'] = { 'vdevice-type': 'vsmmu-v2', 'smmu-handle': 1, patch: '/soc/smmu', 'num-cbs': 8, 'num-smrs': 8 };
      }),
    );
    expect(cfg.otherVdevices.map((o) => [o.type, o.label])).toEqual([
      ['rm-rpc', 0],
      ['virtio-mmio', 11],
      ['iomem', 12],
      ['vsmmu-v2', 0],
    ]);
  });
});

describe('vCPUs and memory', () => {
  test('non-proxy scheduling: affinity-map gives the affinity index; sched-priority < 0 and a timeslice', () => {
    const cfg = parse(
      variant((r) => {
        vmConfig(r).vcpus = { 'affinity-map': [4, 5], 'sched-priority': -1 >>> 0, 'sched-timeslice': 2000 };
      }),
    );
    expect(cfg.affinity).toBe('static');
    expect(cfg.proxyScheduled).toBe(false);
    expect(cfg.vcpus.map((v) => v.affinityIndex)).toEqual([4, 5]);
  });

  test('status: okay / disabled / fail, and cpus with 2 address cells', () => {
    const cfg = parse(
      variant((r) => {
        r.cpus = {
          '#address-cells': 2,
          'cpu@0': cpu(0, { reg: [0, 0x100] }),
          'cpu@1': cpu(1, { status: 'fail' }),
          'cpu@2': cpu(2, { status: 'disabled', reg: [0, 2] }),
          'cpu@3': cpu(3, { status: 'okay', reg: [0, 3] }),
        };
      }),
    );
    expect(cfg.vcpus).toEqual([
      { affinityIndex: 0, mpidr: 0x100n, path: '/cpus/cpu@0', bootCpu: true },
      { affinityIndex: 1, mpidr: 2n, path: '/cpus/cpu@2', bootCpu: false },
      { affinityIndex: 2, mpidr: 3n, path: '/cpus/cpu@3', bootCpu: true },
    ]);
  });

  test('vcpus config may point elsewhere; non-cpu children are skipped', () => {
    const cfg = parse(
      variant((r) => {
        r['my-cpus'] = { 'enable-method': 'qcom,gunyah-hvc', 'cpu@0': { device_type: 'cpu', reg: 0 }, 'cpu@1': { device_type: 'cpu', reg: 1 }, 'idle-states': {} };
        delete r.cpus;
        delete r.psci;
        vmConfig(r).vcpus = { affinity: 'proxy', config: '/my-cpus' };
      }),
    );
    expect(cfg.vcpus.map((v) => v.path)).toEqual(['/my-cpus/cpu@0', '/my-cpus/cpu@1']);
    expect(cfg.psci).toBe(false);
  });

  test('psci is on from a psci-1.0 node alone', () => {
    const cfg = parse(
      variant((r) => {
        r.cpus = { '#address-cells': 1, 'cpu@0': { device_type: 'cpu', reg: 0 } };
        r.psci = { compatible: ['arm,psci-1.0'] };
      }),
    );
    expect(cfg.psci).toBe(true);
  });

  test('memory: base-address rounded up to 2 MiB, size-min/size-max with 2 size cells, firmware-address', () => {
    const cfg = parse(
      variant((r) => {
        vmConfig(r)['#size-cells'] = 2;
        vmConfig(r).memory = { 'base-address': 0x8000_1000n, 'size-min': 0x1000n, 'size-max': 0x7_8000_0000n, 'firmware-address': 0x7000_0000n };
      }),
    );
    expect(cfg.memory).toEqual({
      baseAddress: 0x8020_0000n,
      sizeMin: 0x1000n,
      sizeMax: 0x7_8000_0000n,
      firmwareAddress: 0x7000_0000n,
      isDirect: false,
    });
  });

  test('memory: an 8-byte size-max under the default #size-cells 1 is ignored, as in the RM', () => {
    const cfg = parse(variant((r) => void ((vmConfig(r).memory as NodeSpec)['size-max'] = 0x7_8000_0000n)));
    expect(cfg.memory!.sizeMax).toBe(2n ** 64n - 0x8000_0000n);
  });

  test('maxVcpus within the limit is fine', () => {
    expect(parse(dtb(holdingCell()), { maxVcpus: 2 }).vcpus).toHaveLength(2);
  });
});

describe('configurations the RM refuses', () => {
  const cases: Array<[string, Edit, RegExp, VmDtConfigOptions?]> = [
    ['no /gunyah-vm-config', (r) => void delete r['gunyah-vm-config'], /missing \/gunyah-vm-config/],
    ['no vcpus node (D1: no implicit vCPU)', (r) => void delete vmConfig(r).vcpus, /missing vcpus node/],
    ['no /cpus node', (r) => void delete r.cpus, /config path "\/cpus" not found/],
    ['cpus without cpu nodes', (r) => void (r.cpus = { '#address-cells': 1 }), /no vCPU enabled at boot/],
    ['every cpu disabled', (r) => void (r.cpus = { 'cpu@0': cpu(0, { status: 'disabled' }) }), /no vCPU enabled/],
    ['a cpu with a bad status', (r) => void ((cpusOf(r)['cpu@1'] as NodeSpec).status = 'broken'), /unexpected status "broken"/],
    ['secondary cpu without enable-method', (r) => void delete (cpusOf(r)['cpu@1'] as NodeSpec)['enable-method'], /without enable-method/],
    ['unknown enable-method', (r) => void ((cpusOf(r)['cpu@1'] as NodeSpec)['enable-method'] = 'spin-table'), /unknown enable-method "spin-table"/],
    ['non-proxy without affinity-map', (r) => void (vmConfig(r).vcpus = { 'sched-timeslice': 2000 }), /affinity-map missing/],
    ['affinity-map count mismatch', (r) => void (vmConfig(r).vcpus = { 'affinity-map': [0] }), /2 cpu node\(s\) but 1 affinity-map/],
    [
      'non-proxy PSCI without idle states on every cpu',
      (r) => {
        delete (cpusOf(r)['cpu@1'] as NodeSpec)['cpu-idle-states'];
        vmConfig(r).vcpus = { 'affinity-map': [0, 1], 'sched-timeslice': 2000, 'sched-priority': -1 >>> 0 };
      },
      /not every cpu has cpu-idle-states/,
    ],
    ['non-proxy without sched-timeslice', (r) => void (vmConfig(r).vcpus = { 'affinity-map': [0, 1], 'sched-priority': -1 >>> 0 }), /sched-timeslice 0/],
    ['non-proxy untrusted at the owner priority', (r) => void (vmConfig(r).vcpus = { 'affinity-map': [0, 1], 'sched-timeslice': 2000 }), /sched-priority < 0/],
    ['more vCPUs than cores', () => {}, /2 vCPUs, the platform has 1/, { maxVcpus: 1 }],
    ['image-name missing', (r) => void delete vmConfig(r)['image-name'], /image-name missing/],
    ['image-name of 80 bytes', (r) => void (vmConfig(r)['image-name'] = 'x'.repeat(80)), /image-name missing or 80\+ bytes/],
    ['image-name not NUL-terminated', (r) => void (vmConfig(r)['image-name'] = new Uint8Array([0x61, 0x62])), /image-name/],
    ['malformed vm-attrs', (r) => void (vmConfig(r)['vm-attrs'] = new Uint8Array([0x61, 0, 0x62])), /vm-attrs is a malformed/],
    ['crash-fatal in an untrusted config', (r) => void (vmConfig(r)['vm-attrs'] = ['crash-fatal']), /crash-fatal needs a trusted/],
    ['invalid vm-guid', (r) => void (vmConfig(r)['vm-guid'] = '1234-5678'), /invalid vm-guid/],
    ['gic-irq-ranges untrusted', (r) => void (vmConfig(r)['gic-irq-ranges'] = [40, 40]), /gic-irq-ranges needs a trusted/],
    ['iomemory-ranges of a bad length', (r) => void (vmConfig(r)['iomemory-ranges'] = [0, 0x1000]), /not a multiple of 7/],
    ['base-address not page aligned', (r) => void ((vmConfig(r).memory as NodeSpec)['base-address'] = 0x8000_0100n), /base-address 0x80000100 not page aligned/],
    ['size-min not page aligned', (r) => void ((vmConfig(r).memory as NodeSpec)['size-min'] = 0x10), /size-min not page aligned/],
    ['firmware-size-max without firmware-address', (r) => void ((vmConfig(r).memory as NodeSpec)['firmware-size-max'] = 0x1000), /firmware-size-max too large/],
    ['is-direct untrusted', (r) => void ((vmConfig(r).memory as NodeSpec)['is-direct'] = null), /is-direct needs a trusted/],
    ['base-mem-constraints too long', (r) => void ((vmConfig(r).memory as NodeSpec)['base-mem-constraints'] = [1, 2, 3]), /base-mem-constraints of 12 bytes/],
    ['a device_type "memory" node other than /memory', (r) => void (r['memory@90000000'] = { device_type: 'memory', reg: [0x9000_0000n, 0x1000n] }), /only allowed on \/memory/],
    ['doorbell without peer-default or peer', (r) => void delete (vdevices(r)['bell-1'] as NodeSpec)['peer-default'], /bell-1: doorbell needs peer-default or peer/],
    ['push-compatible with 7 entries', (r) => void ((vdevices(r)['bell-1'] as NodeSpec)['push-compatible'] = ['a', 'b', 'c', 'd', 'e', 'f', 'g']), /push-compatible has 7 entries, at most 6/],
    ['rm-rpc push-compatible with 4 entries', (r) => void (vdevices(r)['rpc'] = { 'vdevice-type': 'rm-rpc', 'push-compatible': ['a', 'b', 'c', 'd'] }), /at most 3/],
    ['message-queue both sender and receiver', (r) => void (vdevices(r)['mq'] = { 'vdevice-type': 'message-queue', 'is-sender': null, 'is-receiver': null, 'peer-default': null }), /exactly one of is-sender, is-receiver/],
    ['message-queue neither sender nor receiver', (r) => void (vdevices(r)['mq'] = { 'vdevice-type': 'message-queue', 'peer-default': null }), /exactly one of/],
    ['message-queue without peer-default', (r) => void (vdevices(r)['mq'] = { 'vdevice-type': 'message-queue', 'is-receiver': null, peer: 'x' }), /message-queue needs peer-default/],
    ['message-queue-pair without a peer', (r) => void (vdevices(r)['mqp'] = { 'vdevice-type': 'message-queue-pair' }), /message-queue-pair needs peer-default or peer/],
    ['shm without a memory child', (r) => void (vdevices(r)['shm'] = { 'vdevice-type': 'shm', 'peer-default': null }), /missing "memory" child/],
    ['shm memory child without label', (r) => void (vdevices(r)['shm'] = { 'vdevice-type': 'shm', 'peer-default': null, memory: { base: 0x9000_0000n } }), /shm\/memory: no label/],
    ['shm memory child with base and allocate-base', (r) => void (vdevices(r)['shm'] = { 'vdevice-type': 'shm', 'peer-default': null, memory: { label: 1, base: 0x9000_0000n, 'allocate-base': null } }), /both base and allocate-base/],
    ['shm memory child with neither', (r) => void (vdevices(r)['shm'] = { 'vdevice-type': 'shm', 'peer-default': null, memory: { label: 1 } }), /neither allocate-base nor a 2-cell base/],
    ['shm memory base not page aligned', (r) => void (vdevices(r)['shm'] = { 'vdevice-type': 'shm', 'peer-default': null, memory: { label: 1, base: 0x9000_0010n } }), /not page aligned/],
    ['shm with another child', (r) => void (vdevices(r)['shm'] = { 'vdevice-type': 'shm', 'peer-default': null, memory: { label: 1, 'allocate-base': null }, extra: {} }), /unexpected child "extra"/],
    ['shm without peer-default', (r) => void (vdevices(r)['shm'] = { 'vdevice-type': 'shm', memory: { label: 1, 'allocate-base': null } }), /shm needs peer-default/],
    ['virtio-mmio without peer-default', (r) => void (vdevices(r)['vio'] = { 'vdevice-type': 'virtio-mmio', memory: { label: 1, 'allocate-base': null } }), /virtio-mmio needs peer-default/],
    ['vsmmu-v2 without smmu-handle', (r) => void (vdevices(r)['smmu'] = { 'vdevice-type': 'vsmmu-v2' }), /without smmu-handle/],
    [
      'a node 16 deep (the RM walker asserts)',
      (r) => {
        let n = vdevices(r);
        for (let i = 0; i < 14; i++) n = n[`d${i}`] = {};
      },
      /nested 16 deep/,
    ],
  ];

  test.each(cases)('%s', (_name, edit, what, opts) => {
    rejected(variant(edit), what, opts);
  });

  test('a malformed DTB is refused with bad-fdt', () => {
    const b = dtb(holdingCell());
    b[0] = 0;
    rejected(b, /magic/);
    rejected(new Uint8Array(10), /shorter/);
  });

  test('trusted configs may use crash-fatal, is-direct and ranges', () => {
    const cfg = parse(
      variant((r) => {
        vmConfig(r)['vm-attrs'] = ['crash-fatal'];
        vmConfig(r)['gic-irq-ranges'] = [40, 40];
        (vmConfig(r).memory as NodeSpec)['is-direct'] = null;
      }),
      { trusted: true },
    );
    expect(cfg.vmAttrs).toEqual(['crash-fatal']);
    expect(cfg.memory!.isDirect).toBe(true);
  });
});

describe('robustness', () => {
  const good = dtb(holdingCell());
  fcTest.prop([fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), fc.nat({ max: 0xffff_ffff })])(
    'a corrupted holding-cell DTB either parses or throws WireError',
    (pos, byte, wordPos, word) => {
      const used = new DataView(good.buffer).getUint32(12) + new DataView(good.buffer).getUint32(32); // end of strings
      const a = good.slice();
      a[pos % used] = byte;
      const b = good.slice();
      new DataView(b.buffer).setUint32((wordPos % Math.floor(used / 4)) * 4, word);
      for (const x of [a, b]) {
        try {
          parseVmDtConfig(x);
        } catch (e) {
          if (!(e instanceof WireError)) throw e;
        }
      }
    },
  );
});
