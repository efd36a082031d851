/**
 * A VM device tree as VMMs build it for the RM: the holding-cell layout of quic/gunyah-test-vmm
 * (memory, cpus with PSCI, GICv3, timer) plus `/gunyah-vm-config` with proxy-scheduled vCPUs
 * and one `bell-<label>` doorbell vdevice per irqfd.
 *
 * Reference: vmm-flows.md §5.1 (the gunyah-vm-config node), §5.2 (the rest of the TVMM tree);
 * uapi.md §8.2 (the RM applies its overlay in place: the tree is padded to `size`).
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

export interface VmDtbOptions {
  readonly vcpus: number;
  /** Lend ("regular") memory regions: the `memory` node; the first is `base-address`. */
  readonly memory: ReadonlyArray<{ readonly base: bigint; readonly size: bigint }>;
  readonly doorbells?: readonly VmDtbDoorbell[];
  readonly imageName?: string;
  /** Total size with free space for the RM's overlay (default 4 KiB, a page as the v17 header suggests). */
  readonly size?: number;
}

const GIC_PHANDLE = 1;

export function buildVmDtb(o: VmDtbOptions): Uint8Array {
  const b = new FdtBuilder();
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
