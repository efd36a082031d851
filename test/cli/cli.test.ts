// The command line: the default scenario (a two-vCPU holding-cell VM through the raw contract,
// vmm-flows.md §2 and §6; then a guest VM with a virtio-scmi device whose clock vote goes away
// when it crashes, scmi-virtio.md §11/§12.2), `run --rm-only` (the RM lifecycle, uapi.md §8.2/§8.3), argument
// errors, and the conformance command's closing line (DESIGN.md "What the project ships").
import { describe, expect, test, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runDefaultScenario } from '../../src/cli/default-scenario.js';
import { formatDefaultScenario } from '../../src/cli/default-scenario-report.js';
import { runRmLifecycleScenario } from '../../src/cli/rm-lifecycle-scenario.js';

function capture() {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  return {
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    restore() {
      o.mockRestore();
      e.mockRestore();
    },
  };
}

async function runMain(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  try {
    const code = await main(argv);
    return { code, out: c.out, err: c.err };
  } finally {
    c.restore();
  }
}

/** "GEMUHOLD" as a little-endian u64: read_addr of the holding-cell image (docs/guest-images.md). */
const IMAGE_FIRST_WORD = 0x444c_4f48_554d_4547n;

describe('gunyah-emu run: the default scenario', () => {
  test('boots through the raw contract in test-vmm order (vmm-flows.md §2)', async () => {
    const r = await runDefaultScenario();
    expect(r.syscalls.map((s) => s.name)).toEqual([
      'open',
      'GUNYAH_CREATE_VM',
      'open',
      'GUNYAH_CREATE_GUEST_MEM',
      'GUNYAH_VM_MAP_MEM',
      'GUNYAH_VM_ADD_FUNCTION',
      'GUNYAH_VCPU_MMAP_SIZE',
      'mmap',
      'GUNYAH_VM_ADD_FUNCTION',
      'GUNYAH_VCPU_MMAP_SIZE',
      'mmap',
      'mmap',
      'GUNYAH_VM_SET_DTB_CONFIG',
      'mmap',
      'GUNYAH_VM_SET_BOOT_CONTEXT',
      'GUNYAH_VM_SET_BOOT_CONTEXT',
      'GUNYAH_VM_START',
    ]);
    // The run pages are one page (GUNYAH_VCPU_MMAP_SIZE = PAGE_SIZE); the struct ioctls take pointers.
    expect(r.syscalls.filter((s) => s.call.includes('VCPU_MMAP_SIZE')).map((s) => s.result)).toEqual(['4096', '4096']);
    expect(r.syscalls.find((s) => s.call.includes('MAP_MEM'))?.call).toMatch(/, 0x[0-9a-f]+\)$/);
  });

  test('runs the commands on both vCPUs with the protocol results; SYSTEM_OFF ends on a STATUS exit', async () => {
    const r = await runDefaultScenario();
    expect(r.problems).toEqual([]);
    expect(r.commands.map((c) => [c.vcpu, c.name, c.result])).toEqual([
      [0, 'OK', 0n],
      [0, 'LOOPBACK', 0x0123_4567_89ab_cdefn],
      [0, 'MAGIC', 1n],
      [0, 'READ_ADDR', IMAGE_FIRST_WORD],
      [0, 'SMCCC_HVC CPU_ON(1)', 0n],
      [1, 'OK', 0n],
      [1, 'LOOPBACK', 0xfedc_ba98_7654_3210n],
      [1, 'MAGIC', 1n],
      [1, 'READ_ADDR', IMAGE_FIRST_WORD],
      [0, 'SMCCC_HVC SYSTEM_OFF', undefined],
    ]);
    expect(r.commands.every((c) => c.ok)).toBe(true);
    // vCPU 1's first RUN went in before CPU_ON and slept (POWERED_OFF) until vCPU 0 woke it.
    expect(r.secondarySleptUntilCpuOn).toBe(true);
    expect(r.commands.find((c) => c.name === 'SMCCC_HVC CPU_ON(1)')?.args).toEqual([0xc400_0003n, 1n, 0x8000_0000n, 0n, 0n]);
    expect(r.commands.at(-1)?.args[0]).toBe(0x8400_0008n);
  });

  test('exit counts per vCPU: 1 + nargs reads and one write per command, one STATUS exit EXITED each', async () => {
    const r = await runDefaultScenario();
    // vCPU 0: ok 1, loopback 2, magic 2, read_addr 2, CPU_ON 6, SYSTEM_OFF 6 reads; five results.
    // vCPU 1: ok 1, loopback 2, magic 2, read_addr 2 reads; four results.
    expect(r.vcpus.map((v) => v.counts)).toEqual([
      { mmioRead: 19, mmioWrite: 5, status: 1, pageFault: 0, other: 0 },
      { mmioRead: 7, mmioWrite: 4, status: 1, pageFault: 0, other: 0 },
    ]);
    for (const v of r.vcpus) {
      // GUNYAH_VM_STATUS_EXITED (2), exit type 1 PLATFORM_OFF (vmm-flows.md §6.6 power_off).
      expect(v.finalStatus).toMatchObject({ status: 2, exitType: 1 });
    }
  });

  test('closes every fd; the RM holds no VM or parcel, memory is back with the host, invariants hold', async () => {
    const r = await runDefaultScenario();
    expect(r.shutdown).toMatchObject({ fdsClosed: 6, openFds: 0, mappings: 0, userAllocations: 0, rmVms: [], rmParcels: 0, liveVms: 0 });
    expect([...r.shutdown.memoryOwners.keys()]).toEqual([3]);
    expect(r.invariantViolations).toEqual([]);
  });

  test('run prints the boot, the commands, the exit summary and the shutdown check, and exits 0', async () => {
    const { code, out } = await runMain(['run']);
    expect(code).toBe(0);
    expect(out).toContain('GUNYAH_VM_START');
    expect(out).toMatch(/│ 1\s+│ READ_ADDR\s+│ 0x80000000\s+│ 0x444c4f48554d4547/);
    expect(out).toMatch(/│ 0\s+│ 19\s+│ 5\s+│ 1\s+│ 0\s+│ 0\s+│ 19\/5\/1\s+│ EXITED \(2\); exit_info type 1 PLATFORM_OFF/);
    expect(out).toMatch(/│ 1\s+│ 7\s+│ 4\s+│ 1\s+│ 0\s+│ 0\s+│ 7\/4\/1\s+│ EXITED \(2\); exit_info type 1 PLATFORM_OFF/);
    expect(out).toContain('RM: no VM, no memory parcel');
    expect(out).toContain('memory: all back with the host VM');
    expect(out).toContain('all invariants hold');
    expect(out).not.toContain('MISMATCH');
  });

  test('SCMI part: the guest votes through its virtio-scmi device, the host votes, the crash releases the VM\'s vote', async () => {
    const r = await runDefaultScenario();
    expect(r.problems).toEqual([]);
    const x = r.scmi;
    expect(x.clock).toEqual({ id: 3, name: 'uart' });
    // Before the crash: the VM asked 14.7456 MHz, the host 3.6864 MHz; the aggregate is the higher.
    expect(x.before).toEqual({
      guest: { enabled: true, rate: 14_745_600 },
      host: { enabled: true, rate: 3_686_400 },
      aggregate: { enabled: true, rate: 14_745_600 },
    });
    // The guest's udf crashes the VM (STATUS exit EXITED, exit type 5 SOFTWARE_ERROR) ...
    expect(x.crash).toMatchObject({ status: 2, exitType: 5 });
    // ... its agent is closed, its vote gone, and the aggregate is the host's vote alone.
    expect(x.after).toEqual({
      guest: { enabled: false, rate: undefined },
      agentConnected: false,
      host: { enabled: true, rate: 3_686_400 },
      aggregate: { enabled: true, rate: 3_686_400 },
    });
    // Kicks never exit (ioeventfd); probe and the irq-mode InterruptStatus/ACK pairs do.
    expect(x.notifyExits).toBe(0);
    expect(x.deviceExits).toBeGreaterThan(0);
    expect(x.steps.map((s) => s.who)).toEqual(['VMM', 'VMM', 'VMM', 'VMM', 'guest', 'VMM', 'guest', 'host', 'backend', 'guest', 'backend', 'backend', 'VMM']);
    expect(x.steps.find((s) => s.what.includes('ADD_FUNCTION(GUNYAH_FN_SCMI)'))?.result).toBe('bound');
    // The device's two eventfds, the vCPU, both guest-memory files, the VM and /dev/gunyah.
    expect(x.shutdown).toMatchObject({ fdsClosed: 7, openFds: 0, mappings: 0, userAllocations: 0, rmVms: [], rmParcels: 0, liveVms: 0 });
    expect([...x.shutdown.memoryOwners.keys()]).toEqual([3]);
    expect(r.invariantViolations).toEqual([]);
  });

  test('run prints the SCMI part: the steps, the votes before and after the crash, its shutdown check', async () => {
    const { code, out } = await runMain(['run']);
    expect(code).toBe(0);
    const scmi = out.slice(out.indexOf('SCMI over virtio'));
    expect(scmi).toMatch(/ADD_FUNCTION\(GUNYAH_FN_SCMI\) agent 2 "scmi-guest"\s+│ bound/);
    expect(scmi).toMatch(/│ before the crash │ enabled, 14\.7456 MHz\s+│ enabled, 3\.6864 MHz │ enabled, 14\.7456 MHz │/);
    expect(scmi).toMatch(/│ after the crash\s+│ vote gone \(agent closed\)\s+│ enabled, 3\.6864 MHz │ enabled, 3\.6864 MHz\s+│/);
    expect(scmi).toContain('0 of them QueueNotify');
    expect(scmi).toContain('Shutdown: closed 7 fds; 0 fds, 0 mappings and 0 user allocations left');
    expect(scmi).toContain('RM: no VM, no memory parcel');
    expect(out).not.toContain('MISMATCH');
  });

  test('a failing run is reported as a mismatch, and still shuts down cleanly', async () => {
    // The 5th vcpu_run hypercall fails: RUN gives EBUSY in the middle of vCPU 0's commands.
    const r = await runDefaultScenario(1, { faults: { hypercalls: [{ call: 'vcpu_run', occurrence: 5, error: 'ERROR_BUSY' }] } });
    expect(r.problems[0]).toMatch(/^EBUSY/);
    expect(r.problems).toContain('vCPU 1: 0 status exits, expected 1');
    expect(r.shutdown).toMatchObject({ openFds: 0, rmVms: [], rmParcels: 0, liveVms: 0 });
    // The SCMI part runs after it on the same emulator (the fault was used up) and is unaffected.
    expect(r.problems.filter((p) => p.startsWith('SCMI'))).toEqual([]);
    expect(r.scmi.after.aggregate).toEqual({ enabled: true, rate: 3_686_400 });
    expect(r.scmi.shutdown).toMatchObject({ openFds: 0, rmVms: [], rmParcels: 0, liveVms: 0 });
    expect(r.invariantViolations).toEqual([]);
    expect(formatDefaultScenario(r)).toContain('MISMATCH:\n  EBUSY');
  });

  test('a failure while vCPU 1 sleeps in RUN: the RUN is kicked with immediate_exit, then everything closes', async () => {
    // The 15th vcpu_run fails during vCPU 0's CPU_ON arguments, while vCPU 1's first RUN sleeps.
    const r = await runDefaultScenario(1, { faults: { hypercalls: [{ call: 'vcpu_run', occurrence: 15, error: 'ERROR_BUSY' }] } });
    expect(r.problems[0]).toMatch(/^EBUSY/);
    expect(r.problems).toContain('vCPU 1: a RUN was still in flight at shutdown; kicked with immediate_exit');
    expect(r.shutdown).toMatchObject({ openFds: 0, rmVms: [], rmParcels: 0, liveVms: 0 });
    expect([...r.shutdown.memoryOwners.keys()]).toEqual([3]);
    expect(r.invariantViolations).toEqual([]);
  });
});

describe('gunyah-emu run --rm-only', () => {
  test('walks the RM lifecycle in the real order', async () => {
    const r = await runRmLifecycleScenario();
    expect(r.invariantViolations).toEqual([]);
    const requests = r.rows.filter((x) => x.kind === 'request').map((x) => x.name);
    expect(requests).toEqual([
      'VM_ALLOCATE', 'MEM_LEND', 'VM_CONFIG_IMAGE', 'VM_SET_DEMAND_PAGING', 'VM_SET_ADDRESS_LAYOUT', 'VM_INIT', 'VM_SET_CONTEXT',
      'VM_GET_HYP_RESOURCES', 'VM_START', 'VM_GET_STATE', 'VM_STOP', 'VM_RESET', 'VM_DEALLOCATE',
    ]);
    expect(r.rows.filter((x) => x.kind === 'reply').every((x) => x.detail.startsWith('OK'))).toBe(true);
    const notifs = r.rows.filter((x) => x.kind === 'notification').map((x) => `${x.name} ${x.detail}`);
    expect(notifs.map((n) => n.match(/vmStatus=(\w+)/)?.[1] ?? n.split(' ')[0])).toEqual([
      'INIT', 'READY', 'RUNNING', 'EXITED', 'NOTIFY_VM_EXITED', 'RESETTING', 'RESET',
    ]);
  });

  test('prints the table and exits 0', async () => {
    const { code, out } = await runMain(['run', '--rm-only']);
    expect(code).toBe(0);
    expect(out).toContain('VM_DEALLOCATE');
    expect(out).toContain('all invariants hold');
    expect(out).not.toContain('READ_ADDR');
  });
});

describe('gunyah-emu', () => {
  test('a scenario file that cannot be read: exit 2 with the error (docs/scenarios.md)', async () => {
    const { code, err } = await runMain(['run', 'some-file']);
    expect(code).toBe(2);
    expect(err).toMatch(/^some-file: not a valid scenario \(1 error\)\n {2}\(scenario\): expected a readable scenario file, found ENOENT/);
  });

  test('an unknown command is an error with a non-zero exit', async () => {
    const { code, err } = await runMain(['frobnicate']);
    expect(code).not.toBe(0);
    expect(err).toMatch(/unknown command/);
  });

  test('rm conformance prints a line per case and the closing count', async () => {
    const { code, out } = await runMain(['rm', 'conformance', '--target', 'builtin', '--filter', '^framing\\.']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^\d+ passed, 0 failed$/);
    expect(lines.slice(0, -1).every((l) => l.startsWith('PASS framing.'))).toBe(true);
  });
});
