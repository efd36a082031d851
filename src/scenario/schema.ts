/**
 * The JSON schema of scenario files (draft-07, validated with ajv). Enumerations are built
 * from the modules that own the names (values.ts), so the schema cannot drift from the emulator.
 * Every node that can fail carries an `expected` annotation: the text an error message shows as
 * "expected …" (validate.ts). `examples/scenarios/scenario.schema.json` is this object as JSON,
 * for editors (a test keeps the two equal).
 *
 * Reference: docs/scenarios.md (the format); types.ts (the same format as TypeScript types).
 */
import {
  ERRNO_NAMES,
  EXIT_TYPE_NAMES,
  HOLDING_CELL_CMD_NAMES,
  HYPERCALL_NAMES,
  OP_NAMES,
  OS_STATUS_NAMES,
  QUIRK_NAMES,
  RM_ERROR_NAMES,
  RM_MSG_NAMES,
  RM_NOTIF_NAMES,
  RUN_STATUS_NAMES,
  SCMI_STATUS_NAMES,
  VM_STATUS_NAMES,
  BOOT_REGS,
  VCPU_RUN_STATE_NAMES,
} from './values.js';

type Schema = Record<string, unknown>;

const U64_PATTERN = '^(0x[0-9a-fA-F]+(_[0-9a-fA-F]+)*|[0-9]+(_[0-9]+)*)$';
const VALUE_PATTERN = '^-?(0x[0-9a-fA-F]+(_[0-9a-fA-F]+)*|[0-9]+(_[0-9]+)*)$';
const NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,31}$';

const int = (min: number, max: number, expected = `an integer ${min}..${max}`): Schema => ({ type: 'integer', minimum: min, maximum: max, expected });
const str = (expected = 'a string'): Schema => ({ type: 'string', expected });
const bool: Schema = { type: 'boolean', expected: 'true or false' };
const trueOnly: Schema = { const: true, expected: 'true' };
const ref = (name: string): Schema => ({ $ref: `#/$defs/${name}` });
const oneOfNames = (names: readonly string[]): Schema => ({ enum: [...names] });
const nameOrInt = (names: readonly string[], what: string, max = 0xffff_ffff): Schema => ({
  anyOf: [{ enum: [...names] }, { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: max }],
  expected: `${what}: a name (${names.join(', ')}) or an integer`,
});
const list = (items: Schema, min = 0, max = 1024, expected?: string): Schema => ({
  type: 'array',
  items,
  minItems: min,
  maxItems: max,
  expected: expected ?? (min > 0 ? `a list of ${min}..${max} entries` : `a list of at most ${max} entries`),
});

/** An object with exactly these fields (`required` among them). */
function obj(properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema {
  return { type: 'object', properties, required, additionalProperties: false, expected: 'an object', ...extra };
}

/** An object whose `keys` are alternatives: exactly one of them must be present. */
function oneKey(keys: string[], properties: Record<string, Schema>, what: string): Schema {
  return {
    type: 'object',
    properties,
    additionalProperties: false,
    oneOf: keys.map((k) => ({ required: [k] })),
    expected: `${what}: an object with exactly one of ${keys.join(', ')}`,
  };
}

/** A guest-program op: `op` names the builder method (discriminator), the rest are its arguments. */
function op(name: string, props: Record<string, Schema> = {}, required: string[] = []): Schema {
  return obj({ op: { const: name }, ...props }, ['op', ...required]);
}

const OPS: Schema[] = [
  op('load', { addr: ref('u64'), len: ref('accessLen') }, ['addr']),
  op('mmioRead', { addr: ref('u64'), len: ref('accessLen') }, ['addr']),
  op('store', { addr: ref('u64'), len: ref('accessLen'), value: ref('value') }, ['addr', 'len', 'value']),
  op('mmioWrite', { addr: ref('u64'), len: ref('accessLen'), value: ref('value') }, ['addr', 'len', 'value']),
  op('touch', { addr: ref('u64') }, ['addr']),
  op('hvc', { fn: ref('u64'), args: list(ref('value'), 0, 5) }, ['fn']),
  op('psciCpuOn', { target: ref('u64'), entry: ref('u64'), context: ref('value') }, ['target', 'entry']),
  op('systemOff'),
  op('systemReset'),
  op('cpuOff'),
  op('relinquish', { addr: ref('u64'), size: ref('u64'), flags: ref('u64') }, ['addr', 'size', 'flags']),
  op('wfi'),
  op('spin'),
  op('udf'),
  op('expect', { value: ref('value') }, ['value']),
  op('repeat', { count: ref('u64'), body: ref('ops') }, ['count', 'body']),
  op('forever', { body: ref('ops') }, ['body']),
  op('onCpu', { cpu: int(0, 0xffff_ffff), body: ref('ops') }, ['cpu', 'body']),
  op('virtioScmiProbe', { mmioBase: ref('u64'), ringBase: ref('u64'), queueSize: int(2, 32768), p2a: bool }, ['mmioBase', 'ringBase']),
  op(
    'scmiCall',
    {
      protocolId: int(0, 0xff),
      messageId: int(0, 0xff),
      params: list(ref('word'), 0, 32),
      expectStatus: int(-(2 ** 31), 2 ** 32 - 1, 'an SCMI status (s32)'),
      expectPayload: list(ref('word'), 0, 32),
      token: int(0, 0x3ff),
      wait: { enum: ['irq', 'poll'] },
      messageType: int(0, 3),
    },
    ['protocolId', 'messageId'],
  ),
  op('scmiReplyWord', { index: int(0, 31) }, ['index']),
];
const OP_NAMES_LIST = OPS.map((o) => ((o['properties'] as Record<string, { const: string }>)['op']!.const));

const exitMatch = obj({
  vm: ref('name'),
  vcpu: int(0, 63),
  phase: ref('phase'),
  kind: { enum: ['mmio', 'status', 'page-fault', 'unknown', 'unrecognized'] },
  addr: ref('u64'),
  len: int(0, 0xffff_ffff),
  write: bool,
  data: ref('value'),
  supplied: ref('value'),
  device: bool,
  status: nameOrInt(RUN_STATUS_NAMES, 'a STATUS-exit status'),
  exitType: nameOrInt(EXIT_TYPE_NAMES, 'an RM exit type', 0xffff),
  reasonSize: int(0, 0xffff_ffff),
  reason: { type: 'string', pattern: '^([0-9a-fA-F]{2}){0,8}$', expected: 'up to 8 bytes as hex, e.g. "00000000"' },
  attempt: nameOrInt(ERRNO_NAMES, 'an errno'),
  exitReason: int(0, 0xffff_ffff),
});

const vmmAction = obj({
  resume: {
    anyOf: [{ enum: ['HANDLED', 'FAULT', 'RETRY'] }, { type: 'integer', minimum: 0, maximum: 255 }],
    expected: 'a resume action: HANDLED, FAULT, RETRY or a byte 0..255',
  },
  value: ref('value'),
  immediateExit: bool,
  vcpu: int(0, 63),
  punchHole: obj({ region: ref('name'), offset: ref('u64'), length: ref('u64') }, ['region']),
  mapMem: obj({ region: ref('name') }, ['region']),
  unmapMem: obj({ region: ref('name') }, ['region']),
  ring: obj({ label: int(0, 0xffff_ffff), value: ref('u64') }, ['label']),
  readEventfd: obj({ ioeventfd: ref('name'), irqfd: int(0, 0xffff_ffff) }, [], {
    oneOf: [{ required: ['ioeventfd'] }, { required: ['irqfd'] }],
    expected: 'an object with exactly one of ioeventfd, irqfd',
  }),
  removeIrqfd: obj({ label: int(0, 0xffff_ffff) }, ['label']),
  removeIoeventfd: obj({ name: ref('name') }, ['name']),
  start: trueOnly,
  stop: trueOnly,
  scmiHost: obj({ protocolId: int(0, 0xff), messageId: int(0, 0xff), params: list(ref('word'), 0, 32) }, ['protocolId', 'messageId']),
  scmiVotes: obj({ clock: int(0, 255) }, ['clock']),
}, [], {
  minProperties: 1,
  expected: 'an action: an object with resume, value, immediateExit, punchHole, mapMem, unmapMem, ring, readEventfd, removeIrqfd, removeIoeventfd, start, stop, scmiHost or scmiVotes',
});

const TRIGGER_KEYS = ['exit', 'errno', 'pending', 'beforeRun', 'afterStart', 'end'];
const trigger = oneKey(
  TRIGGER_KEYS,
  {
    exit: exitMatch,
    errno: obj({ vcpu: int(0, 63), op: oneOfNames(OP_NAMES), errno: oneOfNames(ERRNO_NAMES) }),
    pending: obj({ vcpu: int(0, 63) }),
    beforeRun: obj({ vcpu: int(0, 63), run: int(1, 1_000_000) }, ['vcpu', 'run']),
    afterStart: trueOnly,
    end: trueOnly,
    occurrence: int(1, 1_000_000),
    every: bool,
  },
  'a trigger',
);

const EXPECT_KEYS = ['exit', 'ioctl', 'notification', 'scmi', 'pending', 'eventfd', 'fault', 'shutdown'];
const expectation = oneKey(
  EXPECT_KEYS,
  {
    note: str(),
    exit: exitMatch,
    ioctl: obj({
      vm: ref('name'),
      vcpu: int(0, 63),
      phase: ref('phase'),
      op: oneOfNames(OP_NAMES),
      fn: { enum: ['vcpu', 'irqfd', 'ioeventfd', 'scmi'] },
      errno: oneOfNames(ERRNO_NAMES),
      result: int(-(2 ** 31), 2 ** 32 - 1, 'an integer'),
    }),
    notification: obj({
      vm: ref('name'),
      phase: ref('phase'),
      name: oneOfNames(RM_NOTIF_NAMES),
      exitType: nameOrInt(EXIT_TYPE_NAMES, 'an RM exit type', 0xffff),
      reason: { type: 'string', pattern: '^([0-9a-fA-F]{2})*$', expected: 'the reason bytes as hex' },
      vmStatus: nameOrInt(VM_STATUS_NAMES, 'an RM VM status', 0xff),
      osStatus: nameOrInt(OS_STATUS_NAMES, 'an RM OS status', 0xff),
    }),
    scmi: obj({
      what: { enum: ['result', 'vote', 'aggregate', 'agent'] },
      agent: int(0, 0xffff_ffff),
      clock: int(0, 255),
      enabled: bool,
      rate: int(0, Number.MAX_SAFE_INTEGER, 'a rate in Hz'),
      connected: bool,
      protocolId: int(0, 0xff),
      messageId: int(0, 0xff),
      status: nameOrInt(SCMI_STATUS_NAMES, 'an SCMI status', 0x7fff_ffff),
      payload: list(ref('word'), 0, 64),
    }),
    pending: obj({ vm: ref('name'), vcpu: int(0, 63) }),
    eventfd: obj({ vm: ref('name'), ioeventfd: ref('name'), irqfd: int(0, 0xffff_ffff), value: ref('u64') }),
    fault: obj({ layer: { enum: ['rm', 'hypercall', 'vcpu_run', 'vm_exited'] }, what: str(), occurrence: int(1, 1_000_000) }),
    shutdown: obj({ clean: bool, rmVms: int(0, 1024), parcels: int(0, 1_000_000) }),
  },
  'an expectation',
);

const region = obj(
  {
    name: ref('name'),
    guestAddr: ref('u64'),
    size: ref('u64'),
    access: { enum: ['lend', 'share', 'default'] },
    allow: { type: 'string', pattern: '^(r|-)(w|-)(x|-)$', expected: 'an access string like "rwx", "rw-", "r-x" or "r--"' },
    boot: bool,
    map: { enum: ['start', 'later'] },
    fileOffset: ref('u64'),
    label: int(0, 0xffff_ffff, 'a region label: an integer 0..0xffffffff (gh_ only)'),
    init: list(
      obj({ offset: ref('u64'), u64: ref('value'), hex: { type: 'string', pattern: '^([0-9a-fA-F]{2})+$', expected: 'bytes as hex' } }, ['offset'], {
        oneOf: [{ required: ['u64'] }, { required: ['hex'] }],
        expected: 'an object with offset and exactly one of u64, hex',
      }),
      0,
      64,
    ),
  },
  ['name', 'guestAddr'],
);

const holdingCellCommand = obj(
  {
    vcpu: int(0, 63),
    cmd: {
      anyOf: [{ enum: HOLDING_CELL_CMD_NAMES }, { type: 'integer', minimum: 0, maximum: 255 }],
      expected: `a holding-cell command: ${HOLDING_CELL_CMD_NAMES.join(', ')} or an id 0..255`,
    },
    args: list(ref('value'), 0, 15),
    nargs: int(0, 15),
    hold: bool,
  },
  ['cmd'],
);

const vm = obj(
  {
    name: ref('name'),
    description: str(),
    vcpus: int(1, 64),
    memory: list(region, 1, 32),
    guest: oneKey(
      ['program', 'holdingCell', 'raw'],
      {
        program: ref('ops'),
        holdingCell: list(holdingCellCommand, 0, 4096),
        raw: { type: 'string', pattern: '^([0-9a-fA-F]{2})+$', expected: 'image bytes as hex' },
      },
      'a guest',
    ),
    doorbells: list(
      obj(
        {
          label: int(0, 0xffff_ffff),
          line: int(0, 987),
          trigger: { enum: ['edge', 'level'] },
          irqfd: bool,
          premature: obj({ beforeBind: int(0, 1000), beforeStart: int(0, 1000) }),
        },
        ['label', 'line'],
      ),
      0,
      64,
    ),
    ioeventfds: list(obj({ name: ref('name'), addr: ref('u64'), len: { enum: [0, 1, 2, 4, 8], expected: 'an access length 0, 1, 2, 4 or 8' }, datamatch: ref('u64') }, ['name', 'addr', 'len']), 0, 64),
    scmi: obj(
      {
        agentId: int(2, 0xffff_fffe),
        name: { type: 'string', pattern: '^[\\x20-\\x7e]{1,15}$', expected: 'an ASCII name of 1..15 characters' },
        devices: list(str('a platform device name'), 0, 64),
        deviceMask: ref('u64'),
        protocolMask: int(0, 0x7f),
        mmioBase: ref('u64'),
        ring: ref('name'),
        doorbell: obj({ label: int(0, 0xffff_ffff), line: int(0, 987) }, ['label', 'line']),
        level: bool,
        ioeventfd: bool,
        queueSize: int(2, 32768),
      },
      ['agentId', 'name', 'ring'],
    ),
    bootContext: list(
      obj(
        {
          reg: {
            anyOf: [{ enum: Object.keys(BOOT_REGS) }, { type: 'integer', minimum: 0, maximum: 0xffff }],
            expected: 'a register: X0..X30, PC, SP_EL0..SP_EL2 or a key 0..0xffff',
          },
          value: ref('value'),
        },
        ['reg', 'value'],
      ),
      0,
      64,
    ),
    start: bool,
    checkExtension: list(int(0, Number.MAX_SAFE_INTEGER, 'a capability id'), 0, 16, 'a list of at most 16 capability ids (gh_ only)'),
    vmm: obj({
      reads: list(
        obj(
          {
            addr: ref('u64'),
            vcpu: int(0, 63),
            value: ref('value'),
            values: list(ref('value'), 1, 4096),
            then: { enum: ['repeat-last', 'cycle', 'zero', 'stop'] },
          },
          ['addr'],
          { oneOf: [{ required: ['value'] }, { required: ['values'] }], expected: 'an object with addr and exactly one of value, values' },
        ),
        0,
        256,
      ),
      readDefault: ref('value'),
      runsAfterExit: int(0, 1000),
      clearImmediateExit: bool,
      actions: list(obj({ when: trigger, do: list(vmmAction, 1, 64), note: str() }, ['when', 'do']), 0, 1024),
    }),
  },
  ['name', 'vcpus', 'guest'],
);

const SCHEMA: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://gunyah-emu.invalid/scenario.schema.json',
  title: 'gunyah-emu scenario',
  type: 'object',
  expected: 'a scenario object',
  additionalProperties: false,
  required: ['description', 'vms', 'expect'],
  properties: {
    $schema: str(),
    description: { type: 'string', minLength: 1, expected: 'a non-empty string saying what the scenario shows' },
    machine: obj({
      dialect: { enum: ['v17', 'gh'], expected: 'a UAPI dialect: "v17" (gunyah_, default) or "gh" (v14 / Android gh_)' },
      cpus: int(1, 64),
      seed: int(0, 0xffff_ffff),
      scmi: obj({ platform: { enum: ['default'] }, hostName: str() }),
      quirks: {
        type: 'object',
        propertyNames: { enum: [...QUIRK_NAMES] },
        additionalProperties: bool,
        expected: `an object of quirk switches (${QUIRK_NAMES.join(', ')})`,
      },
      rm: obj({ firmware: { enum: ['v17', 'public-12-2023'] }, onAssert: { enum: ['reply', 'crash'] } }),
    }),
    faults: obj({
      rm: list(
        obj(
          {
            msgId: nameOrInt(RM_MSG_NAMES, 'an RM message'),
            occurrence: int(1, 1_000_000),
            error: nameOrInt(RM_ERROR_NAMES, 'an RM error'),
            sticky: bool,
          },
          ['msgId', 'error'],
        ),
        0,
        256,
      ),
      hypercalls: list(
        obj({ call: oneOfNames(HYPERCALL_NAMES), occurrence: int(1, 1_000_000), error: { anyOf: [{ type: 'string' }, { type: 'integer' }], expected: 'a hypervisor error name or code' }, sticky: bool }, [
          'call',
          'error',
        ]),
        0,
        256,
      ),
      vcpuRun: list(
        obj(
          {
            vmid: int(0, 0xffff),
            vcpu: int(0, 63),
            occurrence: int(1, 1_000_000),
            state: nameOrInt(VCPU_RUN_STATE_NAMES, 'a vcpu_run state'),
            stateData: list(ref('u64'), 3, 3, 'a list of 3 u64 words (state_data_0..2)'),
            sticky: bool,
          },
          ['state'],
        ),
        0,
        256,
      ),
      vmExited: list(
        obj({
          vmid: int(0, 0xffff),
          occurrence: int(1, 1_000_000),
          sticky: bool,
          exitType: nameOrInt(EXIT_TYPE_NAMES, 'an RM exit type', 0xffff),
          reason: { type: 'string', pattern: '^([0-9a-fA-F]{2})*$', expected: 'the reason bytes as hex ("" for none)' },
        }),
        0,
        256,
      ),
    }),
    vms: list(vm, 1, 16, 'a list of 1..16 VMs'),
    run: obj({
      order: list({ type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,31}:[0-9]+$', expected: 'a "vm:vcpu" entry' }, 1, 1024),
      schedule: { enum: ['round-robin', 'vm-by-vm'] },
      maxSteps: int(1, 1_000_000),
      settleTurns: int(1, 100_000),
      errnoLimit: int(1, 1000),
      maxRunsPerVcpu: int(1, 1_000_000),
    }),
    expect: list(expectation, 1, 4096, 'a list of 1..4096 expectations'),
  },
  $defs: {
    u64: { anyOf: [{ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, { type: 'string', pattern: U64_PATTERN }], expected: 'a u64: an integer or a "0x…" string' },
    value: {
      anyOf: [{ type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }, { type: 'string', pattern: VALUE_PATTERN }],
      expected: 'a 64-bit value: an integer or a "0x…" string',
    },
    word: int(-(2 ** 31), 2 ** 32 - 1, 'a 32-bit word'),
    name: { type: 'string', pattern: NAME_PATTERN, expected: 'a name (a letter, then letters, digits, "_" or "-"; at most 32)' },
    phase: { enum: ['setup', 'run', 'teardown'] },
    accessLen: { enum: [1, 2, 4, 8], expected: 'an access length 1, 2, 4 or 8' },
    ops: list(ref('op'), 0, 65536, 'a list of guest-program ops'),
    op: {
      type: 'object',
      required: ['op'],
      discriminator: { propertyName: 'op' },
      oneOf: OPS,
      expected: `a guest-program op (op: ${OP_NAMES_LIST.join(', ')})`,
    },
  },
};

/** The scenario schema (a fresh deep copy). */
export function scenarioSchema(): Record<string, unknown> {
  return structuredClone(SCHEMA);
}

/** Names of the guest-program ops, in schema order. */
export const GUEST_OP_NAMES: readonly string[] = OP_NAMES_LIST;
