/**
 * Text report of the default scenario: the syscalls of the boot, the holding-cell commands with
 * their results, the per-vCPU exit summary with the final STATUS exit, and what the shutdown
 * check found; then the SCMI part's steps, the clock's votes and aggregate before and after the
 * guest's crash, and its own shutdown check.
 *
 * Reference: uapi.md §4 (status and exit-reason names), §5 (status arm: exit_info type,
 * reason_size, reason[8]); rm-rpc.md §15.1 (exit types, by src/rm-rpc/wire ExitType).
 */
import Table from 'cli-table3';
import { ExitType } from '../rm-rpc/wire/enums.js';
import { toHex } from '../shared/bytes.js';
import { GunyahVmStatus, constantName } from '../vm-mgr/uapi/constants.js';
import type { RunPageStatus } from '../vm-mgr/uapi/run-page.js';
import type { DefaultScenarioResult } from './default-scenario.js';
import { formatClockState, type ScmiScenarioResult } from './scmi-scenario.js';
import type { ShutdownReport } from './shutdown-check.js';

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

function table(head: string[], styled: boolean): Table.Table {
  return new Table({ head, style: { head: styled ? ['cyan'] : [], border: styled ? ['grey'] : [], compact: true } });
}

/** "EXITED (2); exit_info type 1 PLATFORM_OFF, reason_size 4, reason 00000000". */
export function formatStatus(s: RunPageStatus): string {
  const status = constantName(GunyahVmStatus, s.status)?.replace('GUNYAH_VM_STATUS_', '') ?? 'unknown';
  const type = (Object.keys(ExitType) as Array<keyof typeof ExitType>).find((k) => ExitType[k] === s.exitType) ?? 'unknown';
  const shown = s.reason.subarray(0, Math.min(8, s.reasonSize));
  const reason = toHex(shown, '') || '-';
  return `${status} (${s.status}); exit_info type ${s.exitType} ${type}, reason_size ${s.reasonSize}, reason ${reason}`;
}

function formatBytes(n: number): string {
  const GIB = 2 ** 30;
  return n % GIB === 0 ? `${n / GIB} GiB` : `${n} bytes`;
}

function shutdownLines(s: ShutdownReport): string[] {
  const owners = [...s.memoryOwners.entries()].map(([vmid, bytes]) => `vmid ${vmid} owns ${formatBytes(bytes)}`).join(', ');
  return [
    `Shutdown: closed ${s.fdsClosed} fds; ${s.openFds} fds, ${s.mappings} mappings and ${s.userAllocations} user allocations left`,
    `  RM: ${s.rmVms.length === 0 ? 'no VM' : `VMs ${s.rmVms.map(hex).join(', ')}`}, ${s.rmParcels === 0 ? 'no memory parcel' : `${s.rmParcels} memory parcels`}`,
    `  memory: ${[...s.memoryOwners.keys()].every((v) => v === 3) ? 'all back with the host VM' : 'NOT all back with the host VM'} (${owners})`,
    `  kernel: ${s.liveVms} VMs alive`,
  ];
}

/** The SCMI part: steps, votes before and after the crash, the device's exits, its shutdown. */
function scmiLines(x: ScmiScenarioResult, styled: boolean): string[] {
  const out: string[] = [];
  out.push(`SCMI over virtio: a guest-program VM (SCMI agent ${x.agentId} "${x.agentName}") with its virtqueues in a shared region and a virtio-scmi device behind its MMIO exits`);
  const steps = table(['#', 'who', 'what', 'result'], styled);
  x.steps.forEach((s, i) => steps.push([i + 1, s.who, s.what, s.result]));
  out.push(steps.toString());
  out.push('');
  out.push(`Clock ${x.clock.id} "${x.clock.name}":`);
  const votes = table(['', `VM (agent ${x.agentId})`, 'host (agent 1)', 'aggregate'], styled);
  votes.push(['before the crash', formatClockState(x.before.guest), formatClockState(x.before.host), formatClockState(x.before.aggregate)]);
  votes.push(['after the crash', x.after.agentConnected ? formatClockState(x.after.guest) : 'vote gone (agent closed)', formatClockState(x.after.host), formatClockState(x.after.aggregate)]);
  out.push(votes.toString());
  out.push(
    `Device exits: ${x.deviceExits} register accesses handled by the VMM, ${x.notifyExits} of them QueueNotify (kicks go through the ioeventfd); crash: ${x.crash ? formatStatus(x.crash) : 'none'}`,
  );
  out.push('');
  out.push(...shutdownLines(x.shutdown));
  return out;
}

/** The whole report; `styled` colours the table heads (for a TTY). */
export function formatDefaultScenario(r: DefaultScenarioResult, styled = false): string {
  const out: string[] = [];
  out.push('Default scenario: a two-vCPU holding-cell VM, booted through the raw /dev/gunyah contract in quic/gunyah-test-vmm order');
  out.push('');
  out.push('Boot (syscalls the VMM issued):');
  const boot = table(['#', 'syscall', 'argument', 'returns'], styled);
  r.syscalls.forEach((s, i) => boot.push([i + 1, s.call, s.detail, s.result]));
  out.push(boot.toString());

  out.push('');
  out.push(
    r.secondarySleptUntilCpuOn
      ? "Holding-cell commands (vCPU 1's first RUN was issued before CPU_ON and slept until vCPU 0 powered it on):"
      : 'Holding-cell commands:',
  );
  const cmds = table(['vCPU', 'command', 'arguments', 'result', 'expected', ''], styled);
  for (const c of r.commands) {
    cmds.push([
      c.vcpu,
      c.name,
      c.args.map(hex).join(' '),
      c.result === undefined ? `none; ${c.endedWith ?? '?'}` : hex(c.result),
      c.expected === undefined ? 'none; STATUS EXITED' : hex(c.expected),
      c.ok ? 'ok' : 'MISMATCH',
    ]);
  }
  out.push(cmds.toString());

  out.push('');
  out.push('Exit summary:');
  const sum = table(['vCPU', 'MMIO read', 'MMIO write', 'status', 'page fault', 'other', 'expected r/w/s', 'final status exit'], styled);
  for (const v of r.vcpus) {
    const c = v.counts;
    const e = v.expected;
    sum.push([
      v.id,
      c.mmioRead,
      c.mmioWrite,
      c.status,
      c.pageFault,
      c.other,
      `${e.mmioRead}/${e.mmioWrite}/${e.status}`,
      v.finalStatus ? formatStatus(v.finalStatus) : 'none',
    ]);
  }
  out.push(sum.toString());

  out.push('');
  out.push(...shutdownLines(r.shutdown));
  out.push('');
  out.push(...scmiLines(r.scmi, styled));
  if (r.invariantViolations.length > 0) out.push(`invariant violations:\n  ${r.invariantViolations.join('\n  ')}`);
  else out.push('all invariants hold');
  if (r.problems.length > 0) out.push(`MISMATCH:\n  ${r.problems.join('\n  ')}`);
  else out.push('Result: every command, exit count, SCMI vote and shutdown check as expected');
  return `${out.join('\n')}\n`;
}
