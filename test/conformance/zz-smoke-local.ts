// SCRATCH (not committed): run the suite against the builtin RmServer.
import { createRmServer } from '../../src/rm-rpc/server/rm-server.js';
import { createMsgqPair, type MsgqEndpoint } from '../../src/msgq/index.js';
import { isHypError } from '../../src/shared/hyp-errors.js';
import type { RawRmChannel, RmTarget } from '../../src/conformance/target.js';
import { runConformance, formatResultLine, formatSummary } from '../../src/conformance/index.js';

function channelOf(ep: MsgqEndpoint): RawRmChannel {
  return {
    async send(frame, opts) { return ep.send(frame, opts?.push ?? false); },
    async recv(opts) {
      const deadline = Date.now() + (opts?.timeoutMs ?? 2000);
      for (;;) {
        try { return ep.receive(); } catch (e) { if (!isHypError(e, 'ERROR_MSGQUEUE_EMPTY')) throw e; }
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        await new Promise<void>((res) => { const t = setTimeout(res, Math.min(left, 5)); ep.events.once('rx', () => { clearTimeout(t); res(); }); });
      }
    },
    async close() {},
  };
}

const rm = createRmServer({ onAssert: 'reply' } as never);
const [hostEnd, rmEnd] = createMsgqPair();
rm.attachLink(3, rmEnd);
const target: RmTarget = {
  name: 'builtin-scratch',
  control: rm.control,
  async open(vmid) {
    if (vmid === 3) return channelOf(hostEnd);
    const ep = rm.vmEndpoint(vmid);
    if (!ep) throw new Error(`VM ${vmid} has no RM link`);
    return channelOf(ep);
  },
  async close() {},
};
const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
const s = await runConformance(target, { ...(filter ? { filter } : {}), onResult: (r) => console.log(formatResultLine(r)) });
console.log(formatSummary(s));
const t0 = Date.now();
const s2 = await runConformance(target, { ...(filter ? { filter } : {}), onResult: (r) => { if (r.status !== 'pass') console.log('RUN2', formatResultLine(r)); } });
console.log('RUN2', formatSummary(s2), `${Date.now() - t0} ms`);
console.log(JSON.stringify((await rm.control.inspect()).vms.map(v => [v.vmid, v.stateName])), (await rm.control.inspect()).parcels.length, 'parcels');
{
  const { RmSession } = await import('../../src/conformance/session.js');
  const { memReclaimReq } = await import('../../src/conformance/payloads.js');
  const s = new RmSession(await target.open(3), { label: 'x', vmid: 3, firstSeq: 0x9000 });
  await s.sync();
  const h = (await rm.control.inspect()).parcels[0]!.handle;
  const r = await s.call(0x51000015, memReclaimReq(h));
  console.log('reclaim', h, r.errCode.toString(16), (await rm.control.inspect()).parcels.length);
}
