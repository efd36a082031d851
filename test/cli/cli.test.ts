// The command line: the default scenario's report, argument errors, and the conformance
// command's closing line (DESIGN.md "What the project ships").
import { describe, expect, test, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runDefaultScenario } from '../../src/cli/default-scenario.js';

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

describe('gunyah-emu', () => {
  test('the default scenario walks the RM lifecycle in the real order', async () => {
    const r = await runDefaultScenario();
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

  test('run prints the table and exits 0', async () => {
    const c = capture();
    try {
      expect(await main(['run'])).toBe(0);
    } finally {
      c.restore();
    }
    expect(c.out).toContain('VM_DEALLOCATE');
    expect(c.out).toContain('all invariants hold');
  });

  test('an unknown command is an error with a non-zero exit', async () => {
    const c = capture();
    try {
      expect(await main(['frobnicate'])).not.toBe(0);
    } finally {
      c.restore();
    }
    expect(c.err).toMatch(/unknown command/);
  });

  test('rm conformance prints a line per case and the closing count', async () => {
    const c = capture();
    let code: number;
    try {
      code = await main(['rm', 'conformance', '--target', 'builtin', '--filter', '^framing\\.']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const lines = c.out.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^\d+ passed, 0 failed$/);
    expect(lines.slice(0, -1).every((l) => l.startsWith('PASS framing.'))).toBe(true);
  });
});
