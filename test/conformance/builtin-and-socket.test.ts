// The RM conformance suite against the builtin RM: in process, over a Unix socket and over
// loopback TCP (`gunyah-emu rm serve`). It must pass completely on all three.
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmulator } from '../../src/emulator.js';
import { runConformance, formatResultLine, formatSummary } from '../../src/conformance/index.js';
import { builtinTarget, socketTarget } from '../../src/conformance/targets.js';
import { serveRm } from '../../src/cli/rm-serve.js';

const dir = mkdtempSync(join(tmpdir(), 'gunyah-emu-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectAllPass(run: Awaited<ReturnType<typeof runConformance>>) {
  const failures = run.results.filter((r) => r.status !== 'pass').map(formatResultLine);
  expect(failures).toEqual([]);
  expect(run.passed).toBeGreaterThanOrEqual(40);
  expect(formatSummary(run)).toBe(`${run.passed} passed, 0 failed`);
}

describe('RM conformance against the builtin RM', () => {
  test('in process', async () => {
    const target = builtinTarget();
    await expectAllPass(await runConformance(target));
    expect(target.emulator.checkInvariants()).toEqual([]);
    await target.close();
  });

  test.each([
    ['unix socket', { path: join(dir, 'rm.sock') }],
    ['loopback tcp', { host: '127.0.0.1', port: 0 }],
  ] as const)('over a %s', async (_name, where) => {
    const emu = createEmulator();
    const server = await serveRm(emu, where);
    const target = await socketTarget(server.target);
    expect(target.control).toBeDefined();
    await expectAllPass(await runConformance(target));
    await target.close();
    await server.close();
    // Every connection released the host link: the host kernel's client is back.
    expect(() => emu.rmClient).not.toThrow();
    expect(emu.checkInvariants()).toEqual([]);
    emu.close();
  });
});
