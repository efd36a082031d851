/**
 * native/gunyah-preload.c against replies it must not trust: a scripted daemon (a Unix socket
 * speaking the host bridge records of docs/host-bridge-protocol.md, built by hand here) answers
 * the stand-in VMM native/test/bridge-probe.c, with one reply bent per test: lengths near 2^32
 * (whose 32-bit sums wrap past a bounds check), replies shorter than their fixed layout, a
 * mapping kind MMAP cannot have, a path that lies outside its record. The library must answer
 * with an errno or ignore the bad part, never read outside the reply.
 *
 * The library is built with AddressSanitizer when the compiler has it (then any out-of-bounds
 * read is a report on stderr and a failing test); without it the tests still catch the reads
 * that crash. Also here, against the real daemon: a daemon fd the library cannot give a number
 * to (EMFILE) is closed again, so the VM it stands for does not outlive the failed call.
 *
 * The kick (docs/host-bridge-protocol.md KICK, docs/running-your-vmm.md "Kicks"): a timer
 * signal's handler sets immediate_exit while the probe's RUN waits for a reply the scripted
 * daemon holds back; the library must send one KICK with the vCPU's daemon fd, none before the
 * flag is set, and never let a reply clear the flag.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, haveCc, startVmm, type NativeBuild } from './native-support.js';
import { eventually, finish, startDaemon } from './support.js';

const CC = haveCc();
if (!CC) console.warn('test/bridge/native-wire.test.ts: skipped, no C compiler (cc) on PATH');

/** Record types (docs/host-bridge-protocol.md "Records"). */
const T = { OPEN: 0x01, CLOSE: 0x02, DUP: 0x03, IOCTL: 0x05, RUN: 0x06, MMAP: 0x07, MUNMAP: 0x08, MMAP_ANON: 0x0d, KICK: 0x0e } as const;
const EINTR = 4;
const EIO = 5;
const EMFILE = 24;

/** The library and the probe (`vmm`); `preload` is the LD_PRELOAD value, the sanitizer runtime first when used. */
interface Build extends NativeBuild {
  readonly dir: string;
  readonly asan: boolean;
}

function buildWire(): Build {
  const dir = mkdtempSync(join(tmpdir(), 'gh-wire-'));
  const lib = join(dir, 'libgunyah-emu-preload.so');
  const probe = join(dir, 'bridge-probe');
  const warn = ['-std=c11', '-Wall', '-Wextra', '-Werror'];
  execFileSync('cc', [...warn, '-O1', '-o', probe, join(ROOT, 'native', 'test', 'bridge-probe.c')], { stdio: 'pipe' });
  const src = join(ROOT, 'native', 'gunyah-preload.c');
  try {
    const asanLib = execFileSync('cc', ['-print-file-name=libasan.so']).toString().trim();
    if (!asanLib.startsWith('/') || !existsSync(asanLib)) throw new Error('no libasan');
    execFileSync('cc', [...warn, '-O1', '-g', '-fsanitize=address', '-fno-omit-frame-pointer', '-shared', '-fPIC', '-o', lib, src, '-ldl', '-lpthread'], { stdio: 'pipe' });
    return { dir, preload: `${asanLib} ${lib}`, vmm: probe, asan: true };
  } catch {
    execFileSync('cc', [...warn, '-O2', '-shared', '-fPIC', '-o', lib, src, '-ldl', '-lpthread'], { stdio: 'pipe' });
    return { dir, preload: lib, vmm: probe, asan: false };
  }
}

// ── the scripted daemon ──────────────────────────────────────────────────────────────────────

/** Little-endian body builder. */
function body(...fields: Array<[bits: 8 | 32 | 64, value: number | bigint] | Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = fields.map((f) => {
    if (f instanceof Uint8Array) return f;
    const [bits, v] = f;
    const b = new Uint8Array(bits / 8);
    const d = new DataView(b.buffer);
    if (bits === 8) d.setUint8(0, Number(v));
    else if (bits === 32) d.setUint32(0, Number(v) >>> 0, true);
    else d.setBigUint64(0, BigInt(v), true);
    return b;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

const pattern = (base: number) => Uint8Array.from({ length: 40 }, (_, i) => (base + i) & 0xff);
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** What MMAP_R hands as the run page, and RUN_R as the page after a RUN. */
const MMAP_PAGE = pattern(0xa0);
const RUN_PAGE = pattern(0x10);

/** IOCTL_R: errno, result, newfd_kind, rsvd, out_len, gmem_size, path_len (28 bytes), then out and path. */
const ioctlR = (result: number, newfdKind: number, outLen = 0, pathLen = 0) =>
  body([32, 0], [32, result], [8, newfdKind], [8, 0], [8, 0], [8, 0], [32, outLen], [64, 0], [32, pathLen]);

/** Well-formed answers for the probe's steps. `req` is the request body. */
function wellFormed(type: number, req: Uint8Array): Uint8Array | undefined {
  const d = new DataView(req.buffer, req.byteOffset, req.byteLength);
  switch (type) {
    case T.OPEN:
      return body([32, 0], [32, 10]);
    case T.IOCTL: {
      const request = d.getUint32(4, true);
      if (request === 0x4700) return ioctlR(11, 1);
      if (request === 0x4010_4704) return ioctlR(12, 2);
      return ioctlR(0, 0);
    }
    case T.MMAP:
      // errno, id 1, kind 2 PRIVATE, rsvd, length 4096, file_offset 0, data_len 40, data.
      return body([32, 0], [32, 1], [8, 2], [8, 0], [8, 0], [8, 0], [64, 4096], [64, 0], [32, 40], MMAP_PAGE);
    case T.RUN:
      return body([32, 0], [32, 0], [32, 40], RUN_PAGE);
    case T.DUP:
      return body([32, 0], [32, 13]);
    case T.CLOSE:
    case T.MUNMAP:
      return body([32, 0]);
    default:
      return body([32, 22]);
  }
}

interface ScriptedDaemon {
  readonly path: string;
  /** Every request received: type, body, and when (performance.now(), ms). */
  readonly received: Array<{ type: number; body: Uint8Array; at: number }>;
  close(): Promise<void>;
}

/** An answer: the reply body, undefined for the well-formed one, or a promise of either (a reply held back). */
type Answer = (type: number, req: Uint8Array) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

/**
 * A daemon that accepts one client of `dialect` (1 v17, 2 gh) and answers each request with
 * `answer(type, body)`, or the well-formed reply when that returns undefined.
 */
async function scriptedDaemon(dir: string, dialect: number, answer: Answer): Promise<ScriptedDaemon> {
  const path = join(dir, `d${Math.random().toString(16).slice(2)}.sock`);
  const received: ScriptedDaemon['received'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    let hello = false;
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!hello) {
        if (buf.length < 16) return;
        buf = buf.subarray(16);
        hello = true;
        // WELCOME: magic, version 2, accepted, the dialect, client 1, no reason.
        sock.write(Buffer.from(body(Uint8Array.from([0x47, 0x48, 0x42, 0x52]), [8, 2], [8, 0], [8, 0], [8, dialect], [32, 1], [32, 0])));
      }
      while (buf.length >= 4) {
        const len = buf.readUInt32LE(0);
        if (buf.length < 4 + len) return;
        const type = buf[4]!;
        const tag = buf.readUInt32LE(8);
        const req = new Uint8Array(buf.subarray(12, 4 + len));
        buf = buf.subarray(4 + len);
        received.push({ type, body: req, at: performance.now() });
        if (type === 0x0b || type === T.KICK) continue; // EVENTFD_SIGNAL and KICK have no reply
        const send = (given: Uint8Array | undefined): void => {
          const reply = given ?? wellFormed(type, req)!;
          const head = Buffer.alloc(12);
          head.writeUInt32LE(8 + reply.length, 0);
          head.writeUInt8(type | 0x80, 4);
          head.writeUInt32LE(tag, 8);
          if (!sock.destroyed) sock.write(Buffer.concat([head, Buffer.from(reply)]));
        };
        const a = answer(type, req);
        if (a instanceof Promise) void a.then(send);
        else send(a);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface ProbeResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly lines: string[];
  readonly stderr: string;
}

/** The probe's environment besides LD_PRELOAD and the socket: no leak report at exit. */
const PROBE_ENV = { ASAN_OPTIONS: 'detect_leaks=0' };

async function runProbe(b: Build, socket: string, steps: string[], env: Record<string, string> = {}): Promise<ProbeResult> {
  const r = await startVmm({ path: socket }, b, steps, { ...PROBE_ENV, ...env }).done;
  return { code: r.code, signal: r.signal, lines: r.stdout.split('\n').filter((l) => l !== ''), stderr: r.stderr };
}

/** The probe ran every step, with no crash and no sanitizer report. */
function expectClean(r: ProbeResult): void {
  expect(r.stderr).not.toContain('AddressSanitizer');
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
}

let build: Build;

describe.skipIf(!CC)('native/gunyah-preload.c against misbehaving and real daemons', () => {
  beforeAll(() => {
    build = buildWire();
    if (!build.asan) console.warn('test/bridge/native-wire.test.ts: built without AddressSanitizer; only crashing reads are caught');
  }, 60_000);
  afterAll(() => {
    if (build?.dir !== undefined) rmSync(build.dir, { recursive: true, force: true });
  });

  describe('the preload library does not trust lengths from the wire', () => {

    async function against(answer: Answer, steps: string[], dialect = 1): Promise<ProbeResult & { received: ScriptedDaemon['received'] }> {
      const d = await scriptedDaemon(build.dir, dialect, answer);
      try {
        const r = await runProbe(build, d.path, steps, dialect === 2 ? { GUNYAH_EMU_DIALECT: 'gh' } : {});
        return { ...r, received: d.received };
      } finally {
        await d.close();
      }
    }

    it('the scripted daemon itself: well-formed replies give the answers they carry', async () => {
      const r = await against(() => undefined, ['open', 'create-vm', 'add-vcpu', 'map-run', 'run', 'dup-vm']);
      expectClean(r);
      expect(r.lines).toEqual(['open ok', 'create-vm ok', 'add-vcpu ok', 'map-run ok', `run 0 ${hexOf(RUN_PAGE)}`, 'dup-vm ok']);
    }, 30_000);

    it('IOCTL_R whose out_len + path_len wraps 32 bits: the path is not read; the new fd is still given', async () => {
      // out_len 0xFFFF_FF00 and path_len 0x100: 28 + both = 2^32 + 28, which a 32-bit sum sees as 28.
      const r = await against((type, req) => (type === T.IOCTL && new DataView(req.buffer, req.byteOffset).getUint32(4, true) === 0x4700 ? ioctlR(11, 1, 0xffff_ff00, 0x100) : undefined), ['open', 'create-vm', 'dup-vm']);
      expectClean(r);
      expect(r.lines).toEqual(['open ok', 'create-vm ok', 'dup-vm ok']);
    }, 30_000);

    it('RUN_R whose m wraps 32 bits with no page bytes: the page keeps what it had', async () => {
      // m = 0xFFFF_FFF8: 12 + m = 2^32 + 4, which a 32-bit sum sees as 4 (≤ the 12 bytes sent).
      const r = await against((type) => (type === T.RUN ? body([32, 0], [32, 0], [32, 0xffff_fff8]) : undefined), ['open', 'create-vm', 'add-vcpu', 'map-run', 'run']);
      expectClean(r);
      expect(r.lines.at(-1)).toBe(`run 0 ${hexOf(MMAP_PAGE)}`);
    }, 30_000);

    it('MMAP_R whose data_len wraps 32 bits: the run page maps with no data copied', async () => {
      // data_len 0xFFFF_FFF0: 32 + it = 2^32 + 16, which a 32-bit sum sees as 16 (≤ the 32 bytes sent).
      const r = await against(
        (type) => (type === T.MMAP ? body([32, 0], [32, 1], [8, 2], [8, 0], [8, 0], [8, 0], [64, 4096], [64, 0], [32, 0xffff_fff0]) : undefined),
        ['open', 'create-vm', 'add-vcpu', 'map-run', 'run'],
      );
      expectClean(r);
      expect(r.lines.slice(3)).toEqual(['map-run ok', `run 0 ${hexOf(RUN_PAGE)}`]);
    }, 30_000);

    it('MMAP_R with kind 3 (ANON, which only MMAP_ANON gives): EIO, and the mapping is given back (MUNMAP)', async () => {
      const r = await against(
        (type) => (type === T.MMAP ? body([32, 0], [32, 7], [8, 3], [8, 0], [8, 0], [8, 0], [64, 4096], [64, 0], [32, 0]) : undefined),
        ['open', 'create-vm', 'add-vcpu', 'map-run'],
      );
      expectClean(r);
      expect(r.lines.at(-1)).toBe(`map-run -1 ${EIO}`);
      expect(r.received.filter((x) => x.type === T.MUNMAP).map((x) => hexOf(x.body))).toEqual(['07000000']);
    }, 30_000);

    it.each([
      ['OPEN_R', T.OPEN, ['open'], `open -1 ${EIO}`],
      ['DUP_R', T.DUP, ['open', 'create-vm', 'dup-vm'], `dup-vm -1 ${EIO}`],
    ] as const)('%s of 4 bytes (errno 0, no fd): EIO, nothing read past it', async (_n, rtype, steps, last) => {
      const r = await against((type) => (type === rtype ? body([32, 0]) : undefined), [...steps]);
      expectClean(r);
      expect(r.lines.at(-1)).toBe(last);
    }, 30_000);

    it('gh_: MMAP_ANON_R whose path lies outside the record: the region ioctl fails with EIO and the mapping is given back', async () => {
      const r = await against(
        // errno, id 9, kind 3, rsvd, length 4096, addr 0x10000, path_len 64 with no path bytes.
        (type) => (type === T.MMAP_ANON ? body([32, 0], [32, 9], [8, 3], [8, 0], [8, 0], [8, 0], [64, 4096], [64, 0x10000], [32, 64]) : undefined),
        ['open', 'create-vm', 'region'],
        2,
      );
      expectClean(r);
      expect(r.lines.at(-1)).toBe(`region -1 ${EIO}`);
      expect(r.received.filter((x) => x.type === T.MUNMAP).map((x) => hexOf(x.body))).toEqual(['09000000']);
      expect(r.received.some((x) => x.type === T.IOCTL && new DataView(x.body.buffer, x.body.byteOffset).getUint32(4, true) === 0x4020_4701)).toBe(false);
    }, 30_000);
  });

  describe('the kick: immediate_exit set while a RUN is away', () => {
    /** Resolves once a KICK has arrived (or after 2 s, and the test fails on what it sees), then `settle` ms more. */
    function afterKick(received: () => ScriptedDaemon['received'], settle: number): Promise<void> {
      return new Promise((resolve) => {
        const end = performance.now() + 2000;
        const poll = (): void => {
          if (received().some((x) => x.type === T.KICK) || performance.now() > end) return void setTimeout(resolve, settle);
          setTimeout(poll, 2);
        };
        poll();
      });
    }

    /** The mapped run page's byte 0 is MMAP_PAGE's (non-zero): cleared first, as a VMM's page starts. */
    const KICK_STEPS = ['open', 'create-vm', 'add-vcpu', 'map-run', 'clear-flag', 'kick-in-100ms', 'run', 'clear-flag'];

    async function kickRun(reply: Uint8Array, steps = KICK_STEPS, hold = (received: () => ScriptedDaemon['received']) => afterKick(received, 100)): Promise<ProbeResult & { received: ScriptedDaemon['received'] }> {
      let d!: ScriptedDaemon;
      // The RUN's reply is held (by default until the KICK came, and 100 ms more: time for a second KICK, which must not come).
      d = await scriptedDaemon(build.dir, 1, (type) => (type === T.RUN ? hold(() => d.received).then(() => reply) : undefined));
      try {
        const r = await runProbe(build, d.path, steps);
        return { ...r, received: d.received };
      } finally {
        await d.close();
      }
    }

    /** RUN_PAGE with byte 0 (immediate_exit) replaced. */
    const withFlag = (flag: number) => Uint8Array.from(RUN_PAGE, (b, i) => (i === 0 ? flag : b));

    it('a timer signal sets the flag while the RUN sleeps: one KICK of the vCPU\'s daemon fd, not before the flag; the RUN returns the daemon\'s EINTR', async () => {
      const r = await kickRun(body([32, EINTR], [32, -1], [32, 40], withFlag(1)));
      expectClean(r);
      expect(r.lines).toEqual(['open ok', 'create-vm ok', 'add-vcpu ok', 'map-run ok', 'clear-flag ok', 'kick-in-100ms ok', `run -1 ${EINTR} ${hexOf(withFlag(1))}`, 'clear-flag ok']);
      const kicks = r.received.filter((x) => x.type === T.KICK);
      expect(kicks.map((x) => hexOf(x.body))).toEqual(['0c000000']); // the add-vcpu reply's daemon fd 12
      const run = r.received.find((x) => x.type === T.RUN)!;
      // The RUN carried the flag clear; the KICK came once the timer fired (100 ms), not on a poll before.
      expect(run.body[8]).toBe(0);
      expect(kicks[0]!.at - run.at).toBeGreaterThanOrEqual(90);
    }, 30_000);

    it('the RUN ended before its KICK arrived: a reply with immediate_exit 0 does not clear the flag the handler set', async () => {
      const r = await kickRun(body([32, 0], [32, 0], [32, 40], withFlag(0)));
      expectClean(r);
      expect(r.lines.at(-2)).toBe(`run 0 ${hexOf(withFlag(1))}`);
      expect(r.received.filter((x) => x.type === T.KICK)).toHaveLength(1);
    }, 30_000);

    it('no flag, no KICK: a RUN held 150 ms with the flag clear all along sends none', async () => {
      const held = () => new Promise<void>((resolve) => setTimeout(resolve, 150));
      const r = await kickRun(body([32, 0], [32, 0], [32, 40], withFlag(0)), ['open', 'create-vm', 'add-vcpu', 'map-run', 'clear-flag', 'run'], held);
      expectClean(r);
      expect(r.lines.at(-1)).toBe(`run 0 ${hexOf(withFlag(0))}`);
      expect(r.received.some((x) => x.type === T.KICK)).toBe(false);
    }, 30_000);

    it('a flag set before the RUN goes with its page: no KICK', async () => {
      const held = () => new Promise<void>((resolve) => setTimeout(resolve, 50));
      // MMAP_PAGE's byte 0 (0xa0) is left as it is: the RUN carries it.
      const r = await kickRun(body([32, EINTR], [32, -1], [32, 40], withFlag(1)), ['open', 'create-vm', 'add-vcpu', 'map-run', 'run'], held);
      expectClean(r);
      expect(r.received.find((x) => x.type === T.RUN)!.body[8]).toBe(0xa0);
      expect(r.received.some((x) => x.type === T.KICK)).toBe(false);
    }, 30_000);
  });

  describe('the preload library against the real daemon: no fd number for a daemon fd', () => {
    it('CREATE_VM when the process has no fd left (EMFILE): the daemon fd is closed again, so no VM stays behind', async () => {
      const d = await startDaemon();
      const v = startVmm(d, build, ['open', 'limit-fds', 'create-vm', 'unlimit-fds', 'pause'], PROBE_ENV);
      await v.saw('paused');
      // The kernel made the VM, but nothing in the VMM stands for it: the library gave it back.
      await eventually(() => d.emu.kernel.liveVms === 0);
      v.child.kill('SIGKILL');
      const r = await v.done;
      expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual(['open ok', 'limit-fds ok', `create-vm -1 ${EMFILE}`, 'unlimit-fds ok', 'paused']);
      expect(r.stderr).not.toContain('AddressSanitizer');
      await finish(d, []);
    }, 30_000);
  });
});
