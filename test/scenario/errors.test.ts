/**
 * Bad scenario files: every error names the field (as a path from its JSON pointer), what was
 * expected and what was found; golden strings typed by hand from docs/scenarios.md "Errors".
 * Also: the JSON schema checked into examples/scenarios is the one the validator uses, and
 * `gunyah-emu run FILE` exits 0, 1 or 2.
 *
 * Reference: docs/scenarios.md.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ScenarioLoader, parseScenario, runScenario, scenarioSchema } from '../../src/scenario/index.js';

const EXAMPLES = join(import.meta.dirname, '../../examples/scenarios');

/** A minimal valid scenario, changed by `edit`. */
function scenario(edit: (s: Record<string, any>) => void = () => {}): unknown {
  const s: Record<string, any> = {
    description: 'a VM that powers off',
    vms: [{ name: 'vm0', vcpus: 1, guest: { program: [{ op: 'systemOff' }] } }],
    expect: [{ exit: { kind: 'status', status: 'EXITED' } }],
  };
  edit(s);
  return s;
}

/** One compiled schema for the whole file. */
const loader = new ScenarioLoader();

function messages(data: unknown): string[] {
  const r = loader.validate(data);
  return r.ok ? [] : r.errors.map((e) => e.message);
}

describe('schema errors (golden)', () => {
  it('a valid minimal scenario has none, and passes', async () => {
    expect(messages(scenario())).toEqual([]);
    const r = await runScenario(scenario() as never, { loader });
    expect(r.failed).toBe(0);
  });

  it.each<[string, (s: Record<string, any>) => void, string[]]>([
    ['a string for an integer', (s) => (s.vms[0].vcpus = 'two'), ['vms[0].vcpus: expected an integer 1..64, found "two"']],
    ['an integer out of range', (s) => (s.vms[0].vcpus = 65), ['vms[0].vcpus: expected an integer 1..64, found 65']],
    ['a missing field', (s) => delete s.description, ['description: expected a non-empty string saying what the scenario shows, found nothing']],
    [
      'an unknown field',
      (s) => (s.vms[0].vcpu = 2),
      ['vms[0].vcpu: expected one of the fields name, description, vcpus, memory, guest, doorbells, ioeventfds, scmi, bootContext, start, checkExtension, vmm, found an unknown field "vcpu"'],
    ],
    [
      'an access length of 3',
      (s) => (s.vms[0].guest.program = [{ op: 'mmioWrite', addr: '0x6000', len: 3, value: 1 }]),
      ['vms[0].guest.program[0].len: expected an access length 1, 2, 4 or 8, found 3'],
    ],
    [
      'an address that is not a number',
      (s) => (s.vms[0].guest.program = [{ op: 'load', addr: '0xZZ' }]),
      ['vms[0].guest.program[0].addr: expected a u64: an integer or a "0x…" string, found "0xZZ"'],
    ],
    [
      'an address over 64 bits',
      (s) => (s.vms[0].guest.program = [{ op: 'load', addr: '0x10000000000000000' }]),
      ['vms[0].guest.program[0].addr: expected a u64 (at most 0xffffffffffffffff), found "0x10000000000000000"'],
    ],
    [
      'an unknown op',
      (s) => (s.vms[0].guest.program = [{ op: 'systemOff' }, { op: 'jump', target: 0 }]),
      [
        'vms[0].guest.program[1].op: expected one of "load", "mmioRead", "store", "mmioWrite", "touch", "hvc", "psciCpuOn", "systemOff", "systemReset", "cpuOff", "relinquish", "wfi", "spin", "udf", "expect", "repeat", "forever", "onCpu", "virtioScmiProbe", "scmiCall", "scmiReplyWord", found "jump"',
      ],
    ],
    [
      'a missing op argument in a nested body',
      (s) => (s.vms[0].guest.program = [{ op: 'repeat', count: 2, body: [{ op: 'touch' }] }]),
      ['vms[0].guest.program[0].body[0].addr: expected a u64: an integer or a "0x…" string, found nothing'],
    ],
    [
      'an expectation with two kinds',
      (s) => (s.expect = [{ exit: {}, ioctl: {} }]),
      ['expect[0]: expected an expectation: an object with exactly one of exit, ioctl, notification, scmi, pending, eventfd, fault, shutdown, found an object with exit, ioctl'],
    ],
    [
      'a misspelt status name',
      (s) => (s.expect = [{ exit: { status: 'EXITTED' } }]),
      ['expect[0].exit.status: expected a STATUS-exit status: a name (LOAD_FAILED, EXITED, CRASHED) or an integer, found "EXITTED"'],
    ],
    ['no expectation', (s) => (s.expect = []), ['expect: expected a list of 1..4096 expectations, found an empty list']],
    [
      'an unknown resume action',
      (s) => (s.vms[0].vmm = { actions: [{ when: { exit: { kind: 'mmio' } }, do: [{ resume: 'IGNORE' }] }] }),
      ['vms[0].vmm.actions[0].do[0].resume: expected a resume action: HANDLED, FAULT, RETRY or a byte 0..255, found "IGNORE"'],
    ],
    [
      'a trigger without an event',
      (s) => (s.vms[0].vmm = { actions: [{ when: { occurrence: 2 }, do: [{ stop: true }] }] }),
      ['vms[0].vmm.actions[0].when: expected a trigger: an object with exactly one of exit, errno, pending, beforeRun, afterStart, end, found an object with occurrence'],
    ],
    [
      'a misspelt RM message',
      (s) => (s.faults = { rm: [{ msgId: 'VM_STRAT', error: 'NOMEM' }] }),
      [expect.stringMatching(/^faults\.rm\[0\]\.msgId: expected an RM message: a name \(MEM_DONATE, .*\) or an integer, found "VM_STRAT"$/) as unknown as string],
    ],
  ])('%s', (_, edit, want) => {
    expect(messages(scenario(edit))).toEqual(want);
  });

  it('reports every problem of a file, in order', () => {
    const bad = scenario((s) => {
      s.machine = { cpus: 0, seed: -1 };
      s.vms[0].vcpus = 'one';
      s.expect = [{ exit: { kind: 'mmo' } }];
    });
    expect(messages(bad)).toEqual([
      'machine.cpus: expected an integer 1..64, found 0',
      'machine.seed: expected an integer 0..4294967295, found -1',
      'vms[0].vcpus: expected an integer 1..64, found "one"',
      'expect[0].exit.kind: expected one of "mmio", "status", "page-fault", "unknown", "unrecognized", found "mmo"',
    ]);
  });

  it('is not JSON', () => {
    const r = parseScenario('{ "description": "x", ');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toMatch(/^\(scenario\): expected a JSON document, found invalid JSON \(/);
  });
});

describe('cross-reference errors (golden)', () => {
  it.each<[string, (s: Record<string, any>) => void, string[]]>([
    [
      'two VMs with one name',
      (s) => s.vms.push({ name: 'vm0', vcpus: 1, guest: { program: [] } }),
      ['vms[1].name: expected a VM name not used before in the same list, found "vm0"'],
    ],
    [
      'an action on a region the VM does not have',
      (s) => (s.vms[0].vmm = { actions: [{ when: { afterStart: true }, do: [{ punchHole: { region: 'shm' } }] }] }),
      ['vms[0].vmm.actions[0].do[0].punchHole.region: expected a region of this VM (ram), found "shm"'],
    ],
    [
      'a vCPU index past the VM',
      (s) => (s.vms[0].guest = { holdingCell: [{ vcpu: 1, cmd: 'OK' }] }),
      ['vms[0].guest.holdingCell[0].vcpu: expected a vCPU index below 1, found 1'],
    ],
    [
      'an expectation naming an unknown VM',
      (s) => (s.expect = [{ exit: { vm: 'vm1' } }]),
      ['expect[0].exit.vm: expected a VM of this scenario (vm0), found "vm1"'],
    ],
    [
      'a boot region too small',
      (s) => (s.vms[0].memory = [{ name: 'ram', guestAddr: '0x80000000', size: 4096 }]),
      ['vms[0].memory[0].size: expected at least 12288 bytes (image 4096, DTB page, 1 stack pages), found 4096'],
    ],
    [
      'ringing a doorbell without an irqfd',
      (s) => (s.vms[0].vmm = { actions: [{ when: { end: true }, do: [{ ring: { label: 7 } }] }] }),
      ['vms[0].vmm.actions[0].do[0].ring.label: expected the label of a doorbell with an irqfd (none), found 7'],
    ],
    [
      'a program the builder refuses',
      (s) => (s.vms[0].guest.program = [{ op: 'virtioScmiProbe', mmioBase: 3, ringBase: '0x90000000' }]),
      [expect.stringMatching(/^vms\[0\]\.guest\.program\[0\]: expected an op the guest-program builder accepts \(.+\), found "virtioScmiProbe"$/) as unknown as string],
    ],
  ])('%s', (_, edit, want) => {
    expect(messages(scenario(edit))).toEqual(want);
  });
});

describe('the schema file for editors', () => {
  it('examples/scenarios/scenario.schema.json is the validator\'s schema', () => {
    expect(JSON.parse(readFileSync(join(EXAMPLES, 'scenario.schema.json'), 'utf8'))).toEqual(scenarioSchema());
  });
});

describe('gunyah-emu run FILE', () => {
  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      return { code: await main(argv), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'gunyah-emu-scenario-'));
  const write = (name: string, data: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(data));
    return p;
  };

  it('exits 0 when every expectation passes, with the table', async () => {
    const { code, out } = await run(['run', join(EXAMPLES, 'mmio-lengths.json')]);
    expect(code).toBe(0);
    expect(out).toMatch(/PASS/);
    expect(out).not.toMatch(/FAIL/);
    expect(out).toContain('10 expectations: 10 passed, 0 failed');
  });

  it('exits 1 on a failed expectation and says what was seen instead', async () => {
    const p = write('fail.json', scenario((s) => (s.expect = [{ exit: { kind: 'status', exitType: 'PLATFORM_RESET' } }])));
    const { code, out } = await run(['run', p, '--observations']);
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL/);
    expect(out).toMatch(/STATUS EXITED, exit type PLATFORM_OFF/);
    expect(out).toMatch(/differs: exitType/);
    expect(out).toContain('Observations:');
  });

  it('exits 2 on an invalid file, with the errors on stderr', async () => {
    const p = write('bad.json', scenario((s) => (s.vms[0].vcpus = 'two')));
    const { code, out, err } = await run(['run', p]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toBe(`${p}: not a valid scenario (1 error)\n  vms[0].vcpus: expected an integer 1..64, found "two"\n`);
  });

  it('--seed replaces the machine seed', async () => {
    const { code, out } = await run(['run', join(EXAMPLES, 'mmio-lengths.json'), '--seed', '5']);
    expect(code).toBe(0);
    expect(out).toMatch(/\(seed 5,/);
  });
});
