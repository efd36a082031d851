/**
 * Scenarios in the gh_ (v14 / Android) dialect: `"machine": {"dialect": "gh"}`. The validator
 * refuses what a gh_ scenario cannot say (boot context, guest-memory file options, MAP_MEM and
 * PUNCH_HOLE actions, resume actions, page-fault exits, v17 ioctl names) and the gh_-only fields
 * in a v17 scenario, each with the field, what was expected and what was found (golden strings
 * typed by hand from docs/scenarios.md "The gh_ dialect"). Runs: the VM is built as a gh_ VMM
 * builds it (anonymous RAM, a region ioctl, no boot context), START explicit or left to the first
 * RUN, and a v17 scenario's calls are unchanged.
 *
 * Reference: docs/scenarios.md "The gh_ dialect"; docs/gh-dialect.md; docs/decisions.md SC14–SC18.
 */
import { describe, expect, it } from 'vitest';
import { ScenarioLoader, runScenario, type Scenario } from '../../src/scenario/index.js';
import { createMemoryTraceSink } from '../../src/shared/trace.js';

const loader = new ScenarioLoader();

/** A minimal valid gh_ scenario, changed by `edit`. */
function gh(edit: (s: Record<string, any>) => void = () => {}): Record<string, any> {
  const s: Record<string, any> = {
    description: 'a gh_ VM that powers off',
    machine: { dialect: 'gh' },
    vms: [{ name: 'vm0', vcpus: 1, guest: { program: [{ op: 'systemOff' }] } }],
    expect: [{ exit: { kind: 'status', status: 'EXITED' } }],
  };
  edit(s);
  return s;
}

function messages(data: unknown): string[] {
  const r = loader.validate(data);
  return r.ok ? [] : r.errors.map((e) => e.message);
}

describe('what a gh_ scenario cannot say (golden)', () => {
  it('a minimal gh_ scenario is valid and passes', async () => {
    expect(messages(gh())).toEqual([]);
    const r = await runScenario(gh() as never, { loader });
    expect(r.failed).toBe(0);
  });

  it('an unknown dialect is a schema error', () => {
    expect(messages(gh((s) => (s.machine.dialect = 'v14')))).toEqual([
      'machine.dialect: expected a UAPI dialect: "v17" (gunyah_, default) or "gh" (v14 / Android gh_), found "v14"',
    ]);
  });

  it.each<[string, (s: Record<string, any>) => void, string[]]>([
    [
      'a boot context',
      (s) => (s.vms[0].bootContext = [{ reg: 'X0', value: 1 }]),
      ['vms[0].bootContext: expected no bootContext in a gh_ scenario (the gh_ driver has no SET_BOOT_CONTEXT: the RM enters the DTB\'s region at its base with X0 = the DTB, B13), found a list of 1 entry'],
    ],
    [
      'guest-memory file options and the v17-only access',
      (s) => (s.vms[0].memory = [{ name: 'ram', guestAddr: '0x80000000', size: '0x8000', fileOffset: '0x1000', map: 'start', access: 'default' }]),
      [
        'vms[0].memory[0].fileOffset: expected no fileOffset in a gh_ scenario (a region is the VMM\'s anonymous memory, not a guest-memory file), found "0x1000"',
        'vms[0].memory[0].map: expected no map in a gh_ scenario (no MAP_MEM: every region is registered during set-up and goes to the RM at START), found "start"',
        'vms[0].memory[0].access: expected "lend" or "share" in a gh_ scenario (GH_VM_ANDROID_LEND_USER_MEM or GH_VM_SET_USER_MEM_REGION), found "default"',
      ],
    ],
    [
      'resume actions, punch holes, MAP_MEM and UNMAP',
      (s) => {
        s.vms[0].memory = [{ name: 'ram', guestAddr: '0x80000000', size: '0x8000' }];
        s.vms[0].vmm = {
          actions: [
            { when: { exit: { kind: 'mmio' } }, do: [{ resume: 'FAULT' }, { resume: 'RETRY' }, { punchHole: { region: 'ram' } }, { mapMem: { region: 'ram' } }, { unmapMem: { region: 'ram' } }] },
          ],
        };
      },
      [
        'vms[0].vmm.actions[0].do[0].resume: expected no resume in a gh_ scenario (gh_ has no resume_action: a read completes with the value in mmio.data, a write by the next RUN; GV6), found "FAULT"',
        'vms[0].vmm.actions[0].do[1].resume: expected no resume in a gh_ scenario (gh_ has no resume_action: a read completes with the value in mmio.data, a write by the next RUN; GV6), found "RETRY"',
        'vms[0].vmm.actions[0].do[2].punchHole: expected no punchHole in a gh_ scenario (a region is anonymous memory, pinned whole; there is no guest-memory file to punch), found an object with region',
        'vms[0].vmm.actions[0].do[3].mapMem: expected no mapMem in a gh_ scenario (gh_ has no MAP_MEM), found an object with region',
        'vms[0].vmm.actions[0].do[4].unmapMem: expected no unmapMem in a gh_ scenario (gh_ has no MAP_MEM), found an object with region',
      ],
    ],
    [
      'page-fault exits, in a trigger and in an expectation',
      (s) => {
        s.vms[0].vmm = { actions: [{ when: { exit: { kind: 'page-fault' } }, do: [{ stop: true }] }] };
        s.expect = [{ exit: { kind: 'page-fault', attempt: 'ENOENT' } }];
      },
      [
        'vms[0].vmm.actions[0].when.exit.kind: expected an exit kind other than "page-fault" in a gh_ scenario (gh_ has no page-fault exits; ADDRSPACE_PAGE_FAULT spins, GV4), found "page-fault"',
        'expect[0].exit.kind: expected an exit kind other than "page-fault" in a gh_ scenario (gh_ has no page-fault exits; ADDRSPACE_PAGE_FAULT spins, GV4), found "page-fault"',
        'expect[0].exit.attempt: expected no attempt in a gh_ scenario (it belongs to page-fault exits, which gh_ does not have), found "ENOENT"',
      ],
    ],
    [
      'an SCMI device',
      (s) => {
        s.vms[0].memory = [{ name: 'ram', guestAddr: '0x80000000' }, { name: 'ring', guestAddr: '0x90000000', size: '0x4000', access: 'share' }];
        s.vms[0].scmi = { agentId: 2, name: 'g', ring: 'ring' };
      },
      ['vms[0].scmi: expected no scmi device in a gh_ scenario (the emulated RM maps only the image region into a gh_ VM, so the guest cannot reach a ring region; G13), found an object with agentId, name, ring'],
    ],
    [
      'a v17 ioctl name',
      (s) => {
        s.vms[0].vmm = { actions: [{ when: { errno: { op: 'GUNYAH_VCPU_RUN' } }, do: [{ stop: true }] }] };
        s.expect = [{ ioctl: { op: 'GUNYAH_VM_MAP_MEM' } }];
      },
      [
        'vms[0].vmm.actions[0].when.errno.op: expected an ioctl of the gh_ dialect (GH_CREATE_VM, GH_VM_SET_USER_MEM_REGION, GH_VM_SET_DTB_CONFIG, GH_VM_START, GH_VM_ADD_FUNCTION, GH_VCPU_RUN, GH_VCPU_MMAP_SIZE, GH_VM_REMOVE_FUNCTION, GH_ANDROID_TENTATIVE_UAPI, GH_VM_ANDROID_LEND_USER_MEM, GH_VM_ANDROID_SET_FW_CONFIG, GH_VM_RECLAIM_REGION, GH_VM_ANDROID_MAP_CMA_MEM, GH_VM_ANDROID_SET_AUTH_TYPE, GH_VM_CHECK_EXTENSION) or fallocate, eventfd_write, eventfd_read, found "GUNYAH_VCPU_RUN"',
        'expect[0].ioctl.op: expected an ioctl of the gh_ dialect (GH_CREATE_VM, GH_VM_SET_USER_MEM_REGION, GH_VM_SET_DTB_CONFIG, GH_VM_START, GH_VM_ADD_FUNCTION, GH_VCPU_RUN, GH_VCPU_MMAP_SIZE, GH_VM_REMOVE_FUNCTION, GH_ANDROID_TENTATIVE_UAPI, GH_VM_ANDROID_LEND_USER_MEM, GH_VM_ANDROID_SET_FW_CONFIG, GH_VM_RECLAIM_REGION, GH_VM_ANDROID_MAP_CMA_MEM, GH_VM_ANDROID_SET_AUTH_TYPE, GH_VM_CHECK_EXTENSION) or fallocate, eventfd_write, eventfd_read, found "GUNYAH_VM_MAP_MEM"',
      ],
    ],
  ])('%s', (_, edit, expected) => {
    expect(messages(gh(edit))).toEqual(expected);
  });

  it('keeps what has a gh_ meaning: labels, share and lend, allow bits, init, START false, CHECK_EXTENSION, irqfds, ioeventfds, reads, faults', () => {
    const s = gh((x) => {
      x.faults = { rm: [{ msgId: 'VM_START', error: 'NORESOURCE' }], vcpuRun: [{ state: 'ADDRSPACE_PAGE_FAULT' }], vmExited: [{ exitType: 'PLATFORM_OFF' }] };
      x.vms[0].memory = [
        { name: 'ram', guestAddr: '0x80000000', size: '0x8000', access: 'lend', label: 3, init: [{ offset: '0x7000', u64: 5 }] },
        { name: 'shm', guestAddr: '0x90000000', size: '0x1000', access: 'share', allow: 'rw-' },
      ];
      x.vms[0].start = false;
      x.vms[0].checkExtension = [0, 1];
      x.vms[0].doorbells = [{ label: 1, line: 3 }];
      x.vms[0].ioeventfds = [{ name: 'kick', addr: '0x9000', len: 4 }];
      x.vms[0].vmm = {
        reads: [{ addr: '0x6000', value: 1 }],
        actions: [{ when: { exit: { kind: 'mmio' } }, do: [{ value: 2 }, { immediateExit: true }, { ring: { label: 1 } }, { removeIoeventfd: { name: 'kick' } }, { removeIrqfd: { label: 1 } }, { start: true }] }],
      };
      x.expect = [{ ioctl: { op: 'GH_VM_ANDROID_LEND_USER_MEM' } }, { ioctl: { op: 'eventfd_write' } }, { exit: { kind: 'mmio' } }];
    });
    expect(messages(s)).toEqual([]);
    const r = loader.validate(s);
    if (!r.ok) throw new Error('invalid');
    expect(r.plan.dialect).toBe('gh');
    expect(r.plan.emulator.dialect).toBe('gh');
    // GH_MEM_ALLOW_* (R 0x1, W 0x2, X 0x4); the label given, else the region's index.
    expect(r.plan.vms[0]!.regions.map((x) => [x.label, x.flags, x.share])).toEqual([
      [3, 0x7, false],
      [1, 0x3, true],
    ]);
  });

  it('a v17 scenario refuses the gh_-only fields and gh_ ioctl names', () => {
    const v17 = gh((s) => {
      delete s.machine;
      s.vms[0].memory = [{ name: 'ram', guestAddr: '0x80000000', label: 1 }];
      s.vms[0].checkExtension = [0];
      s.expect = [{ ioctl: { op: 'GH_VM_SET_USER_MEM_REGION' } }];
    });
    expect(messages(v17)).toEqual([
      'vms[0].memory[0].label: expected no label in a v17 scenario (labels belong to gh_ user-memory regions: "machine": {"dialect": "gh"}), found 1',
      'vms[0].checkExtension: expected no checkExtension in a v17 scenario (GH_VM_CHECK_EXTENSION is gh_ only: "machine": {"dialect": "gh"}), found a list of 1 entry',
      'expect[0].ioctl.op: expected an ioctl of the v17 dialect (GUNYAH_CREATE_VM, GUNYAH_VM_SET_DTB_CONFIG, GUNYAH_VM_START, GUNYAH_VM_ADD_FUNCTION, GUNYAH_VCPU_RUN, GUNYAH_VCPU_MMAP_SIZE, GUNYAH_VM_REMOVE_FUNCTION, GUNYAH_CREATE_GUEST_MEM, GUNYAH_VM_MAP_MEM, GUNYAH_VM_SET_BOOT_CONTEXT) or fallocate, eventfd_write, eventfd_read, found "GH_VM_SET_USER_MEM_REGION"',
    ]);
  });
});

/** The `ioctl` trace records' request numbers, in order. */
function requests(events: ReadonlyArray<Record<string, unknown>>): number[] {
  return events.filter((e) => e['kind'] === 'ioctl').map((e) => Number(e['request']));
}

describe('gh_ runs', () => {
  it('builds the VM as a gh_ VMM: anonymous RAM and a region ioctl, no guest-memory file, no MAP_MEM, no boot context', async () => {
    const trace = createMemoryTraceSink();
    const s = gh((x) => {
      x.vms[0].memory = [
        { name: 'ram', guestAddr: '0x80000000', size: '0x8000', label: 5 },
        { name: 'shm', guestAddr: '0x90000000', size: '0x1000', access: 'share', allow: 'rw-' },
      ];
    });
    const r = await runScenario(s as unknown as Scenario, { loader, trace });
    expect(r.failed).toBe(0);
    const ops = r.observations.filter((o) => o.kind === 'ioctl' && o.phase === 'setup').map((o) => (o.kind === 'ioctl' ? o.op : ''));
    expect(ops).toEqual(['GH_CREATE_VM', 'GH_VM_ANDROID_LEND_USER_MEM', 'GH_VM_SET_USER_MEM_REGION', 'GH_VM_ADD_FUNCTION', 'GH_VM_SET_DTB_CONFIG', 'GH_VM_START']);
    // The request numbers the kernel saw (README.md §Dialects, typed by hand); VCPU_MMAP_SIZE after ADD_FUNCTION.
    expect(requests(trace.events as never).slice(0, 7)).toEqual([0x4700, 0x4020_4111, 0x4020_4701, 0x4010_4704, 0x4706, 0x4010_4702, 0x4703]);
    const region = trace.events.find((e) => e.kind === 'ioctl' && Number((e as Record<string, unknown>)['request']) === 0x4020_4111) as Record<string, unknown>;
    expect(JSON.stringify(region, (_, v) => (typeof v === 'bigint' ? `${v}` : v))).toContain('"label":5');
    const shutdown = r.observations.find((o) => o.kind === 'shutdown');
    expect(shutdown).toMatchObject({ clean: true, rmVms: 0, parcels: 0 });
  });

  it('START explicit by default, implicit with "start": false (the first GH_VCPU_RUN starts the VM)', async () => {
    const explicit = await runScenario(gh() as unknown as Scenario, { loader });
    const implicit = await runScenario(gh((x) => (x.vms[0].start = false)) as unknown as Scenario, { loader });
    const starts = (r: typeof explicit): number => r.observations.filter((o) => o.kind === 'ioctl' && o.op === 'GH_VM_START').length;
    expect(starts(explicit)).toBe(1);
    expect(starts(implicit)).toBe(0);
    const running = (r: typeof explicit): string | undefined =>
      r.observations.find((o) => o.kind === 'notification' && o.name === 'NOTIFY_VM_STATUS' && 'vmStatus' in o && o.vmStatus === 'RUNNING')?.phase;
    expect(running(explicit)).toBe('setup');
    expect(running(implicit)).toBe('run');
    for (const r of [explicit, implicit]) {
      expect(r.failed).toBe(0);
      expect(r.observations.find((o) => o.kind === 'shutdown')).toMatchObject({ clean: true });
    }
  });

  it('an RM fault in the gh_ start shows in the VM\'s START; a failed MEM_RECLAIM leaves pinned pages, reported by the shutdown record', async () => {
    const s = gh((x) => {
      x.faults = { rm: [{ msgId: 'MEM_RECLAIM', error: 'BUSY' }] };
      x.vms[0].memory = [{ name: 'ram', guestAddr: '0x80000000', size: '0x8000', access: 'share' }];
      x.expect = [{ shutdown: { clean: false, parcels: 1 } }];
    });
    const r = await runScenario(s as unknown as Scenario, { loader });
    expect(r.failed).toBe(0);
    const shutdown = r.observations.find((o) => o.kind === 'shutdown');
    expect(shutdown?.kind === 'shutdown' ? shutdown.problems : []).toEqual(['the RM still holds 1 parcels', '8 pages left pinned by a failed MEM_RECLAIM']);
  });

  it('a v17 scenario still builds with guest-memory files, MAP_MEM and the boot context', async () => {
    const r = await runScenario(gh((x) => delete x.machine) as unknown as Scenario, { loader });
    const ops = r.observations.filter((o) => o.kind === 'ioctl' && o.phase === 'setup').map((o) => (o.kind === 'ioctl' ? o.op : ''));
    expect(ops).toEqual(['GUNYAH_CREATE_VM', 'GUNYAH_CREATE_GUEST_MEM', 'GUNYAH_VM_MAP_MEM', 'GUNYAH_VM_ADD_FUNCTION', 'GUNYAH_VM_SET_DTB_CONFIG', 'GUNYAH_VM_SET_BOOT_CONTEXT', 'GUNYAH_VM_SET_BOOT_CONTEXT', 'GUNYAH_VM_START']);
    expect(r.failed).toBe(0);
  });
});
