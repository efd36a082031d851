/**
 * The VMM-side virtio-scmi device (src/vmm/scmi-device.ts) end to end: a guest program VM whose
 * virtio-scmi driver (src/guest) probes the device through MMIO exits, a TypeScript VMM that
 * puts ScmiVirtioDevice behind those exits, and the real SCMI function (GUNYAH_FN_SCMI) and
 * backend behind the ioeventfd and irqfd it wires at DRIVER_OK.
 *
 * Checked: the bind at DRIVER_OK (function argument, eventfds, no QueueNotify exit, the irq-mode
 * InterruptStatus/ACK exits), votes and their release when the guest crashes, a device reset by
 * the driver (unbind, votes released, bind again), close(), a failed bind (agent already
 * connected; lent ring memory) leaving nothing behind, kicks without an ioeventfd, poll mode,
 * exits that are not the device's, the DT nodes.
 *
 * Reference: scmi-virtio.md §1–§3 (register window), §5, §11 (MMIO exits, ioeventfd on
 * QueueNotify, InterruptStatus then irqfd, shared rings); uapi.md §6.2, §8.1, §8.13, §8.14;
 * docs/scmi.md (the function), docs/guest-images.md (the guest driver).
 */
import { describe, expect, it } from 'vitest';
import { createEmulator, type Emulator } from '../../src/emulator.js';
import { findNode, getCells, getString, getStringList, getU32, parseFdt, type FdtNode } from '../../src/fdt/index.js';
import { guestProgram, type GuestProgramBuilder } from '../../src/guest/index.js';
import { buildRequest } from '../../src/scmi/index.js';
import { GUNYAH_MEM_ALLOW_READ, GUNYAH_MEM_ALLOW_WRITE, GUNYAH_MEM_FORCE_LEND, type RunPage } from '../../src/vm-mgr/uapi/index.js';
import { ScmiVirtioDevice, buildVmDtb } from '../../src/vmm/index.js';
import {
  SCMI_VM_DOORBELL,
  SCMI_VM_MARK,
  SCMI_VM_MMIO,
  SCMI_VM_RING,
  bootScmiVm,
  type ScmiVm,
} from '../../src/cli/scmi-vm.js';
import { expectCleanShutdown } from '../vm-mgr/support/boot.js';

const AGENT = { agentId: 2, name: 'guest-a', deviceMask: 1n << 3n } as const; // the UART device
const UART_CLOCK = 3; // platform clock 3 ("uart"); the agent's clock 0
const CLOCK = 0x14;
const BASE = 0x10;
const ClockMsg = { RATE_SET: 0x5, RATE_GET: 0x6, CONFIG_SET: 0x7 } as const;
const QUEUE_NOTIFY = 0x050;
const INTERRUPT_STATUS = 0x060;
const INTERRUPT_ACK = 0x064;
const STATUS = 0x070;
const VERSION_1 = 1n << 32n;
const DEVICE_NEEDS_RESET = 64;
const EXITED = 2;

/** The guest's probe of the device (queue size 16, the ring region's layout). */
function probe(p: GuestProgramBuilder = guestProgram()): GuestProgramBuilder {
  return p.virtioScmiProbe(SCMI_VM_MMIO, SCMI_VM_RING, { queueSize: 16 });
}

/** CLOCK_CONFIG_SET(agent clock 0, enable) and CLOCK_RATE_SET(clock 0, rate), both SUCCESS. */
function voteUart(p: GuestProgramBuilder, rate: number): GuestProgramBuilder {
  return p.scmiCall(CLOCK, ClockMsg.CONFIG_SET, [0, 1, 0], { expectStatus: 0 }).scmiCall(CLOCK, ClockMsg.RATE_SET, [0, 0, rate, 0], { expectStatus: 0 });
}

interface Driven {
  /** Offsets of the device-window exits, in order, with R/W. */
  readonly accesses: string[];
}

/** RUN until an exit the device does not take; records the window accesses. */
async function drive(s: ScmiVm, d: Driven = { accesses: [] }, vcpu = 0): Promise<RunPage> {
  const v = s.vcpus[vcpu]!;
  for (;;) {
    const e = await v.run();
    if (e.kind === 'mmio' && s.device.contains(e.mmio.physAddr)) {
      d.accesses.push(`${e.mmio.isWrite ? 'W' : 'R'} 0x${Number(e.mmio.physAddr - SCMI_VM_MMIO).toString(16).padStart(3, '0')}`);
    }
    if (e.kind === 'mmio' && (await s.device.handleMmio(v, e))) continue;
    return e;
  }
}

function expectMark(e: RunPage, n: number): void {
  expect(e).toMatchObject({ kind: 'mmio', mmio: { physAddr: SCMI_VM_MARK, isWrite: true, data: BigInt(n) } });
}

function u32s(...words: number[]): Uint8Array {
  const b = new Uint8Array(4 * words.length);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w >>> 0, true));
  return b;
}

/** A host vote through the backend's trusted agent (platform clock IDs). */
function hostVote(emu: Emulator, clock: number, rate: number): void {
  const enable = emu.scmi.dispatch(emu.scmi.host, buildRequest({ protocolId: CLOCK, messageId: ClockMsg.CONFIG_SET, messageType: 0, token: 1 }, u32s(clock, 1, 0)));
  const set = emu.scmi.dispatch(emu.scmi.host, buildRequest({ protocolId: CLOCK, messageId: ClockMsg.RATE_SET, messageType: 0, token: 2 }, u32s(0, clock, rate, 0)));
  expect([new DataView(enable.buffer).getInt32(4, true), new DataView(set.buffer).getInt32(4, true)]).toEqual([0, 0]);
}

function eventfdCount(emu: Emulator): number {
  return emu.host.openFiles().filter((f) => f.file.name === '[eventfd]').length;
}

describe('ScmiVirtioDevice: binding at DRIVER_OK', () => {
  it('probe through MMIO exits; DRIVER_OK adds ioeventfd, irqfd and the function; a request never exits at QueueNotify', async () => {
    const emu = createEmulator();
    const prog = probe().scmiCall(BASE, 0x0, [], { expectStatus: 0, expectPayload: [0x2_0000] }).mmioWrite(SCMI_VM_MARK, 8, 1).spin();
    const s = await bootScmiVm(emu.host, { image: prog.build(), agent: AGENT });
    const bound: unknown[] = [];
    s.device.events.on('bound', (a) => bound.push(a));
    const d: Driven = { accesses: [] };
    expectMark(await drive(s, d), 1);

    expect(s.device.bound).toBe(true);
    expect(bound).toHaveLength(1);
    expect(s.device.functionArg).toMatchObject({
      agentId: 2,
      flags: 0,
      features: VERSION_1,
      name: 'guest-a',
      deviceMask: 8n,
      controlMask: 8n,
      protocolMask: 0x7d,
      // The driver's layout for Q = 16 (docs/guest-images.md): desc 0, avail 0x100, used 0x128.
      cmdq: { size: 16, desc: SCMI_VM_RING, driver: SCMI_VM_RING + 0x100n, device: SCMI_VM_RING + 0x128n },
    });
    const fds = s.device.fds!;
    expect(s.device.functionArg).toMatchObject({ kickFd: fds.kick, callFd: fds.call });
    expect(emu.scmi.agent(2)).toMatchObject({ agentId: 2, name: 'guest-a', trusted: false });

    // Probe: 3 identity reads, reset, status and features, queue 0 set-up, DRIVER_OK (0xF).
    const driverOk = d.accesses.indexOf('W 0x070');
    expect(driverOk).toBeGreaterThan(0);
    // The one request: no QueueNotify exit (ioeventfd), then the irq-mode InterruptStatus read and ACK.
    expect(d.accesses.filter((a) => a === `W 0x0${QUEUE_NOTIFY.toString(16)}`)).toEqual([]);
    expect(d.accesses.slice(-2)).toEqual([`R 0x0${INTERRUPT_STATUS.toString(16)}`, `W 0x0${INTERRUPT_ACK.toString(16)}`]);
    expect(s.device.registers.status).toBe(0xf);
    expect(s.device.registers.interruptStatus).toBe(0);
    expect(s.device.registers.warningCount).toBe(0);

    await s.close();
    expect(s.device.bound).toBe(false);
    expect(emu.scmi.agent(2)).toBeUndefined();
    expect(eventfdCount(emu)).toBe(0);
    await expectCleanShutdown(emu);
  });

  it('the guest votes; the host votes too; the guest crashes: its vote is released, the aggregate is the host\'s', async () => {
    const emu = createEmulator();
    const prog = voteUart(probe(), 14_745_600).mmioWrite(SCMI_VM_MARK, 8, 1).udf();
    const s = await bootScmiVm(emu.host, { image: prog.build(), agent: AGENT });
    const p = emu.scmi.platform;
    expect(p.clockAggregate(UART_CLOCK)).toEqual({ enabled: false, rate: 1_843_200 });
    expectMark(await drive(s), 1);
    expect(p.clockVote(2, UART_CLOCK)).toEqual({ enabled: true, rate: 14_745_600 });
    hostVote(emu, UART_CLOCK, 3_686_400);
    expect(p.clockAggregate(UART_CLOCK)).toEqual({ enabled: true, rate: 14_745_600 });

    const crash = await drive(s);
    expect(crash).toMatchObject({ kind: 'status', status: { status: EXITED } });
    expect(p.clockVote(2, UART_CLOCK).enabled).toBe(false);
    expect(p.clockAggregate(UART_CLOCK)).toEqual({ enabled: true, rate: 3_686_400 });
    expect(emu.scmi.agent(2)).toBeUndefined();

    // The device is still wired; close() removes the function of the exited VM and the rest.
    expect(s.device.bound).toBe(true);
    await s.close();
    expect(s.device.lastError).toBeUndefined();
    expect(p.clockAggregate(UART_CLOCK)).toEqual({ enabled: true, rate: 3_686_400 }); // the host's vote stays
    await expectCleanShutdown(emu);
  });

  it('a device reset by the driver unbinds (votes released); the next DRIVER_OK binds again', async () => {
    const emu = createEmulator();
    const prog = voteUart(probe(), 7_372_800)
      .mmioWrite(SCMI_VM_MARK, 8, 1)
      .virtioScmiProbe(SCMI_VM_MMIO, SCMI_VM_RING, { queueSize: 16 })
      .mmioWrite(SCMI_VM_MARK, 8, 2)
      .scmiCall(CLOCK, ClockMsg.RATE_GET, [0], { expectStatus: 0, expectPayload: [1_843_200, 0] })
      .mmioWrite(SCMI_VM_MARK, 8, 3)
      .spin();
    const s = await bootScmiVm(emu.host, { image: prog.build(), agent: AGENT });
    const events: string[] = [];
    s.device.events.on('bound', () => events.push('bound'));
    s.device.events.on('unbound', (why) => events.push(`unbound ${why}`));
    const p = emu.scmi.platform;
    expectMark(await drive(s), 1);
    expect(p.clockAggregate(UART_CLOCK)).toEqual({ enabled: true, rate: 7_372_800 });

    const d: Driven = { accesses: [] };
    expectMark(await drive(s, d), 2);
    expect(d.accesses.slice(3, 4)).toEqual([`W 0x0${STATUS.toString(16)}`]); // the reset write
    expect(events).toEqual(['bound', 'unbound reset', 'bound']);
    expect(p.clockAggregate(UART_CLOCK)).toEqual({ enabled: false, rate: 1_843_200 });
    expect(emu.scmi.agent(2)).toBeDefined();
    expect(s.device.fds).toBeDefined();
    expect(eventfdCount(emu)).toBe(2); // the first pair was closed

    // The rebuilt queue serves: the fresh agent has no vote, RATE_GET reports the aggregate.
    expectMark(await drive(s), 3);
    await s.close();
    await expectCleanShutdown(emu);
  });
});

describe('ScmiVirtioDevice: failures and variants', () => {
  it('a bind the kernel refuses (agent already connected: EEXIST) leaves nothing behind and sets DEVICE_NEEDS_RESET', async () => {
    const emu = createEmulator();
    const other = emu.scmi.openAgent({ agentId: 2, name: 'taken', devices: [], protocols: [] });
    const s = await bootScmiVm(emu.host, { image: probe().mmioWrite(SCMI_VM_MARK, 8, 1).spin().build(), agent: AGENT });
    const failed: unknown[] = [];
    s.device.events.on('bind-failed', (e) => failed.push(e));
    expectMark(await drive(s), 1);
    expect(failed).toEqual([expect.objectContaining({ code: 'EEXIST' })]);
    expect(s.device.lastError).toBe(failed[0]);
    expect(s.device.bound).toBe(false);
    expect(s.device.fds).toBeUndefined();
    expect(s.device.registers.status & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
    expect(eventfdCount(emu)).toBe(0);
    expect(emu.scmi.agent(2)?.name).toBe('taken');
    emu.scmi.closeAgent(other);
    await s.close();
    await expectCleanShutdown(emu);
  });

  it('rings in lent memory: the function refuses them (EINVAL), the device reports it and holds nothing', async () => {
    const emu = createEmulator();
    const s = await bootScmiVm(emu.host, {
      image: probe().mmioWrite(SCMI_VM_MARK, 8, 1).spin().build(),
      agent: AGENT,
      ringFlags: GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_READ | GUNYAH_MEM_ALLOW_WRITE,
    });
    const failed: unknown[] = [];
    s.device.events.on('bind-failed', (e) => failed.push(e));
    expectMark(await drive(s), 1);
    expect(failed).toEqual([expect.objectContaining({ code: 'EINVAL' })]);
    expect(eventfdCount(emu)).toBe(0);
    expect(emu.scmi.agent(2)).toBeUndefined();
    await s.close();
    await expectCleanShutdown(emu);
  });

  it('without an ioeventfd the kick exits to the VMM, which writes the kick eventfd itself', async () => {
    const emu = createEmulator();
    const prog = probe().scmiCall(BASE, 0x0, [], { expectStatus: 0 }).scmiCall(BASE, 0x0, [], { expectStatus: 0 }).mmioWrite(SCMI_VM_MARK, 8, 1).spin();
    const s = await bootScmiVm(emu.host, { image: prog.build(), agent: AGENT, ioeventfd: false });
    const d: Driven = { accesses: [] };
    expectMark(await drive(s, d), 1);
    expect(d.accesses.filter((a) => a === 'W 0x050')).toHaveLength(2);
    await s.close();
    await expectCleanShutdown(emu);
  });

  it('poll mode: no InterruptStatus exits; the requests are answered through the used ring alone', async () => {
    const emu = createEmulator();
    const prog = voteUart(probe(), 3_686_400)
      .scmiCall(CLOCK, ClockMsg.RATE_GET, [0], { expectStatus: 0, expectPayload: [3_686_400, 0], wait: 'poll' })
      .mmioWrite(SCMI_VM_MARK, 8, 1)
      .spin();
    const s = await bootScmiVm(emu.host, { image: prog.build(), agent: AGENT, level: false });
    const d: Driven = { accesses: [] };
    expectMark(await drive(s, d), 1);
    // Two irq-mode calls (ISR + ACK each), then the poll-mode call: nothing more.
    expect(d.accesses.filter((a) => a === 'R 0x060')).toHaveLength(2);
    expect(d.accesses.at(-1)).toBe('W 0x064');
    await s.close();
    await expectCleanShutdown(emu);
  });

  it('exits that are not in the window, and any exit after close(), are not the device\'s', async () => {
    const emu = createEmulator();
    const s = await bootScmiVm(emu.host, { image: probe().mmioWrite(SCMI_VM_MARK, 8, 1).spin().build(), agent: AGENT, noStart: true });
    const v = s.vcpus[0]!;
    const mmio = (physAddr: bigint, isWrite = false): RunPage => ({
      kind: 'mmio',
      exitReason: 1,
      immediateExit: 0,
      mmio: { physAddr, data: 0n, len: 4, isWrite, resumeAction: 0 },
    });
    expect(await s.device.handleMmio(v, mmio(SCMI_VM_MMIO - 4n))).toBe(false);
    expect(await s.device.handleMmio(v, mmio(SCMI_VM_MMIO + 0x200n))).toBe(false);
    expect(await s.device.handleMmio(v, mmio(SCMI_VM_MARK, true))).toBe(false);
    expect(await s.device.handleMmio(v, { kind: 'unknown', exitReason: 0, immediateExit: 0 })).toBe(false);
    // Inside: the magic value, answered through mmio.data; an unknown offset reads 0 (a warning).
    expect(await s.device.handleMmio(v, mmio(SCMI_VM_MMIO))).toBe(true);
    expect(v.exit()).toMatchObject({ kind: 'unknown' }); // no RUN yet: only mmio.data changed
    const data = v.page.read(24, 4); // mmio.data
    expect(new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true)).toBe(0x7472_6976);
    expect(await s.device.handleMmio(v, mmio(SCMI_VM_MMIO + 0x1fcn))).toBe(true);
    expect(s.device.registers.warnings.get('config-access')).toBe(1);
    await s.device.close();
    expect(await s.device.handleMmio(v, mmio(SCMI_VM_MMIO))).toBe(false);
    await s.close();
    await expectCleanShutdown(emu);
  });

  it('an agent the argument cannot carry is refused at construction', async () => {
    const emu = createEmulator();
    const s = await bootScmiVm(emu.host, { image: probe().build(), agent: AGENT, noStart: true });
    expect(() => new ScmiVirtioDevice(s.vm, { mmioBase: 0x2000_0000n, doorbellLabel: 1, line: 1, agent: { ...AGENT, name: 'x'.repeat(17) } })).toThrow(RangeError);
    expect(() => new ScmiVirtioDevice(s.vm, { mmioBase: 0x2000_0002n, doorbellLabel: 1, line: 1, agent: AGENT })).toThrow(RangeError);
    await s.close();
    await expectCleanShutdown(emu);
  });
});

describe('buildVmDtb: virtio-mmio and SCMI nodes', () => {
  const base = { vcpus: 1, memory: [{ base: 0x8000_0000n, size: 0x10_0000n }] };

  function node(root: FdtNode, path: string): FdtNode {
    const n = findNode(root, path);
    if (!n) throw new Error(`no node ${path}`);
    return n;
  }

  it('the device\'s node: window, the doorbell\'s SPI, its ring region as a restricted-dma-pool; the scmi firmware node', async () => {
    const emu = createEmulator();
    const s = await bootScmiVm(emu.host, { image: probe().build(), agent: AGENT, noStart: true });
    const dtb = buildVmDtb({ ...base, doorbells: [s.device.dtbDoorbell], virtioMmio: [s.device.dtbNode], scmi: { protocols: [0x14, 0x11, 0x14] } });
    const root = parseFdt(dtb).root;
    const v = node(root, '/virtio@10000000');
    expect(getString(v, 'compatible')).toBe('virtio,mmio');
    expect(getCells(v, 'reg')).toEqual([0, 0x1000_0000, 0, 0x200]);
    expect(getCells(v, 'interrupts')).toEqual([0, SCMI_VM_DOORBELL.line, 4]);
    expect(v.props.has('dma-coherent')).toBe(true);
    const pool = node(root, '/reserved-memory/virtio-dma@90000000');
    expect(getString(pool, 'compatible')).toBe('restricted-dma-pool');
    expect(getCells(pool, 'reg')).toEqual([0, 0x9000_0000, 0, 0x1000]);
    expect(getU32(v, 'memory-region')).toBe(getU32(pool, 'phandle'));
    expect(getU32(pool, 'phandle')).not.toBe(getU32(node(root, '/interrupt-controller@3fff0000'), 'phandle'));
    const bell = node(root, `/gunyah-vm-config/vdevices/bell-${SCMI_VM_DOORBELL.label.toString(16)}`);
    expect(getCells(bell, 'interrupts')).toEqual(getCells(v, 'interrupts'));
    const scmi = node(root, '/firmware/scmi');
    expect(getStringList(scmi, 'compatible')).toEqual(['arm,scmi-virtio']);
    expect(scmi.children.map((c) => c.name)).toEqual(['protocol@11', 'protocol@14']);
    expect(getU32(node(root, '/firmware/scmi/protocol@14'), 'reg')).toBe(0x14);
    expect(getU32(node(root, '/firmware/scmi/protocol@14'), '#clock-cells')).toBe(1);
    await s.close();
    await expectCleanShutdown(emu);
  });

  it('without the new options (or with none given) the tree is what it was', () => {
    const plain = buildVmDtb({ ...base, doorbells: [{ label: 1, line: 2 }] });
    expect(buildVmDtb({ ...base, doorbells: [{ label: 1, line: 2 }], virtioMmio: [] })).toEqual(plain);
    expect(findNode(parseFdt(plain).root, '/reserved-memory')).toBeUndefined();
    expect(findNode(parseFdt(plain).root, '/firmware')).toBeUndefined();
  });

  it('a VM with these nodes boots: the RM accepts the tree', async () => {
    const emu = createEmulator();
    const s = await bootScmiVm(emu.host, { image: probe().mmioWrite(SCMI_VM_MARK, 8, 1).spin().build(), agent: AGENT });
    expectMark(await drive(s), 1);
    await s.close();
    await expectCleanShutdown(emu);
  });
});
