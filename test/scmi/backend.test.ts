/**
 * ScmiBackend (src/scmi/backend.ts): construction from a protocol list, agents opened and closed
 * (argument checks, EINVAL with nothing added, release of votes on close), protocol hooks,
 * handler failures contained, the default platform and protocol set, and a property test: any
 * request bytes give a well-formed reply with the header echoed (scmi-virtio.md §5, §6, §12).
 */
import { describe, expect, it } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import type { ScmiAgent, ScmiProtocol, ScmiReply } from '../../src/scmi/api.js';
import { RESOURCE_PROTOCOL, SCMI_MAX_PAYLOAD, ScmiProtocolId, ScmiStatus } from '../../src/scmi/api.js';
import { ScmiBackend } from '../../src/scmi/backend.js';
import { defaultPlatform } from '../../src/scmi/default-platform.js';
import { clockProtocol } from '../../src/scmi/protocols/clock.js';
import { defaultProtocols } from '../../src/scmi/protocols/index.js';
import { isErrnoError } from '../../src/shared/errno.js';
import type { ErrnoName } from '../../src/shared/errno.js';
import { ask, coreBackend, corePlatform, hex, norm } from './support/core.js';

function errno(f: () => unknown): ErrnoName | undefined {
  try {
    f();
  } catch (e) {
    if (isErrnoError(e)) return e.code;
    throw e;
  }
  return undefined;
}

/** A vendor protocol (0x80) whose handler misbehaves on request, for containment tests. */
function vendorProtocol(log: string[]): ScmiProtocol {
  const messages = new Map<number, number>([
    [0x0, 0],
    [0x1, 0],
    [0x2, 0],
    [0x3, 0x55],
    [0x4, 0],
    [0x5, 0],
    [0x6, 0],
    [0x10, 0],
  ]);
  return {
    id: 0x80,
    version: 0x0001_0002,
    messages,
    handle(call): ScmiReply {
      switch (call.header.messageId) {
        case 0x1:
          return { status: ScmiStatus.SUCCESS, payload: hex('aa bb cc dd') };
        case 0x3:
          throw new Error('handler bug');
        case 0x4:
          return { status: ScmiStatus.SUCCESS, payload: new Uint8Array(SCMI_MAX_PAYLOAD + 1) };
        case 0x5:
          return { status: 7 as 0 };
        case 0x6:
          return { status: ScmiStatus.SUCCESS, payload: new Uint8Array(SCMI_MAX_PAYLOAD) };
        case 0x10:
          // Accepts 1.0 as well as 1.2.
          return call.params[2] === 1 && call.params[3] === 0 && call.params[0]! <= 2 && call.params[1] === 0
            ? { status: ScmiStatus.SUCCESS }
            : { status: ScmiStatus.NOT_SUPPORTED };
        default:
          return { status: ScmiStatus.NOT_SUPPORTED };
      }
    },
    open(agent: ScmiAgent) {
      log.push(`open ${agent.agentId}`);
    },
    close(agent: ScmiAgent) {
      log.push(`close ${agent.agentId}`);
    },
  };
}

describe('construction', () => {
  it('defaults: the default platform and all seven protocols', () => {
    const b = new ScmiBackend();
    expect(b.protocolIds()).toEqual([0x10, 0x11, 0x13, 0x14, 0x15, 0x16, 0x17]);
    expect(b.agents().map((a) => [a.agentId, a.name, a.trusted])).toEqual([[1, 'host', true]]);
    expect(b.platform.desc.clocks.length).toBe(5);
  });

  it('serves exactly the protocol list it is given (plus Base)', () => {
    const b = new ScmiBackend({ platform: corePlatform(), protocols: [clockProtocol()] });
    expect(b.protocolIds()).toEqual([0x10, 0x14]);
    expect(ask(b, b.host, '06 40 00 00 | 00 00 00 00')).toBe(norm('06 40 00 00 | 00 00 00 00 | 01 00 00 00 | 14 00 00 00'));
    expect(ask(b, b.host, '00 5c 00 00')).toBe(norm('00 5c 00 00 ff ff ff ff'));
    expect(errno(() => b.openAgent({ agentId: 2, name: 'vm', devices: [], protocols: [ScmiProtocolId.VOLTAGE] }))).toBe('EINVAL');
  });

  it('refuses Base in the list, a protocol twice, a bad platform', () => {
    const base = { id: 0x10, version: 0, messages: new Map(), handle: () => ({ status: ScmiStatus.SUCCESS }) } as ScmiProtocol;
    expect(() => new ScmiBackend({ protocols: [base] })).toThrow(TypeError);
    expect(() => new ScmiBackend({ protocols: [clockProtocol(), clockProtocol()] })).toThrow(TypeError);
    expect(() => new ScmiBackend({ platform: { ...corePlatform(), subVendor: '' } })).toThrow(TypeError);
    expect(() => new ScmiBackend({ hostName: 'a name that is too long' })).toThrow(TypeError);
  });

  it('two backends share nothing', () => {
    const b1 = coreBackend();
    const b2 = coreBackend();
    ask(b1, b1.host, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    expect(b1.platform.clockAggregate(0).enabled).toBe(true);
    expect(b2.platform.clockAggregate(0).enabled).toBe(false);
    expect(errno(() => b2.dispatch(b1.host, hex('00 40 00 00')))).toBe('EINVAL');
  });
});

describe('openAgent / closeAgent', () => {
  it('EINVAL for a bad ID, name, vmid, device or protocol, with nothing added', () => {
    const b = coreBackend();
    b.openAgent({ agentId: 5, name: 'vm-a', devices: [], protocols: [] });
    const bad = [
      { agentId: 0, name: 'x' },
      { agentId: 1, name: 'x' },
      { agentId: 5, name: 'x' },
      { agentId: 0xffff_ffff, name: 'x' },
      { agentId: 2.5, name: 'x' },
      { agentId: 6, name: '' },
      { agentId: 6, name: 'sixteen-chars-xx' },
      { agentId: 6, name: 'caf\u00e9' },
      { agentId: 6, name: 'x', vmid: -1 },
      { agentId: 6, name: 'x', vmid: 0x10000 },
      { agentId: 6, name: 'x', devices: [7] },
      { agentId: 6, name: 'x', protocols: [0x12] },
    ];
    for (const spec of bad) {
      expect(errno(() => b.openAgent({ devices: [], protocols: [], ...spec }))).toBe('EINVAL');
    }
    expect(b.agents().map((a) => a.agentId)).toEqual([1, 5]);
  });

  it('the largest ID and a 15-character name are fine; Base in the protocol list is ignored', () => {
    const b = coreBackend();
    const h = b.openAgent({ agentId: 0xffff_fffe, name: 'fifteen-chars-x', vmid: 0xffff, devices: [], protocols: [0x10] });
    expect(h.agent.protocols()).toEqual([]);
    expect(ask(b, h, '07 40 00 00 | ff ff ff ff')).toBe(
      norm('07 40 00 00 | 00 00 00 00 | fe ff ff ff | 66 69 66 74 65 65 6e 2d 63 68 61 72 73 2d 78 00'),
    );
  });

  it('close releases every vote, is idempotent, and frees the ID', () => {
    const b = coreBackend();
    const vm = b.openAgent({ agentId: 2, name: 'vm', devices: [0, 1, 2], protocols: [0x11, 0x13, 0x14, 0x17] });
    ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    ask(b, vm, '05 5c 00 00 | 00 00 00 00 | 07 00 00 00');
    b.platform.powerSet(2, 0, true);
    b.platform.perfSetLevel(2, 0, 1);
    b.closeAgent(vm);
    expect(vm.closed).toBe(true);
    expect(b.platform.voters('clock', 0)).toEqual([]);
    expect(b.platform.voters('voltage', 0)).toEqual([]);
    expect(b.platform.powerAggregate(0)).toBe(false);
    expect(b.platform.voters('perf', 0)).toEqual([]);
    b.closeAgent(vm);
    expect(errno(() => b.dispatch(vm, hex('00 40 00 00')))).toBe('EBADF');
    const again = b.openAgent({ agentId: 2, name: 'vm-again', devices: [], protocols: [] });
    expect(again.agentId).toBe(2);
  });

  it('the host cannot be closed and its votes outlive every VM', () => {
    const b = coreBackend();
    expect(errno(() => b.closeAgent(b.host))).toBe('EINVAL');
    const vm = b.openAgent({ agentId: 2, name: 'vm', devices: [1], protocols: [0x14] });
    b.closeAgent(vm);
    expect(b.platform.voters('clock', 1)).toEqual([1]);
  });

  it('calls each protocol’s open and close hooks', () => {
    const log: string[] = [];
    const b = new ScmiBackend({ platform: corePlatform(), protocols: [vendorProtocol(log)] });
    const vm = b.openAgent({ agentId: 4, name: 'vm', devices: [], protocols: [0x80] });
    b.closeAgent(vm);
    expect(log).toEqual(['open 1', 'open 4', 'close 4']);
  });
});

describe('dispatch', () => {
  function vendor() {
    const log: string[] = [];
    const b = new ScmiBackend({ platform: corePlatform(), protocols: [vendorProtocol(log), clockProtocol()] });
    const vm = b.openAgent({ agentId: 4, name: 'vm', devices: [], protocols: [0x80] });
    return { b, vm };
  }

  it('a vendor protocol: version, attributes, message attributes', () => {
    const { b, vm } = vendor();
    // Protocol 0x80: header 0x00020000.
    expect(ask(b, vm, '00 00 02 00')).toBe(norm('00 00 02 00 | 00 00 00 00 | 02 00 01 00'));
    expect(ask(b, vm, '01 00 02 00')).toBe(norm('01 00 02 00 | 00 00 00 00 | aa bb cc dd'));
    expect(ask(b, vm, '02 00 02 00 | 03 00 00 00')).toBe(norm('02 00 02 00 | 00 00 00 00 | 55 00 00 00'));
    expect(ask(b, vm, '02 00 02 00 | 07 00 00 00')).toBe(norm('02 00 02 00 fc ff ff ff'));
    expect(ask(b, vm, '07 00 02 00')).toBe(norm('07 00 02 00 ff ff ff ff'));
    expect(ask(b, vm, '06 00 02 00').split(' ').length).toBe(8 + SCMI_MAX_PAYLOAD);
  });

  it('NEGOTIATE_PROTOCOL_VERSION goes to a protocol that lists 0x10, and is recorded', () => {
    const { b, vm } = vendor();
    expect(ask(b, vm, '10 00 02 00 | 00 00 01 00')).toBe(norm('10 00 02 00 00 00 00 00'));
    expect(b.negotiatedVersion(4, 0x80)).toBe(0x10000);
    expect(ask(b, vm, '10 00 02 00 | 03 00 01 00')).toBe(norm('10 00 02 00 ff ff ff ff'));
    expect(b.negotiatedVersion(4, 0x80)).toBe(0x10000);
  });

  it('a throwing handler, an oversized payload or a bad status → GENERIC_ERROR, kept in internalErrors', () => {
    const { b, vm } = vendor();
    expect(ask(b, vm, '03 00 02 00')).toBe(norm('03 00 02 00 f8 ff ff ff'));
    expect(ask(b, vm, '04 00 02 00')).toBe(norm('04 00 02 00 f8 ff ff ff'));
    expect(ask(b, vm, '05 00 02 00')).toBe(norm('05 00 02 00 f8 ff ff ff'));
    expect(b.internalErrors.map((e) => e.header)).toEqual([0x00020003, 0x00020004, 0x00020005]);
    expect(String(b.internalErrors[0]!.error)).toMatch(/handler bug/);
  });

  it('a VM without the clock protocol: NOT_SUPPORTED even for PROTOCOL_VERSION', () => {
    const { b, vm } = vendor();
    expect(ask(b, vm, '00 50 00 00')).toBe(norm('00 50 00 00 ff ff ff ff'));
  });
});

describe('the default platform', () => {
  it('every listed protocol answers its version and attributes for the host', () => {
    const b = new ScmiBackend({ platform: defaultPlatform(), protocols: defaultProtocols() });
    for (const id of b.protocolIds()) {
      const hdr = (msg: number) => {
        const w = msg | (id << 10);
        return new Uint8Array([w & 0xff, (w >> 8) & 0xff, (w >> 16) & 0xff, (w >> 24) & 0xff]);
      };
      const v = b.dispatch(b.host, hdr(0));
      expect(v.length, `protocol 0x${id.toString(16)}`).toBe(12);
      expect(new DataView(v.buffer).getInt32(4, true)).toBe(0);
      const a = b.dispatch(b.host, hdr(1));
      expect(new DataView(a.buffer).getInt32(4, true)).toBe(0);
    }
    expect(b.internalErrors).toEqual([]);
  });

  it('a VM given the GPU device sees one clock, one regulator, one of each domain and one sensor', () => {
    const b = new ScmiBackend();
    const vm = b.openAgent({ agentId: 2, name: 'vm', devices: [2], protocols: [0x11, 0x13, 0x14, 0x15, 0x16, 0x17] });
    for (const kind of Object.keys(RESOURCE_PROTOCOL) as (keyof typeof RESOURCE_PROTOCOL)[]) {
      expect(vm.agent.resources(kind).length, kind).toBe(1);
    }
    // The GPU clock runs at the host's 200 MHz: CLOCK_RATE_GET for the VM's clock 0.
    expect(ask(b, vm, '06 50 00 00 | 00 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | 00 c2 eb 0b 00 00 00 00'));
  });
});

// ── property: any bytes, a well-formed reply ───────────────────────────────────────────────

const VALID = new Set<number>(Object.values(ScmiStatus));

const wordArb = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 7, 0x10, 0xff, 0x8000_0001, 0xffff_ffff),
  fc.integer({ min: 0, max: 40 }),
  fc.nat().map((n) => n >>> 0),
);

/** Plausible requests (a header with a known protocol and small message ID) or raw bytes. */
const requestArb = fc.oneof(
  fc.uint8Array({ maxLength: 48 }),
  fc
    .record({
      msg: fc.integer({ min: 0, max: 0x12 }),
      type: fc.constantFrom(0, 0, 0, 0, 1, 2, 3),
      proto: fc.constantFrom(0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x80, 0xff),
      token: fc.integer({ min: 0, max: 0x3ff }),
      reserved: fc.constantFrom(0, 0, 0, 0xf),
      words: fc.array(wordArb, { maxLength: 6 }),
      tail: fc.uint8Array({ maxLength: 3 }),
    })
    .map(({ msg, type, proto, token, reserved, words, tail }) => {
      const out = new Uint8Array(4 + 4 * words.length + tail.length);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, (msg + type * 0x100 + proto * 0x400 + token * 0x40000 + reserved * 0x1000_0000) >>> 0, true);
      words.forEach((w, i) => dv.setUint32(4 + 4 * i, w >>> 0, true));
      out.set(tail, 4 + 4 * words.length);
      return out;
    }),
);

describe('any request bytes', () => {
  fcTest.prop([fc.array(fc.tuple(fc.boolean(), requestArb), { minLength: 1, maxLength: 60 })], { numRuns: 300 })(
    'never throw, give a well-formed reply echoing the header, and closing the VM leaves none of its votes',
    (batch) => {
      const b = new ScmiBackend();
      const vm = b.openAgent({ agentId: 7, name: 'vm', devices: [0, { id: 2, readOnly: true }, 5], protocols: [0x11, 0x13, 0x14, 0x15, 0x16, 0x17] });
      for (const [fromHost, req] of batch) {
        const reply = b.dispatch(fromHost ? b.host : vm, req);
        expect(reply.length).toBeGreaterThanOrEqual(8);
        for (let i = 0; i < 4; i++) expect(reply[i]).toBe(req[i] ?? 0);
        const status = new DataView(reply.buffer, reply.byteOffset).getInt32(4, true);
        expect(VALID.has(status)).toBe(true);
        if (status !== 0) expect(reply.length).toBe(8);
        expect(reply.length - 8).toBeLessThanOrEqual(SCMI_MAX_PAYLOAD);
      }
      expect(b.internalErrors).toEqual([]);
      b.closeAgent(vm);
      for (const [kind, list] of [
        ['clock', b.platform.desc.clocks],
        ['voltage', b.platform.desc.voltages],
        ['power', b.platform.desc.powerDomains],
        ['perf', b.platform.desc.perfDomains],
      ] as const) {
        list.forEach((_, i) => expect(b.platform.voters(kind, i)).not.toContain(7));
      }
    },
  );
});
