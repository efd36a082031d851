/**
 * SCMI Base protocol (0x10) through the backend: every message of scmi-virtio.md §9.2 and the
 * common messages of §9.1, as the host (trusted) and as a VM agent, with golden request and
 * response bytes typed by hand (platform values from test/scmi/support/core.ts). The
 * permission messages' effects are in policy.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ScmiProtocolId } from '../../src/scmi/api.js';
import { ScmiBackend } from '../../src/scmi/backend.js';
import { ask, coreBackend, corePlatform, norm, zeros } from './support/core.js';

function setup() {
  const b = coreBackend();
  const vm = b.openAgent({ agentId: 7, name: 'vm-a', vmid: 3, devices: [0], protocols: [ScmiProtocolId.CLOCK, ScmiProtocolId.VOLTAGE] });
  return { b, host: b.host, vm };
}

describe('Base common messages (§9.1)', () => {
  it('PROTOCOL_VERSION is 2.0', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '00 40 00 00')).toBe(norm('00 40 00 00 | 00 00 00 00 | 00 00 02 00'));
    expect(ask(b, vm, '00 40 00 00')).toBe(norm('00 40 00 00 | 00 00 00 00 | 00 00 02 00'));
  });

  it('PROTOCOL_MESSAGE_ATTRIBUTES: 0 for implemented messages, NOT_FOUND for the others', () => {
    const { b, host } = setup();
    for (const id of ['00', '01', '02', '03', '04', '05', '06', '07', '09', '0a', '0b', '10']) {
      expect(ask(b, host, `02 40 00 00 | ${id} 00 00 00`)).toBe(norm('02 40 00 00 | 00 00 00 00 | 00 00 00 00'));
    }
    // NOTIFY_ERRORS: no P2A channel, so not advertised (§5).
    expect(ask(b, host, '02 40 00 00 | 08 00 00 00')).toBe(norm('02 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '02 40 00 00 | 0c 00 00 00')).toBe(norm('02 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '02 40 00 00 | 00 01 00 00')).toBe(norm('02 40 00 00 fc ff ff ff'));
    // Too short: PROTOCOL_ERROR.
    expect(ask(b, host, '02 40 00 00 | 06 00')).toBe(norm('02 40 00 00 f6 ff ff ff'));
  });

  it('NEGOTIATE_PROTOCOL_VERSION: the implemented version only; recorded per agent', () => {
    const { b, host, vm } = setup();
    expect(ask(b, vm, '10 40 00 00 | 00 00 02 00')).toBe(norm('10 40 00 00 00 00 00 00'));
    expect(b.negotiatedVersion(7, 0x10)).toBe(0x20000);
    expect(b.negotiatedVersion(1, 0x10)).toBeUndefined();
    expect(ask(b, host, '10 40 00 00 | 00 00 03 00')).toBe(norm('10 40 00 00 ff ff ff ff'));
    expect(ask(b, host, '10 40 00 00 | 00 00 01 00')).toBe(norm('10 40 00 00 ff ff ff ff'));
    expect(ask(b, host, '10 40 00 00')).toBe(norm('10 40 00 00 f6 ff ff ff'));
  });
});

describe('Base PROTOCOL_ATTRIBUTES (0x1)', () => {
  it('the host counts all six protocols and every live agent', () => {
    const { b, host } = setup();
    expect(ask(b, host, '01 40 00 00')).toBe(norm('01 40 00 00 | 00 00 00 00 | 06 02 00 00'));
  });

  it('a VM counts only its protocols, and only itself as agent', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '01 40 00 00')).toBe(norm('01 40 00 00 | 00 00 00 00 | 02 01 00 00'));
  });

  it('num_agents follows agents coming and going', () => {
    const { b, host } = setup();
    const vm2 = b.openAgent({ agentId: 9, name: 'vm-b', devices: [], protocols: [] });
    expect(ask(b, host, '01 40 00 00')).toBe(norm('01 40 00 00 | 00 00 00 00 | 06 03 00 00'));
    expect(ask(b, vm2, '01 40 00 00')).toBe(norm('01 40 00 00 | 00 00 00 00 | 00 01 00 00'));
    b.closeAgent(vm2);
    expect(ask(b, host, '01 40 00 00')).toBe(norm('01 40 00 00 | 00 00 00 00 | 06 02 00 00'));
  });
});

describe('Base discovery (0x3–0x7)', () => {
  it('DISCOVER_VENDOR and DISCOVER_SUB_VENDOR: name[16], NUL-padded', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '03 40 00 00')).toBe(norm('03 40 00 00 | 00 00 00 00 | 73 63 6d 69 2d 63 6f 72 65 2d 74 65 73 74 00 00'));
    expect(ask(b, vm, '04 40 00 00')).toBe(norm(`04 40 00 00 | 00 00 00 00 | 73 75 62 ${zeros(13)}`));
  });

  it('a 15-character vendor keeps its terminating NUL', () => {
    const b = new ScmiBackend({ platform: { ...corePlatform(), vendor: 'abcdefghijklmno' } });
    expect(ask(b, b.host, '03 40 00 00')).toBe(norm('03 40 00 00 | 00 00 00 00 | 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 00'));
  });

  it('DISCOVER_IMPLEMENTATION_VERSION', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '05 40 00 00')).toBe(norm('05 40 00 00 | 00 00 00 00 | 04 03 02 01'));
  });

  it('ignores parameter bytes a message does not use', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '05 40 00 00 | de ad be ef')).toBe(norm('05 40 00 00 | 00 00 00 00 | 04 03 02 01'));
  });

  it('DISCOVER_LIST_PROTOCOLS packs four ids per word, lowest byte first (§6 example header, token 1)', () => {
    const { b, host } = setup();
    expect(ask(b, host, '06 40 04 00 | 00 00 00 00')).toBe(norm('06 40 04 00 | 00 00 00 00 | 06 00 00 00 | 11 13 14 15 | 16 17 00 00'));
  });

  it('DISCOVER_LIST_PROTOCOLS honours skip; skip = count returns none; beyond → INVALID_PARAMETERS', () => {
    const { b, host } = setup();
    expect(ask(b, host, '06 40 00 00 | 04 00 00 00')).toBe(norm('06 40 00 00 | 00 00 00 00 | 02 00 00 00 | 16 17 00 00'));
    expect(ask(b, host, '06 40 00 00 | 05 00 00 00')).toBe(norm('06 40 00 00 | 00 00 00 00 | 01 00 00 00 | 17 00 00 00'));
    expect(ask(b, host, '06 40 00 00 | 06 00 00 00')).toBe(norm('06 40 00 00 | 00 00 00 00 | 00 00 00 00'));
    expect(ask(b, host, '06 40 00 00 | 07 00 00 00')).toBe(norm('06 40 00 00 fe ff ff ff'));
    expect(ask(b, host, '06 40 00 00')).toBe(norm('06 40 00 00 f6 ff ff ff'));
  });

  it('DISCOVER_LIST_PROTOCOLS lists only the protocols a VM was given', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '06 40 00 00 | 00 00 00 00')).toBe(norm('06 40 00 00 | 00 00 00 00 | 02 00 00 00 | 14 17 00 00'));
    expect(ask(b, vm, '06 40 00 00 | 02 00 00 00')).toBe(norm('06 40 00 00 | 00 00 00 00 | 00 00 00 00'));
  });

  it('DISCOVER_AGENT: 0 is the platform, 0xFFFFFFFF the caller', () => {
    const { b, host, vm } = setup();
    const platform = `00 00 00 00 | 70 6c 61 74 66 6f 72 6d ${zeros(8)}`;
    expect(ask(b, vm, '07 40 00 00 | 00 00 00 00')).toBe(norm(`07 40 00 00 | 00 00 00 00 | ${platform}`));
    expect(ask(b, host, '07 40 00 00 | 00 00 00 00')).toBe(norm(`07 40 00 00 | 00 00 00 00 | ${platform}`));
    expect(ask(b, vm, '07 40 00 00 | ff ff ff ff')).toBe(norm(`07 40 00 00 | 00 00 00 00 | 07 00 00 00 | 76 6d 2d 61 ${zeros(12)}`));
    expect(ask(b, host, '07 40 00 00 | ff ff ff ff')).toBe(norm(`07 40 00 00 | 00 00 00 00 | 01 00 00 00 | 68 6f 73 74 ${zeros(12)}`));
  });

  it('DISCOVER_AGENT: the host finds every live agent, a VM only itself', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '07 40 00 00 | 07 00 00 00')).toBe(norm(`07 40 00 00 | 00 00 00 00 | 07 00 00 00 | 76 6d 2d 61 ${zeros(12)}`));
    expect(ask(b, vm, '07 40 00 00 | 07 00 00 00')).toBe(norm(`07 40 00 00 | 00 00 00 00 | 07 00 00 00 | 76 6d 2d 61 ${zeros(12)}`));
    expect(ask(b, vm, '07 40 00 00 | 01 00 00 00')).toBe(norm('07 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '07 40 00 00 | 05 00 00 00')).toBe(norm('07 40 00 00 fc ff ff ff'));
    const vm2 = b.openAgent({ agentId: 9, name: 'vm-b', devices: [], protocols: [] });
    expect(ask(b, vm, '07 40 00 00 | 09 00 00 00')).toBe(norm('07 40 00 00 fc ff ff ff'));
    expect(ask(b, vm2, '07 40 00 00 | 07 00 00 00')).toBe(norm('07 40 00 00 fc ff ff ff'));
    b.closeAgent(vm2);
    expect(ask(b, host, '07 40 00 00 | 09 00 00 00')).toBe(norm('07 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '07 40 00 00')).toBe(norm('07 40 00 00 f6 ff ff ff'));
  });
});

describe('Base messages refused', () => {
  it('NOTIFY_ERRORS (0x8) → NOT_SUPPORTED without P2A', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '08 40 00 00 | 01 00 00 00')).toBe(norm('08 40 00 00 ff ff ff ff'));
    expect(ask(b, vm, '08 40 00 00 | 00 00 00 00')).toBe(norm('08 40 00 00 ff ff ff ff'));
  });

  it('the permission messages (0x9–0xB) are DENIED to a VM agent, even when short', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '09 40 00 00 | 07 00 00 00 | 01 00 00 00 | 01 00 00 00')).toBe(norm('09 40 00 00 fd ff ff ff'));
    expect(ask(b, vm, '0a 40 00 00 | 07 00 00 00 | 00 00 00 00 | 11 00 00 00 | 01 00 00 00')).toBe(norm('0a 40 00 00 fd ff ff ff'));
    expect(ask(b, vm, '0b 40 00 00 | 07 00 00 00 | 01 00 00 00')).toBe(norm('0b 40 00 00 fd ff ff ff'));
    expect(ask(b, vm, '0b 40 00 00')).toBe(norm('0b 40 00 00 fd ff ff ff'));
  });

  it('the permission messages from the host with short parameters → PROTOCOL_ERROR', () => {
    const { b, host } = setup();
    expect(ask(b, host, '09 40 00 00 | 07 00 00 00 | 01 00 00 00')).toBe(norm('09 40 00 00 f6 ff ff ff'));
    expect(ask(b, host, '0a 40 00 00 | 07 00 00 00 | 00 00 00 00 | 11 00 00 00')).toBe(norm('0a 40 00 00 f6 ff ff ff'));
    expect(ask(b, host, '0b 40 00 00 | 07 00 00 00')).toBe(norm('0b 40 00 00 f6 ff ff ff'));
  });

  it('message IDs past the table → NOT_SUPPORTED', () => {
    const { b, host } = setup();
    expect(ask(b, host, '0c 40 00 00')).toBe(norm('0c 40 00 00 ff ff ff ff'));
    expect(ask(b, host, 'ff 40 00 00')).toBe(norm('ff 40 00 00 ff ff ff ff'));
  });
});

describe('Linux probe order (§9.2)', () => {
  it('a VM walks the Base probe with rising tokens and gets consistent answers', () => {
    const { b, vm } = setup();
    // PROTOCOL_VERSION (token 0), PROTOCOL_ATTRIBUTES (1), DISCOVER_VENDOR (2), SUB_VENDOR (3),
    // IMPLEMENTATION_VERSION (4), LIST_PROTOCOLS skip 0 (5) then skip 2 (6), DISCOVER_AGENT(−1) (7),
    // DISCOVER_AGENT(0) (8): num_agents is 1, so Linux asks id 0 only.
    expect(ask(b, vm, '00 40 00 00')).toBe(norm('00 40 00 00 | 00 00 00 00 | 00 00 02 00'));
    expect(ask(b, vm, '01 40 04 00')).toBe(norm('01 40 04 00 | 00 00 00 00 | 02 01 00 00'));
    expect(ask(b, vm, '03 40 08 00')).toBe(norm('03 40 08 00 | 00 00 00 00 | 73 63 6d 69 2d 63 6f 72 65 2d 74 65 73 74 00 00'));
    expect(ask(b, vm, '04 40 0c 00')).toBe(norm(`04 40 0c 00 | 00 00 00 00 | 73 75 62 ${zeros(13)}`));
    expect(ask(b, vm, '05 40 10 00')).toBe(norm('05 40 10 00 | 00 00 00 00 | 04 03 02 01'));
    expect(ask(b, vm, '06 40 14 00 | 00 00 00 00')).toBe(norm('06 40 14 00 | 00 00 00 00 | 02 00 00 00 | 14 17 00 00'));
    expect(ask(b, vm, '06 40 18 00 | 02 00 00 00')).toBe(norm('06 40 18 00 | 00 00 00 00 | 00 00 00 00'));
    expect(ask(b, vm, '07 40 1c 00 | ff ff ff ff')).toBe(norm(`07 40 1c 00 | 00 00 00 00 | 07 00 00 00 | 76 6d 2d 61 ${zeros(12)}`));
    expect(ask(b, vm, '07 40 20 00 | 00 00 00 00')).toBe(norm(`07 40 20 00 | 00 00 00 00 | 00 00 00 00 | 70 6c 61 74 66 6f 72 6d ${zeros(8)}`));
  });
});
