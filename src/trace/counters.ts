/**
 * Counter records of the trace: memory each guest VM holds (`mem.lent`, sampled after every RM
 * reply and notification and every host donate / map / unmap, written when a value changed)
 * and SCMI aggregates (`scmi.vote`, written on every aggregate change the vote book reports).
 * Installed by the emulator only when it has a tracer.
 *
 * Reference: docs/tracing.md (counters); hypervisor.md §8 (extents own memory, address spaces
 * map it: lent = owned by the guest, shared = another VM's memory mapped into it);
 * scmi-virtio.md §12.2 and src/scmi/platform-state.ts (aggregation rules).
 */
import type { Hypervisor } from '../hyp/hypervisor.js';
import type { RmServer } from '../rm-rpc/server/rm-server.js';
import type { ResourceKind } from '../scmi/api.js';
import type { ScmiPlatformState } from '../scmi/platform-state.js';
import type { ScmiVoteEvent, Tracer } from '../shared/trace-events.js';

/**
 * Write `mem.lent` for each guest VM whose lent or shared bytes changed since the last sample
 * (vmids ascending, so the order does not depend on when a VM was first seen). A VM that went
 * away gets a last record with zeros. Returns the unsubscribe.
 */
export function watchMemory(hyp: Hypervisor, rm: RmServer, trace: Tracer): () => void {
  const last = new Map<number, { lent: number; shared: number }>();
  const sample = (): void => {
    const vmids = new Set<number>(last.keys());
    for (const v of rm.inspect().vms) vmids.add(v.vmid);
    for (const vmid of [...vmids].sort((a, b) => a - b)) {
      const now = hyp.memoryHeld(vmid);
      const before = last.get(vmid) ?? { lent: 0, shared: 0 };
      if (now.lent === before.lent && now.shared === before.shared) continue;
      trace.emit({ kind: 'mem.lent', vmid, lent: now.lent, shared: now.shared });
      if (now.lent === 0 && now.shared === 0) last.delete(vmid);
      else last.set(vmid, now);
    }
  };
  hyp.events.on('memory-changed', sample);
  rm.events.on('reply', sample);
  rm.events.on('notification', sample);
  return () => {
    hyp.events.off('memory-changed', sample);
    rm.events.off('reply', sample);
    rm.events.off('notification', sample);
  };
}

/** The counter value of one SCMI resource's aggregate (see ScmiVoteEvent.value). */
function voteRecord(p: ScmiPlatformState, kind: Exclude<ResourceKind, 'sensor'>, id: number): ScmiVoteEvent {
  let value: number;
  switch (kind) {
    case 'clock': {
      const a = p.clockAggregate(id);
      value = a.enabled ? a.rate : 0;
      break;
    }
    case 'voltage': {
      const a = p.voltageAggregate(id);
      value = a.on ? a.microvolts : 0;
      break;
    }
    case 'power':
      value = p.powerAggregate(id) ? 1 : 0;
      break;
    case 'perf':
      value = p.perfAggregate(id).level;
      break;
    default:
      value = p.resetCount(id);
      break;
  }
  return { kind: 'scmi.vote', resource: kind, id, value, voters: kind === 'reset' ? [] : [...p.voters(kind, id)] };
}

/** Write `scmi.vote` on every aggregate change of `platform`. Returns the unsubscribe. */
export function watchScmiVotes(platform: ScmiPlatformState, trace: Tracer): () => void {
  return platform.onChange((kind, id) => {
    if (kind !== 'sensor') trace.emit(voteRecord(platform, kind, id));
  });
}
