/**
 * A VM device tree as VMMs build it for the RM: the holding-cell layout of quic/gunyah-test-vmm
 * (memory, cpus with PSCI, GICv3, timer) plus `/gunyah-vm-config` with proxy-scheduled vCPUs
 * and one `bell-<label>` doorbell vdevice per irqfd.
 *
 * Optional additions for virtio devices (absent options leave the tree byte for byte as before):
 * - `virtioMmio`: one `virtio@<base>` node per device (compatible "virtio,mmio", `reg` = the
 *   register window, `interrupts` = <0 (SPI), line, 1 edge | 4 level-high>: the SPI of the
 *   doorbell the device's irqfd rings, `dma-coherent`). A device whose rings must live in a
 *   shared region gets a `/reserved-memory/virtio-dma@<base>` node (compatible
 *   "restricted-dma-pool", `reg`, `no-map` absent so the guest maps it) and a `memory-region`
 *   phandle to it, as crosvm describes its static swiotlb region for protected VMs: the guest's
 *   virtio core then places rings and buffers there.
 * - `scmi`: `/firmware/scmi` (compatible "arm,scmi-virtio", `#address-cells` 1, `#size-cells` 0)
 *   with one `protocol@<id>` child per protocol (`reg` = the id; clock 0x14 with `#clock-cells`
 *   1, power 0x11 with `#power-domain-cells` 1, perf 0x13 with `#power-domain-cells` 1, reset
 *   0x16 with `#reset-cells` 1, sensor 0x15 with `#thermal-sensor-cells` 1).
 *
 * Reference: vmm-flows.md §5.1 (the gunyah-vm-config node), §5.2 (the rest of the TVMM tree);
 * uapi.md §8.2 (the RM applies its overlay in place: the tree is padded to `size`);
 * scmi-virtio.md §5 (the Linux `scmi` node), §11 (the virtio-mmio node's interrupt is the
 * doorbell's SPI; ring memory is shared).
 */
import { FdtBuilder } from '../fdt/writer.js';

export interface VmDtbDoorbell {
  /** irqfd label. */
  readonly label: number;
  /** SPI line the guest sees. */
  readonly line: number;
  /** Level-high (4) instead of edge (1). */
  readonly level?: boolean;
}

/** A virtio-mmio device node. */
export interface VmDtbVirtioMmio {
  /** Guest physical address and size of the register window. */
  readonly base: bigint;
  readonly size: bigint;
  /** SPI line of its interrupt (the doorbell's line). */
  readonly line: number;
  /** Level-high (4) instead of edge (1). */
  readonly level?: boolean;
  /** Shared memory for its rings and buffers: a restricted-dma-pool the node points at. */
  readonly dmaPool?: { readonly base: bigint; readonly size: bigint };
}

/** The `/firmware/scmi` node of an SCMI-over-virtio guest. */
export interface VmDtbScmi {
  /** Protocol IDs other than Base (0x10), one `protocol@<id>` child each. */
  readonly protocols: readonly number[];
}

export interface VmDtbOptions {
  readonly vcpus: number;
  /** Lend ("regular") memory regions: the `memory` node; the first is `base-address`. */
  readonly memory: ReadonlyArray<{ readonly base: bigint; readonly size: bigint }>;
  readonly doorbells?: readonly VmDtbDoorbell[];
  readonly imageName?: string;
  /** virtio-mmio devices (none by default). */
  readonly virtioMmio?: readonly VmDtbVirtioMmio[];
  /** An SCMI-over-virtio firmware node (none by default). */
  readonly scmi?: VmDtbScmi;
  /** Total size with free space for the RM's overlay (default 4 KiB, a page as the v17 header suggests). */
  readonly size?: number;
}

const GIC_PHANDLE = 1;

/** `#…-cells` property of each SCMI protocol's node (Linux arm,scmi bindings). */
const SCMI_PROTOCOL_CELLS: ReadonlyMap<number, string> = new Map([
  [0x11, '#power-domain-cells'],
  [0x13, '#power-domain-cells'],
  [0x14, '#clock-cells'],
  [0x15, '#thermal-sensor-cells'],
  [0x16, '#reset-cells'],
]);

const hexOf = (v: bigint | number): string => v.toString(16);

/** The optional virtio and SCMI nodes (nothing when neither option is given). */
function virtioNodes(b: FdtBuilder, o: VmDtbOptions): void {
  const devs = o.virtioMmio ?? [];
  const pools = devs.map((d, i) => (d.dmaPool ? { pool: d.dmaPool, phandle: GIC_PHANDLE + 1 + i } : undefined));
  if (pools.some((p) => p !== undefined)) {
    b.beginNode('reserved-memory');
    b.propU32('#address-cells', 2);
    b.propU32('#size-cells', 2);
    b.propEmpty('ranges');
    for (const p of pools) {
      if (!p) continue;
      b.beginNode(`virtio-dma@${hexOf(p.pool.base)}`);
      b.propString('compatible', 'restricted-dma-pool');
      b.propU64s('reg', [p.pool.base, p.pool.size]);
      b.propU32('phandle', p.phandle);
      b.endNode();
    }
    b.endNode();
  }
  devs.forEach((d, i) => {
    b.beginNode(`virtio@${hexOf(d.base)}`);
    b.propString('compatible', 'virtio,mmio');
    b.propU64s('reg', [d.base, d.size]);
    b.propCells('interrupts', [0, d.line, d.level ? 4 : 1]);
    b.propEmpty('dma-coherent');
    const p = pools[i];
    if (p) b.propU32('memory-region', p.phandle);
    b.endNode();
  });
  if (o.scmi) {
    b.beginNode('firmware');
    b.beginNode('scmi');
    b.propString('compatible', 'arm,scmi-virtio');
    b.propU32('#address-cells', 1);
    b.propU32('#size-cells', 0);
    for (const id of [...new Set(o.scmi.protocols)].sort((x, y) => x - y)) {
      b.beginNode(`protocol@${hexOf(id)}`);
      b.propU32('reg', id);
      const cells = SCMI_PROTOCOL_CELLS.get(id);
      if (cells !== undefined) b.propU32(cells, 1);
      b.endNode();
    }
    b.endNode();
    b.endNode();
  }
}

/**
 * Open the root node and write what every VMM's DT starts with: the root's cells, /memory,
 * /cpus with PSCI, /psci, the GICv3 and the timer. The root node is left open.
 */
export function beginVmPlatformDtb(b: FdtBuilder, o: { readonly vcpus: number; readonly memory: readonly { readonly base: bigint; readonly size: bigint }[] }): void {
  b.beginNode('');
  b.propU32('#address-cells', 2);
  b.propU32('#size-cells', 2);
  b.propU32('interrupt-parent', GIC_PHANDLE);

  b.beginNode('memory');
  b.propString('device_type', 'memory');
  b.propU64s('reg', o.memory.flatMap((m) => [m.base, m.size]));
  b.endNode();

  b.beginNode('cpus');
  b.propU32('#address-cells', 1);
  b.propU32('#size-cells', 0);
  for (let i = 0; i < o.vcpus; i++) {
    b.beginNode(`cpu@${i.toString(16)}`);
    b.propString('device_type', 'cpu');
    b.propString('compatible', 'arm,arm-v8');
    b.propString('enable-method', 'psci');
    b.propU32('reg', i);
    b.propEmpty('cpu-idle-states');
    b.endNode();
  }
  b.endNode();

  b.beginNode('psci');
  b.propString('compatible', 'arm,psci-0.2');
  b.propString('method', 'hvc');
  b.endNode();

  const redist = 0x2_0000 * o.vcpus;
  b.beginNode('interrupt-controller@3fff0000');
  b.propString('compatible', 'arm,gic-v3');
  b.propU32('#interrupt-cells', 3);
  b.propEmpty('interrupt-controller');
  b.propU64s('reg', [0x3fff_0000n, 0x1_0000n, BigInt(0x3fff_0000 - redist), BigInt(redist)]);
  b.propU32('phandle', GIC_PHANDLE);
  b.endNode();

  b.beginNode('timer');
  b.propString('compatible', 'arm,armv8-timer');
  b.propEmpty('always-on');
  b.propCells('interrupts', [1, 13, 0x108, 1, 14, 0x108, 1, 11, 0x108, 1, 10, 0x108]);
  b.propU32('clock-frequency', 19_200_000);
  b.endNode();
}

export function buildVmDtb(o: VmDtbOptions): Uint8Array {
  const b = new FdtBuilder();
  beginVmPlatformDtb(b, o);

  virtioNodes(b, o);

  b.beginNode('gunyah-vm-config');
  b.propString('image-name', o.imageName ?? 'gunyah-vmm-vm');
  b.propString('os-type', 'linux');
  b.beginNode('memory');
  b.propU32('#address-cells', 2);
  b.propU32('#size-cells', 2);
  b.propU64('base-address', o.memory[0]?.base ?? 0n);
  b.endNode();
  b.beginNode('interrupts');
  b.propU32('config', GIC_PHANDLE);
  b.endNode();
  b.beginNode('vcpus');
  b.propString('affinity', 'proxy');
  b.endNode();
  b.beginNode('vdevices');
  b.propString('generate', '/hypervisor');
  for (const d of o.doorbells ?? []) {
    const hex = d.label.toString(16);
    b.beginNode(`bell-${hex}`);
    b.propString('vdevice-type', 'doorbell');
    b.propString('generate', `/hypervisor/bell-${hex}`);
    b.propU32('label', d.label);
    b.propEmpty('peer-default');
    b.propEmpty('source-can-clear');
    b.propCells('interrupts', [0, d.line, d.level ? 4 : 1]);
    b.endNode();
  }
  b.endNode();
  b.endNode();
  b.endNode();
  return b.finish({ minSize: o.size ?? 4096 });
}
