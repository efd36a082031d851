/**
 * The device tree the conformance suite hands the RM as a VM's configuration (the contents of
 * the platform-seeded image parcel that VM_CONFIG_IMAGE points at).
 *
 * Reference: vmm-flows.md §5.1 (`/gunyah-vm-config`: image-name, os-type, memory, interrupts,
 * vcpus {affinity "proxy"}, vdevices {generate "/hypervisor"} and a `bell-<label>` doorbell) and
 * §5.2 (cpus, psci, the GICv3 node). Where the sheet is silent the real RM decides (quic/gunyah-resource-manager
 * src/vm_config/vm_config_parser.c, 12/2023):
 *  - `image-name` is mandatory in `/gunyah-vm-config` (get_vendor_and_vm_name: a missing name
 *    fails the parse, so VM_INIT would fail);
 *  - a secondary VM has an RM RPC link only if its config has a vdevice with
 *    `vdevice-type = "rm-rpc"` (handle_rm_rpc in src/vm_config/vm_config.c adds the link and,
 *    with `console-dev`, the VM's console). The suite needs that link to talk as the guest, so
 *    the tree carries one, with the default `message-size` 240 and `queue-depth` 8 (rm-rpc.md §1);
 *  - `vm-uri` and `vm-guid` (a "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" string) give the VM the
 *    URI and GUID that VM_GET_ID and VM_LOOKUP_* report (parse_vm_info).
 * vCPUs are proxy-scheduled, so no vCPU ever runs: the suite never calls vcpu_run, and the
 * parcel holds no guest code.
 */
import { FdtBuilder } from '../fdt/index.js';

/** image-name the suite gives its VMs (VM_GET_ID NAME entry, VM_LOOKUP_NAME key). */
export const CONFORMANCE_IMAGE_NAME = 'gunyah-conformance';

/** Options of the test tree. */
export interface TestDtbOptions {
  /** Number of cpu@N nodes (default 2). */
  readonly cpus?: number;
  /** `image-name` (default CONFORMANCE_IMAGE_NAME). */
  readonly imageName?: string;
  /** Optional `vm-uri`. */
  readonly uri?: string;
  /** Optional `vm-guid`, in the 8-4-4-4-12 hex form. */
  readonly guid?: string;
  /** Total DTB size including free space for the RM's overlay (default 8 KiB). */
  readonly minSize?: number;
}

/** phandle of the tree's GIC node (TVMM uses 1). */
const GIC_PHANDLE = 1;

/** Guest address the tree declares as the VM's memory base (TVMM's choice, vmm-flows.md §2). */
export const TEST_MEMORY_BASE = 0x8000_0000n;

/** Build the test DTB. */
export function buildTestDtb(o: TestDtbOptions = {}): Uint8Array {
  const cpus = o.cpus ?? 2;
  const b = new FdtBuilder();
  b.beginNode('');
  b.propU32('#address-cells', 2);
  b.propU32('#size-cells', 2);
  b.propU32('interrupt-parent', GIC_PHANDLE);

  b.beginNode('cpus');
  b.propU32('#address-cells', 1);
  b.propU32('#size-cells', 0);
  for (let i = 0; i < cpus; i++) {
    b.beginNode(`cpu@${i.toString(16)}`);
    b.propString('device_type', 'cpu');
    b.propString('compatible', 'arm,arm-v8');
    b.propString('enable-method', 'psci');
    b.propU32('reg', i);
    b.endNode();
  }
  b.endNode();

  b.beginNode('psci');
  b.propString('compatible', 'arm,psci-0.2');
  b.propString('method', 'hvc');
  b.endNode();

  // GICv3 as TVMM lays it out (vmm-flows.md §5.2): distributor at 0x3FFF_0000, one 128 KiB
  // redistributor frame per vCPU just below it.
  const redist = 0x2_0000 * cpus;
  b.beginNode('interrupt-controller@3fff0000');
  b.propString('compatible', 'arm,gic-v3');
  b.propU32('#interrupt-cells', 3);
  b.propEmpty('interrupt-controller');
  b.propU64s('reg', [0x3fff_0000n, 0x1_0000n, BigInt(0x3fff_0000 - redist), BigInt(redist)]);
  b.propU32('phandle', GIC_PHANDLE);
  b.endNode();

  b.beginNode('gunyah-vm-config');
  b.propString('image-name', o.imageName ?? CONFORMANCE_IMAGE_NAME);
  b.propString('os-type', 'linux');
  if (o.uri !== undefined) b.propString('vm-uri', o.uri);
  if (o.guid !== undefined) b.propString('vm-guid', o.guid);

  b.beginNode('memory');
  b.propU32('#address-cells', 2);
  b.propU32('#size-cells', 2);
  b.propU64('base-address', TEST_MEMORY_BASE);
  b.endNode();

  b.beginNode('interrupts');
  b.propU32('config', GIC_PHANDLE);
  b.endNode();

  b.beginNode('vcpus');
  b.propString('affinity', 'proxy');
  b.endNode();

  b.beginNode('vdevices');
  b.propString('generate', '/hypervisor');

  b.beginNode('rm-rpc');
  b.propString('vdevice-type', 'rm-rpc');
  b.propString('generate', '/hypervisor/qcom,resource-mgr');
  b.propEmpty('console-dev');
  b.propU32('message-size', 240);
  b.propU32('queue-depth', 8);
  b.endNode();

  b.beginNode('bell-1');
  b.propString('vdevice-type', 'doorbell');
  b.propString('generate', '/hypervisor/bell-1');
  b.propU32('label', 1);
  b.propEmpty('peer-default');
  b.propEmpty('source-can-clear');
  b.propCells('interrupts', [0, 1, 1]);
  b.endNode();

  b.endNode(); // vdevices
  b.endNode(); // gunyah-vm-config
  b.endNode(); // root
  return b.finish({ minSize: o.minSize ?? 0x2000 });
}

/** The 16 GUID bytes the RM derives from a `vm-guid` string: the hex digits in order. */
export function guidBytes(guid: string): Uint8Array {
  const hexDigits = guid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hexDigits)) throw new RangeError(`bad GUID string ${guid}`);
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hexDigits.slice(2 * i, 2 * i + 2), 16));
}
