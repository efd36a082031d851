// Shape of the RM conformance suite: unique ids, every case described, and the exact result
// and summary line formats the CLI prints (src/conformance/index.ts).
import { describe, test, expect } from 'vitest';
import {
  RM_CONFORMANCE_CASES,
  formatResultLine,
  formatSummary,
  type CaseResult,
} from '../../src/conformance/index.js';

describe('RM_CONFORMANCE_CASES', () => {
  test('ids are unique', () => {
    const ids = RM_CONFORMANCE_CASES.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('every case has a group, a title and an id of the form group.slug', () => {
    for (const c of RM_CONFORMANCE_CASES) {
      expect(c.group, c.id).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(c.title.trim().length, c.id).toBeGreaterThan(10);
      expect(c.title, c.id).not.toMatch(/\n/);
      expect(c.id.startsWith(`${c.group}.`), c.id).toBe(true);
      expect(c.id, c.id).toMatch(/^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$/);
      expect(typeof c.run).toBe('function');
      for (const n of c.needs ?? []) expect(n).toBe('control');
    }
  });

  test('covers the groups of the brief', () => {
    const groups = new Set(RM_CONFORMANCE_CASES.map((c) => c.group));
    for (const g of ['framing', 'fragmentation', 'vm', 'lifecycle', 'guest']) expect(groups.has(g), g).toBe(true);
  });

  test('cases that use the seeded parcel declare control', () => {
    for (const id of ['lifecycle.full', 'vm.ownership', 'guest.exit', 'fragmentation.fragmented-reply']) {
      const c = RM_CONFORMANCE_CASES.find((x) => x.id === id);
      expect(c?.needs, id).toContain('control');
    }
  });
});

describe('formatSummary', () => {
  test('passed and failed, no skipped suffix when none were skipped', () => {
    expect(formatSummary({ passed: 3, failed: 1, skipped: 0 })).toBe('3 passed, 1 failed');
    expect(formatSummary({ passed: 0, failed: 0, skipped: 0 })).toBe('0 passed, 0 failed');
  });
  test('skipped appended when > 0', () => {
    expect(formatSummary({ passed: 3, failed: 1, skipped: 2 })).toBe('3 passed, 1 failed, 2 skipped');
  });
});

describe('formatResultLine', () => {
  const base = { id: 'framing.x', group: 'framing', title: 'a title', notes: [], durationMs: 1 } as const;
  test('one line per status, with the reason for failures and skips', () => {
    expect(formatResultLine({ ...base, status: 'pass' })).toBe('PASS framing.x: a title');
    expect(formatResultLine({ ...base, status: 'fail', reason: 'expected 0x14, got 0x0' })).toBe(
      'FAIL framing.x: a title — expected 0x14, got 0x0',
    );
    expect(formatResultLine({ ...base, status: 'skip', reason: 'needs control' })).toBe('SKIP framing.x: a title — needs control');
  });
  test('notes are appended and newlines flattened', () => {
    const r: CaseResult = { ...base, status: 'fail', reason: 'line one\nline two', notes: ['left VMID 0x80'] };
    const line = formatResultLine(r);
    expect(line).not.toMatch(/\n/);
    expect(line).toBe('FAIL framing.x: a title — line one line two [note: left VMID 0x80]');
  });
});
