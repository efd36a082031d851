// Coverage of the golden vectors against the catalogue (rm-rpc.md §11, §13): every request
// message has a request vector, every reply that carries data has an OK reply vector, every
// notification has a vector, and every hand-typed msg_id equals the catalogue's ID.
import { describe, test, expect } from 'vitest';
import { RM_CATALOGUE, RM_NOTIFICATIONS } from '../../src/rm-rpc/wire/catalogue.js';
import { STANDARD_REPLY } from '../../src/rm-rpc/wire/codec.js';
import type { RmMsgName, RmNotifName } from '../../src/rm-rpc/wire/msg-ids.js';
import { ALL_FRAGMENTED, ALL_SINGLE_FRAME } from './all-vectors.js';

const ALL = [...ALL_SINGLE_FRAME, ...ALL_FRAGMENTED];
const REQUEST_NAMES = Object.keys(RM_CATALOGUE) as RmMsgName[];
const NOTIF_NAMES = Object.keys(RM_NOTIFICATIONS) as RmNotifName[];
const DATA_REPLY_NAMES = REQUEST_NAMES.filter((n) => RM_CATALOGUE[n].reply !== STANDARD_REPLY);

describe('every catalogue request has a request vector', () => {
  test.each(REQUEST_NAMES)('%s', (name) => {
    const vs = ALL.filter((v) => v.msg === name && v.type === 'request');
    expect(vs.length).toBeGreaterThan(0);
    for (const v of vs) expect(v.codec).toBe(RM_CATALOGUE[name].req);
  });
});

describe('every reply with data has an OK reply vector using the catalogue reply codec', () => {
  test.each(DATA_REPLY_NAMES)('%s', (name) => {
    const vs = ALL.filter((v) => v.msg === name && v.type === 'reply' && v.err === 0 && v.codec === RM_CATALOGUE[name].reply);
    expect(vs.length).toBeGreaterThan(0);
  });
});

describe('every notification has a vector', () => {
  test.each(NOTIF_NAMES)('%s', (name) => {
    const vs = ALL.filter((v) => v.msg === name && v.type === 'notification');
    expect(vs.length).toBeGreaterThan(0);
    for (const v of vs) expect(v.codec).toBe(RM_NOTIFICATIONS[name].payload);
  });
});

describe('vector tables', () => {
  test('hand-typed msg_ids equal the catalogue IDs (msg-ids.ts against the sheet)', () => {
    const wrong = ALL.flatMap((v) => {
      const id = v.type === 'notification' ? RM_NOTIFICATIONS[v.msg as RmNotifName].id : RM_CATALOGUE[v.msg as RmMsgName].id;
      return id === v.msgId ? [] : [`${v.name}: vector 0x${v.msgId.toString(16)}, catalogue 0x${id.toString(16)}`];
    });
    expect(wrong).toEqual([]);
  });

  test('names are unique', () => {
    const names = ALL.map((v) => v.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  test('every vector names the reference section it was typed from', () => {
    for (const v of ALL) expect(v.ref).toMatch(/^(rm-rpc|hypervisor)\.md §\d/);
  });

  test('no frame exceeds 240 bytes (rm-rpc.md §4)', () => {
    for (const v of ALL_SINGLE_FRAME) expect(v.bytes.length).toBeLessThanOrEqual(240);
    for (const v of ALL_FRAGMENTED) for (const f of v.frames) expect(f.length).toBeLessThanOrEqual(240);
  });

  test('notification IDs have bit 20 set, request IDs do not (rm-rpc.md §7)', () => {
    for (const v of ALL) expect(((v.msgId >>> 20) & 1) === 1).toBe(v.type === 'notification');
  });
});
