/**
 * `gunyah-emu rm serve`: one emulator's RM, reachable over the msgq socket transport
 * (docs/socket-transport.md). Each connection names the VM whose RM link it speaks on; the
 * control role offers the RM's out-of-band control (seedParcel, inspect, checkInvariants).
 */
import type { Emulator } from '../emulator.js';
import { listenMsgq, type MsgqListenOptions, type MsgqSocketServer, type ServedEndpoint } from '../msgq/socket-server.js';
import type { PlatformParcelSpec } from '../rm-rpc/server/control.js';

/** Serve `emu`'s RM on `where`. Endpoints are released when their connection closes. */
export async function serveRm(emu: Emulator, where: MsgqListenOptions): Promise<MsgqSocketServer> {
  return listenMsgq(where, {
    openEndpoint(vmid): ServedEndpoint {
      const { endpoint, release } = emu.acquireRmEndpoint(vmid);
      return {
        maxMsgSize: endpoint.maxMsgSize,
        events: endpoint.events,
        send: (bytes, push) => endpoint.send(bytes, push),
        receive: (bufSize) => endpoint.receive(bufSize),
        get rxPending() {
          return endpoint.rxPending;
        },
        get txReady() {
          return endpoint.txReady;
        },
        release,
      };
    },
    async onControl(request) {
      const r = request as { op?: string; spec?: PlatformParcelSpec };
      switch (r.op) {
        case 'seedParcel':
          if (!r.spec) throw new Error('seedParcel needs a spec');
          return emu.rm.control.seedParcel(r.spec);
        case 'inspect':
          return emu.rm.control.inspect();
        case 'checkInvariants':
          return emu.rm.control.checkInvariants();
        default:
          throw new Error(`unknown control op ${JSON.stringify(r.op)}`);
      }
    },
  });
}
