/**
 * `gunyah-emu serve --socket PATH [--seed N] [--dialect v17|gh] [--shm-dir DIR]`: one emulator
 * served to foreign VMM processes over the host bridge protocol (docs/host-bridge-protocol.md).
 * `--dialect gh` makes the emulator's kernel speak the v14 / Android `gh_` UAPI (README.md
 * §Dialects) and the daemon accept only gh_ clients; the default v17 accepts only v17 clients.
 * Runs until SIGINT or SIGTERM, then ends every client (their VMs are torn down) and removes the
 * socket and the backing-file directory.
 */
import { Option, type Command } from 'commander';
import type { Level } from 'pino';
import { createEmulator } from '../emulator.js';
import { listenBridge } from '../bridge/bridge-server.js';
import { BRIDGE_VERSION, type BridgeDialectName } from '../bridge/bridge-wire.js';
import { createCliLogger } from './cli-logger.js';

export interface ServeOptions {
  readonly socket: string;
  readonly seed: number;
  readonly dialect: BridgeDialectName;
  readonly shmDir?: string;
  readonly logLevel: Level | 'silent';
}

/**
 * Serve until `stop` resolves. Writes one line when listening. Resolves to the exit code.
 */
export async function runServe(o: ServeOptions, stop: Promise<void>, out: (line: string) => void): Promise<number> {
  if (!Number.isSafeInteger(o.seed)) {
    process.stderr.write(`gunyah-emu serve: --seed takes an integer, not "${o.seed}"\n`);
    return 2;
  }
  const log = createCliLogger({ level: o.logLevel });
  const emu = createEmulator({ seed: o.seed, log, dialect: o.dialect });
  let server;
  try {
    server = await listenBridge(emu, { path: o.socket, dialect: o.dialect, log, ...(o.shmDir !== undefined ? { shmDir: o.shmDir } : {}) });
  } catch (err) {
    process.stderr.write(`gunyah-emu serve: cannot listen on ${o.socket}: ${err instanceof Error ? err.message : String(err)}\n`);
    emu.close();
    return 1;
  }
  out(`gunyah-emu host bridge (protocol ${BRIDGE_VERSION}, dialect ${o.dialect}) listening on ${server.path}; backing files in ${server.shmDir}\n`);
  await stop;
  await server.close();
  const problems = emu.checkInvariants();
  emu.close();
  if (problems.length > 0) {
    process.stderr.write(`gunyah-emu serve: invariant violations at exit:\n  ${problems.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

/** Register `serve` on the program. */
export function registerServeCommand(program: Command, setCode: (code: number) => void): void {
  program
    .command('serve')
    .description('serve one emulator to VMM processes over the host bridge (docs/host-bridge-protocol.md)')
    .requiredOption('--socket <path>', 'listen on this Unix socket')
    .option('--seed <n>', 'seed for every deterministic choice', '1')
    .addOption(new Option('--dialect <dialect>', 'UAPI dialect of the emulated kernel, and the only one served').choices(['v17', 'gh']).default('v17'))
    .option('--shm-dir <dir>', 'where the directory of guest-memory backing files is made (default /dev/shm)')
    .addOption(new Option('--log-level <level>', 'structured log (stderr)').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('warn'))
    .action(async (opts: { socket: string; seed: string; dialect: BridgeDialectName; shmDir?: string; logLevel: Level | 'silent' }) => {
      const stop = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      setCode(
        await runServe(
          { socket: opts.socket, seed: Number(opts.seed), dialect: opts.dialect, logLevel: opts.logLevel, ...(opts.shmDir !== undefined ? { shmDir: opts.shmDir } : {}) },
          stop,
          (s) => process.stdout.write(s),
        ),
      );
    });
}
