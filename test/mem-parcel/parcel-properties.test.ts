// Property tests of memory parcels through the real RPC path: random sequences of LEND / SHARE /
// DONATE (host → guest ACLs over a small window of host RAM, overlapping and already-lent ranges
// included), APPEND, ACCEPT (with and without DONE, RM- and caller-chosen IPAs, MAP_CONTIGUOUS),
// RELEASE, RECLAIM, NOTIFY, host and guest writes, and guest resets, against a model of who has
// which page. After every step the RM's invariants hold and the memory model agrees with the
// model: who can reach each page at which IPA with which rights, and what it reads there.
//
// Reference: rm-rpc.md §12.5 (layouts), §13 (MEM_SHARED, MEM_ACCEPTED, MEM_RELEASED, MEM_RECALL),
// §15.4 (a reset releases the VM's parcels and tells the owner), §16 (rules and error order);
// hypervisor.md §8 (stage-2 rights); docs/decisions.md M1–M11 (our choices where §16 is silent).
//
// A refused call changes nothing; for ACCEPT that is §16.4 (only an accept that succeeds moves a
// borrower), and the IPAs a VM holds (mapped, accepting, donated) are reserved for it, so
// caller-chosen IPAs that overlap them are refused at §16.5 step 13 (NORESOURCE).
//
// Where the sheet gives several errors without an order between them (the NOTIFY owner check
// against the tag check; VALIDATE_ACL_ATTR with no ACL), any of them is accepted. Otherwise the
// model names the one error the sheet's order gives.
import { describe, expect, test } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { RmMsgId, RmNotifId } from '../../src/rm-rpc/wire/msg-ids.js';
import type { RmErrorName } from '../../src/rm-rpc/wire/errors.js';
import {
  MEM_ACCEPT_REQ,
  MEM_ACCEPT_SGL_REPLY,
  MEM_APPEND_REQ,
  MEM_CREATE_REQ,
  MEM_NOTIFY_REQ,
  MEM_RECLAIM_REQ,
  MEM_RELEASE_REQ,
  type AclEntry,
  type SglEntry,
} from '../../src/rm-rpc/wire/mem.js';
import { MEM_OWNER_NOTIF_PAYLOAD, MEM_RECALL_PAYLOAD, MEM_SHARED_PAYLOAD } from '../../src/rm-rpc/wire/notifications.js';
import { MemAcceptFlag, MemAppendFlag, MemCreateFlag, MemNotifyFlag, MemRights, MemType, TransType, MEM_HANDLE_INVALID } from '../../src/rm-rpc/wire/enums.js';
import { HOST, ParcelRig, answerOf, u32, type Answer, type Guest, type Notif } from './support.js';
import { TEST_MEMORY_BASE } from '../../src/conformance/dtb.js';

/** Where VM_START maps each guest's image parcel (the test DT's memory base-address, decisions B1). */
const IMAGE_IPA = Number(TEST_MEMORY_BASE);
/** A guest's stage-2 mappings other than its image parcel's. */
const notImage = (m: { readonly ipa: number }): boolean => m.ipa !== IMAGE_IPA;

const PAGE = 4096;
/** The host RAM the runs lend from: WINDOW_PAGES pages at 64 GiB (host IPA = PA). */
const WINDOW_BASE = 0x10_0000_0000;
const WINDOW_PAGES = 24;
/** Caller-chosen borrower IPAs: pages of this window (far below the RM's own IPA window). */
const CALLER_IPA_BASE = 0x1_0000_0000;
const CALLER_IPA_PAGES = 16;
/** 16 bytes at the start of each page are what the model tracks. */
const SAMPLE = 16;
/** A VMID that does not exist (dynamic range, never allocated here). */
const NO_VM = 0x90;
/** Handles no parcel has: never issued (the counter will not get there) and the invalid one. */
const BOGUS_HANDLES = [0x7777, MEM_HANDLE_INVALID];
const RIGHTS = [MemRights.R, MemRights.RX, MemRights.RW, MemRights.RWX] as const;
const KIND_NAME = { [TransType.DONATE]: 'DONATE', [TransType.LEND]: 'LEND', [TransType.SHARE]: 'SHARE' } as Record<number, string>;
const CREATE_MSG = { [TransType.DONATE]: RmMsgId.MEM_DONATE, [TransType.LEND]: RmMsgId.MEM_LEND, [TransType.SHARE]: RmMsgId.MEM_SHARE } as Record<number, number>;

// ── the model ───────────────────────────────────────────────────────────────

type PageOwner = { readonly kind: 'host' } | { readonly kind: 'parcel'; readonly handle: number } | { readonly kind: 'donated'; readonly vmid: number; readonly ipa: number };

/** A region: `pages` window pages from `page` (one per SGL entry: the host's mapping is one run). */
interface MRegion {
  readonly page: number;
  readonly pages: number;
}

interface MBorrower {
  shared: boolean;
  mapped: boolean;
  contiguous: boolean | undefined;
  /** Per region, or one base when contiguous. */
  ipas: number[];
}

interface MParcel {
  readonly handle: number;
  readonly transType: number;
  readonly acl: readonly AclEntry[];
  readonly label: number;
  readonly regions: MRegion[];
  state: 'INIT' | 'SHARING' | 'SHARED';
  readonly createdSanitized: boolean;
  sanitizeOnReclaim: boolean;
  tag: number | undefined;
  /** One per ACL entry other than the owner. */
  readonly borrowers: Map<number, MBorrower>;
}

/** A page as a VM reaches it: at `ipa`, with `rights`. */
interface MMapping {
  readonly ipa: number;
  readonly page: number;
  readonly rights: number;
}

const regionBytes = (r: MRegion): number => r.pages * PAGE;
const pageIpa = (page: number): number => WINDOW_BASE + page * PAGE;
const overlaps = (a: number, as: number, b: number, bs: number): boolean => a < b + bs && b < a + as;

class Model {
  readonly pages: PageOwner[] = Array.from({ length: WINDOW_PAGES }, () => ({ kind: 'host' }) as const);
  readonly content: Uint8Array[] = [];
  readonly parcels = new Map<number, MParcel>();
  /** Handles that existed and are gone (reclaimed, or a DONATE completed). */
  readonly stale: number[] = [];
  maxHandle = -1;

  constructor(imageHandles: readonly number[]) {
    for (let i = 0; i < WINDOW_PAGES; i++) this.content.push(pattern(i, 0));
    this.maxHandle = Math.max(...imageHandles);
  }

  /** The borrower IPA of region `i`. */
  ipaOf(p: MParcel, b: MBorrower, i: number): number {
    if (!b.contiguous) return b.ipas[i]!;
    let off = 0;
    for (let k = 0; k < i; k++) off += regionBytes(p.regions[k]!);
    return b.ipas[0]! + off;
  }

  /** IPAs assigned to `b` so far (regions for which it has one). */
  assigned(p: MParcel, b: MBorrower): number {
    return b.contiguous ? (b.ipas.length > 0 ? p.regions.length : 0) : b.ipas.length;
  }

  /** The pages `vmid` reaches, page by page: mapped parcels and memory donated to it. */
  mappingsOf(vmid: number): MMapping[] {
    const out: MMapping[] = [];
    for (const p of this.parcels.values()) {
      const b = p.borrowers.get(vmid);
      if (!b?.mapped) continue;
      const rights = p.acl.find((a) => a.vmid === vmid)!.rights;
      p.regions.forEach((r, i) => {
        const base = this.ipaOf(p, b, i);
        for (let k = 0; k < r.pages; k++) out.push({ ipa: base + k * PAGE, page: r.page + k, rights });
      });
    }
    this.pages.forEach((o, page) => {
      if (o.kind === 'donated' && o.vmid === vmid) out.push({ ipa: o.ipa, page, rights: MemRights.RWX });
    });
    return out;
  }

  /** IPA ranges assigned to `vmid` in parcels it has not mapped (accepting borrowers). */
  pendingRanges(vmid: number): Array<{ ipa: number; size: number }> {
    const out: Array<{ ipa: number; size: number }> = [];
    for (const p of this.parcels.values()) {
      const b = p.borrowers.get(vmid);
      if (!b || b.mapped) continue;
      if (b.contiguous && b.ipas.length > 0) out.push({ ipa: b.ipas[0]!, size: p.regions.reduce((n, r) => n + regionBytes(r), 0) });
      else if (!b.contiguous) b.ipas.forEach((ipa, i) => out.push({ ipa, size: regionBytes(p.regions[i]!) }));
    }
    return out;
  }

  /** Every IPA range `vmid` holds: mapped pages, pending (accepting) ranges, donated pages (§16.5 step 13 reservations). */
  busy(vmid: number): Array<{ ipa: number; size: number }> {
    return [...this.mappingsOf(vmid).map((m) => ({ ipa: m.ipa, size: PAGE })), ...this.pendingRanges(vmid)];
  }

  donatedPages(vmid?: number): number {
    return this.pages.filter((o) => o.kind === 'donated' && (vmid === undefined || o.vmid === vmid)).length;
  }

  /** Whether every page an SGL names is the host's and no two entries overlap (§16.3 ownership walk). */
  takePages(sgl: readonly Range[]): boolean {
    const seen = new Set<number>();
    for (const e of sgl) {
      for (let k = 0; k < e.pages; k++) {
        const pg = e.page + k;
        if (seen.has(pg) || this.pages[pg]!.kind !== 'host') return false;
        seen.add(pg);
      }
    }
    return true;
  }

  zeroRegions(p: MParcel, regions: readonly MRegion[] = p.regions): void {
    for (const r of regions) for (let k = 0; k < r.pages; k++) this.content[r.page + k] = new Uint8Array(SAMPLE);
  }

  drop(p: MParcel): void {
    this.parcels.delete(p.handle);
    this.stale.push(p.handle);
  }

  hostParcels(imageCount: number): number {
    return this.parcels.size + imageCount;
  }
}

/** The 16 sample bytes of page `page` after write number `gen`. */
function pattern(page: number, gen: number): Uint8Array {
  return Uint8Array.from({ length: SAMPLE }, (_, i) => (page * 31 + gen * 7 + i * 13 + 1) & 0xff);
}

// ── operations ─────────────────────────────────────────────────────────────

/** An SGL entry as window pages. */
interface Range {
  readonly page: number;
  readonly pages: number;
}

const rangeArb = fc.record({ page: fc.nat({ max: WINDOW_PAGES - 1 }), pages: fc.integer({ min: 1, max: 3 }) }).map((r) => ({ page: r.page, pages: Math.min(r.pages, WINDOW_PAGES - r.page) }));
const sglArb = fc.array(rangeArb, { minLength: 1, maxLength: 3 });
const dice = fc.nat({ max: 99 });
const pickArb = fc.record({ at: fc.nat(), wild: fc.nat({ max: 9 }).map((n) => n === 0) });
type Pick = { readonly at: number; readonly wild: boolean };

const createArb = fc.record({
  t: fc.constant('create' as const),
  kind: fc.constantFrom(TransType.LEND, TransType.LEND, TransType.SHARE, TransType.SHARE, TransType.DONATE),
  guests: fc.constantFrom(1, 2, 3, 1, 2),
  rights: fc.tuple(fc.constantFrom(...RIGHTS), fc.constantFrom(...RIGHTS)),
  hostRights: fc.constantFrom(...RIGHTS),
  hostDice: dice,
  hostFirst: fc.boolean(),
  donateFull: dice,
  sgl: sglArb,
  sanitize: dice.map((d) => d < 15),
  append: dice.map((d) => d < 30),
  viaCalls: fc.boolean(),
  label: fc.constantFrom(0, 0x11, 0x2222),
});
const appendArb = fc.record({ t: fc.constant('append' as const), pick: pickArb, sgl: sglArb, done: fc.boolean(), byGuest: dice.map((d) => d < 10) });
const acceptArb = fc.record({
  t: fc.constant('accept' as const),
  who: fc.constantFrom(0, 0, 0, 1, 1, 1, 2),
  pick: pickArb,
  rmChosen: fc.boolean(),
  contiguous: dice.map((d) => d < 25),
  done: dice.map((d) => d < 70),
  countMode: fc.constantFrom(0, 0, 0, 1, 2),
  offs: fc.array(fc.nat({ max: CALLER_IPA_PAGES - 1 }), { minLength: 10, maxLength: 10 }),
  sanitize: dice.map((d) => d < 15),
  vLabel: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, 2),
  vSanitized: dice.map((d) => d < 5),
  vAcl: dice.map((d) => (d < 85 ? 0 : d < 92 ? 1 : d < 96 ? 2 : 3)),
  wrongType: dice.map((d) => d < 3),
  wrongSize: dice.map((d) => d < 3),
  /** Caller-chosen IPAs start on an IPA the caller holds already (NORESOURCE, §16.5 step 13). */
  collide: dice.map((d) => d < 30),
});
const releaseArb = fc.record({ t: fc.constant('release' as const), who: fc.constantFrom(0, 0, 1, 1, 2), pick: pickArb, sanitize: dice.map((d) => d < 20) });
const reclaimArb = fc.record({ t: fc.constant('reclaim' as const), pick: pickArb, sanitize: dice.map((d) => d < 20), byGuest: dice.map((d) => d < 8), viaCalls: fc.boolean() });
const notifyArb = fc.record({
  t: fc.constant('notify' as const),
  from: fc.constantFrom(HOST, HOST, HOST, HOST, HOST, 0, 1),
  pick: pickArb,
  flags: fc.constantFrom(MemNotifyFlag.SHARED, MemNotifyFlag.SHARED, MemNotifyFlag.RELEASED, MemNotifyFlag.ACCEPTED, MemNotifyFlag.RECALL, 0x3),
  tagRight: dice.map((d) => d < 85),
  tag: fc.constantFrom(0x100, 0x200),
  targets: fc.uniqueArray(fc.constantFrom(0, 1, HOST, NO_VM), { maxLength: 3 }),
  /** Most notifications go to the parcel's borrowers; the rest to `targets`. */
  toBorrowers: dice.map((d) => d < 70),
});
const resetArb = fc.record({ t: fc.constant('reset' as const), g: fc.constantFrom(0, 1) });
const hostWriteArb = fc.record({ t: fc.constant('hwrite' as const), page: fc.nat({ max: WINDOW_PAGES - 1 }) });
const guestWriteArb = fc.record({ t: fc.constant('gwrite' as const), g: fc.constantFrom(0, 1), at: fc.nat() });

const opArb = fc.oneof(
  { arbitrary: createArb, weight: 8 },
  { arbitrary: appendArb, weight: 3 },
  { arbitrary: acceptArb, weight: 10 },
  { arbitrary: releaseArb, weight: 3 },
  { arbitrary: reclaimArb, weight: 2 },
  { arbitrary: notifyArb, weight: 3 },
  { arbitrary: resetArb, weight: 1 },
  { arbitrary: hostWriteArb, weight: 2 },
  { arbitrary: guestWriteArb, weight: 2 },
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

/** Outcomes seen over all runs, per operation: `create OK`, `accept NORESOURCE`, … */
type Coverage = Map<string, number>;

// ── the run ────────────────────────────────────────────────────────────────

/** Assert `got` is what the model allows: OK when `allowed` is empty, else one of `allowed`. */
function expectOutcome(got: Answer, allowed: readonly RmErrorName[], what: string): void {
  if (allowed.length === 0) expect(got.err, `${what}: expected OK`).toBe('OK');
  else expect(allowed, `${what}: expected ${allowed.join(' or ')}, got ${got.err}`).toContain(got.err);
}

const sglOf = (rs: readonly Range[]): SglEntry[] => rs.map((r) => ({ address: BigInt(pageIpa(r.page)), size: BigInt(r.pages * PAGE) }));

class Run {
  readonly model: Model;
  readonly mem;
  readonly hostBytes0: number;
  readonly hostMappings0: string;
  readonly log: string[] = [];
  genCounter = 1;

  constructor(
    readonly rig: ParcelRig,
    readonly cov: Coverage,
  ) {
    this.model = new Model(rig.imageHandles);
    this.mem = rig.emu.hyp.memory;
    for (let i = 0; i < WINDOW_PAGES; i++) this.mem.writePhys(pageIpa(i), this.model.content[i]!);
    this.hostBytes0 = this.mem.ownership().get(HOST)!;
    this.hostMappings0 = JSON.stringify(this.mem.mappingsOf(HOST));
  }

  get g(): readonly Guest[] {
    return this.rig.guests;
  }

  note(op: string, a: Answer): void {
    const k = `${op} ${a.err}`;
    this.cov.set(k, (this.cov.get(k) ?? 0) + 1);
    this.log.push(k);
  }

  /** A handle for an operation: usually one of `candidates`, sometimes any, a gone one or a bogus one. */
  pickHandle(pick: Pick, candidates: readonly MParcel[]): number {
    const live = [...this.model.parcels.values()].map((p) => p.handle);
    let pool = [...live, ...this.model.stale, ...BOGUS_HANDLES];
    if (!pick.wild) pool = candidates.length > 0 ? candidates.map((p) => p.handle) : live.length > 0 ? live : pool;
    return pool[pick.at % pool.length]!;
  }

  async callAs(who: number, msgId: number, payload: Uint8Array): Promise<Answer> {
    return who === HOST ? this.rig.host(msgId, payload) : this.rig.guest(this.guestOf(who), msgId, payload);
  }

  guestOf(vmid: number): Guest {
    return this.g.find((x) => x.vmid === vmid)!;
  }

  /** Run one operation, check its outcome against the model, and update the model. */
  async step(op: Op): Promise<void> {
    const seenHost = this.rig.hostNotifs.length;
    const seenGuest = this.g.map((x) => x.raw.notifications.length);
    const expected: Array<{ to: number; n: Notif }> = [];
    switch (op.t) {
      case 'create':
        await this.create(op);
        break;
      case 'append':
        await this.append(op);
        break;
      case 'accept':
        await this.accept(op);
        break;
      case 'release':
        await this.release(op);
        break;
      case 'reclaim':
        await this.reclaim(op);
        break;
      case 'notify':
        await this.notify(op, expected);
        break;
      case 'reset':
        await this.reset(op.g, expected);
        break;
      case 'hwrite':
        this.hostWrite(op.page);
        break;
      case 'gwrite':
        this.guestWrite(op.g, op.at);
        break;
    }
    await this.rig.flush();
    // Notifications: exactly the memparcel ones the model expects, per VM (the reset's come one
    // per event, compared as a set).
    const isMem = (n: Notif): boolean => n.msgId >= RmNotifId.MEM_SHARED && n.msgId <= RmNotifId.MEM_RECALL;
    const key = (n: Notif): string => `${n.msgId.toString(16)}:${Buffer.from(n.payload).toString('hex')}`;
    const gotHost = this.rig.hostNotifs.slice(seenHost).filter(isMem).map(key).sort();
    const wantHost = expected.filter((e) => e.to === HOST).map((e) => key(e.n)).sort();
    expect(gotHost, `host notifications after ${op.t}`).toEqual(wantHost);
    this.g.forEach((x, i) => {
      const from = op.t === 'reset' && op.g === i ? 0 : seenGuest[i]!;
      const got = x.raw.notifications.slice(from).filter(isMem).map(key);
      const want = expected.filter((e) => e.to === x.vmid).map((e) => key(e.n));
      expect(got, `guest ${x.vmid} notifications after ${op.t}`).toEqual(want);
    });
    this.verify(op.t);
  }

  // ── create / append ──

  async create(op: Extract<Op, { t: 'create' }>): Promise<void> {
    const [g1, g2] = this.g;
    let kind = op.kind;
    const guests: AclEntry[] = [];
    if (op.guests & 1) guests.push({ vmid: g1!.vmid, rights: op.rights[0] });
    if (op.guests & 2) guests.push({ vmid: g2!.vmid, rights: op.rights[1] });
    if (kind === TransType.DONATE && op.donateFull < 85 && guests.length === 1) guests[0] = { vmid: guests[0]!.vmid, rights: MemRights.RWX };
    const hostIn = kind === TransType.SHARE ? op.hostDice < 88 : op.hostDice < 6;
    const hostEntry = { vmid: HOST, rights: op.hostRights };
    const acl = !hostIn ? guests : op.hostFirst ? [hostEntry, ...guests] : [...guests, hostEntry];
    const viaCalls = op.viaCalls && kind !== TransType.DONATE;
    if (viaCalls) kind = acl.length === 1 ? TransType.LEND : TransType.SHARE; // what memShare sends
    const flags = (op.sanitize ? MemCreateFlag.SANITIZE : 0) | (op.append ? MemCreateFlag.APPEND : 0);
    const sgl = sglOf(op.sgl);
    const what = `${KIND_NAME[kind]} acl ${JSON.stringify(acl)} sgl ${JSON.stringify(op.sgl)} flags ${flags}`;

    // §16.2 limit, §16.1 ACL rule per transaction, §16.3 ownership walk (rolled back).
    let allowed: RmErrorName[] = [];
    if (this.model.hostParcels(this.rig.imageHandles.length) >= 64) allowed = ['DENIED'];
    else if (kind === TransType.LEND && hostIn) allowed = ['ARGUMENT_INVALID'];
    else if (kind === TransType.SHARE && !hostIn) allowed = ['ARGUMENT_INVALID'];
    else if (kind === TransType.DONATE && acl.length !== 1) allowed = ['ARGUMENT_INVALID'];
    else if (kind === TransType.DONATE && acl[0]!.rights !== MemRights.RWX) allowed = ['DENIED'];
    else if (!this.model.takePages(op.sgl)) allowed = ['MEM_INVALID'];

    const a = viaCalls
      ? await answerOf(async () => {
          const h = await this.rig.calls.memShare({ flags, label: op.label, acl, sgl });
          return Uint8Array.of(h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, h >>> 24);
        })
      : await this.rig.host(CREATE_MSG[kind]!, MEM_CREATE_REQ.encode({ memType: MemType.NORMAL, flags, label: op.label, acl, sgl, attrs: [] }));
    this.note(`create(${KIND_NAME[kind]})`, a);
    expectOutcome(a, allowed, `create ${what}`);
    if (a.err !== 'OK') return;

    const handle = u32(a.data);
    // §16.2: a global counter from 0 that skips handles in use: each new handle is above every earlier one.
    expect(handle, 'a new handle is above every earlier one').toBeGreaterThan(this.model.maxHandle);
    this.model.maxHandle = handle;
    const p: MParcel = {
      handle,
      transType: kind,
      acl,
      label: op.label,
      regions: op.sgl.map((r) => ({ page: r.page, pages: r.pages })),
      state: op.append ? 'INIT' : 'SHARING',
      createdSanitized: op.sanitize,
      sanitizeOnReclaim: false,
      tag: undefined,
      borrowers: new Map(acl.filter((e) => e.vmid !== HOST).map((e) => [e.vmid, { shared: false, mapped: false, contiguous: undefined, ipas: [] }])),
    };
    this.model.parcels.set(handle, p);
    for (const r of p.regions) for (let k = 0; k < r.pages; k++) this.model.pages[r.page + k] = { kind: 'parcel', handle };
    if (op.sanitize) this.sanitized(p, p.regions);
  }

  /** The model zeroes `regions` of `p`, and the memory reads zero there, every byte. */
  sanitized(p: MParcel, regions: readonly MRegion[]): void {
    this.model.zeroRegions(p, regions);
    for (const r of regions) {
      const bytes = this.mem.readPhys(pageIpa(r.page), regionBytes(r));
      expect(bytes.every((b) => b === 0), `sanitized region at page ${r.page} reads zero`).toBe(true);
    }
  }

  async append(op: Extract<Op, { t: 'append' }>): Promise<void> {
    const init = [...this.model.parcels.values()].filter((p) => p.state === 'INIT');
    const handle = this.pickHandle(op.pick, init);
    const p = this.model.parcels.get(handle);
    const who = op.byGuest ? this.g[0]!.vmid : HOST;
    // §16.5 APPEND, in order.
    let allowed: RmErrorName[] = [];
    if (!p) allowed = ['HANDLE_INVALID'];
    else if (who !== HOST) allowed = ['DENIED'];
    else if (p.state !== 'INIT') allowed = ['DENIED'];
    else if (!this.model.takePages(op.sgl)) allowed = ['MEM_INVALID'];
    const a = await this.callAs(who, RmMsgId.MEM_APPEND, MEM_APPEND_REQ.encode({ handle, flags: op.done ? MemAppendFlag.DONE : 0, sgl: sglOf(op.sgl) }));
    this.note('append', a);
    expectOutcome(a, allowed, `append to ${handle} by ${who} of ${JSON.stringify(op.sgl)}`);
    if (a.err !== 'OK' || !p) return;
    const added = op.sgl.map((r) => ({ page: r.page, pages: r.pages }));
    p.regions.push(...added);
    for (const r of added) for (let k = 0; k < r.pages; k++) this.model.pages[r.page + k] = { kind: 'parcel', handle };
    if (p.createdSanitized) this.sanitized(p, added);
    if (op.done) p.state = 'SHARING';
  }

  // ── accept ──

  async accept(op: Extract<Op, { t: 'accept' }>): Promise<void> {
    const who = op.who === 2 ? HOST : this.g[op.who]!.vmid;
    const mine = [...this.model.parcels.values()].filter((p) => p.acl.some((e) => e.vmid === who));
    const handle = this.pickHandle(op.pick, mine);
    const p = this.model.parcels.get(handle);
    const b = p?.borrowers.get(who);
    const entry = p?.acl.find((e) => e.vmid === who);
    const sizes = p ? p.regions.map(regionBytes) : [];
    const total = sizes.reduce((n, s) => n + s, 0);
    const have = p && b ? this.model.assigned(p, b) : 0;
    const remaining = sizes.length - have;

    // The request.
    let flags = (op.done ? MemAcceptFlag.DONE : 0) | (op.contiguous ? MemAcceptFlag.MAP_CONTIGUOUS : 0) | (op.sanitize ? MemAcceptFlag.SANITIZE : 0);
    if (op.vLabel > 0) flags |= MemAcceptFlag.VALIDATE_LABEL;
    if (op.vSanitized) flags |= MemAcceptFlag.VALIDATE_SANITIZED;
    if (op.vAcl > 0) flags |= MemAcceptFlag.VALIDATE_ACL_ATTR;
    const label = op.vLabel === 2 ? (p?.label ?? 0) + 1 : (p?.label ?? 0);
    let vacl: AclEntry[] = [];
    if (op.vAcl === 1) vacl = [...(p?.acl ?? [])];
    if (op.vAcl === 2) vacl = (p?.acl ?? [{ vmid: who, rights: MemRights.R }]).map((e, i) => (i === 0 ? { vmid: e.vmid, rights: e.rights === MemRights.R ? MemRights.RW : MemRights.R } : e));
    const transType = p ? (op.wrongType ? (p.transType + 1) % 3 : p.transType) : TransType.LEND;
    let sgl: SglEntry[] = [];
    if (!op.rmChosen) {
      // `collide` starts on an IPA the caller holds already (mapped, accepting or donated; any window).
      const taken = this.model.busy(who);
      const at = (i: number): number => (i === 0 && op.collide && taken.length > 0 ? taken[op.offs[0]! % taken.length]!.ipa : CALLER_IPA_BASE + op.offs[i % op.offs.length]! * PAGE);
      if (op.contiguous) {
        const n = op.countMode === 2 ? 2 : 1;
        sgl = Array.from({ length: n }, (_, i) => ({ address: BigInt(at(i)), size: BigInt(Math.max(total, PAGE) + (op.wrongSize ? PAGE : 0)) }));
      } else {
        let k = op.countMode === 0 ? remaining : op.countMode === 1 ? (remaining >= 2 ? remaining - 1 : remaining) : remaining + 1;
        if (k === 0) k = 1;
        sgl = Array.from({ length: k }, (_, i) => ({ address: BigInt(at(i)), size: BigInt((sizes[have + i] ?? PAGE) + (op.wrongSize && i === 0 ? PAGE : 0)) }));
      }
    }
    const req = { handle, memType: MemType.NORMAL, transType, flags, label, acl: vacl, mapVmid: 0, sgl, attrs: [] };

    // §16.5 ACCEPT errors 1–12, in order; what passes 10 with SANITIZE sets sanitize-on-reclaim.
    let allowed: RmErrorName[] = [];
    if (!p) allowed = ['HANDLE_INVALID'];
    else if (op.wrongType) allowed = ['ARGUMENT_INVALID'];
    else if (op.vSanitized && !p.createdSanitized) allowed = ['VALIDATE_FAILED'];
    else if (op.vLabel === 2) allowed = ['VALIDATE_FAILED'];
    else if (op.vAcl === 2) allowed = ['VALIDATE_FAILED'];
    else if (op.vAcl === 3) allowed = p.acl.length === 0 ? [] : ['ARGUMENT_INVALID', 'VALIDATE_FAILED'];
    else if (!entry) allowed = ['VMID_INVALID'];
    else if (who === HOST || b!.mapped) allowed = ['DENIED'];
    else if (b!.ipas.length > 0 && b!.contiguous !== op.contiguous) allowed = ['ARGUMENT_INVALID'];
    else if (op.sanitize && !(entry.rights & MemRights.W)) allowed = ['ARGUMENT_INVALID'];
    else {
      const slots = op.contiguous ? (have === 0 ? 1 : 0) : remaining;
      if (sgl.length > slots) allowed = ['ARGUMENT_INVALID'];
      else if (op.wrongSize && sgl.length > 0) allowed = ['ARGUMENT_INVALID'];
    }

    // Step 13: the caller's IPAs are reserved for it, so they must not overlap any IPA it holds
    // (mapped, accepting or donated) nor each other; the RM's own choice always finds room here.
    if (allowed.length === 0 && p && b && sgl.length > 0) {
      const ranges = op.contiguous ? [{ ipa: Number(sgl[0]!.address), size: total }] : sgl.map((e, i) => ({ ipa: Number(e.address), size: sizes[have + i]! }));
      const busy = this.model.busy(who);
      const clash = ranges.some((r, i) => busy.some((x) => overlaps(r.ipa, r.size, x.ipa, x.size)) || ranges.slice(0, i).some((q) => overlaps(r.ipa, r.size, q.ipa, q.size)));
      if (clash) allowed = ['NORESOURCE'];
    }
    // Step 15: DONE needs every IPA (an RM-chosen call assigns all that are left: fewer than 512).
    const assignedAfter = sgl.length === 0 ? sizes.length : op.contiguous ? sizes.length : have + sgl.length;
    if (allowed.length === 0 && op.done && assignedAfter < sizes.length) allowed = ['ARGUMENT_INVALID'];
    // Step 17 cannot fail here: a parcel's extent is mapped in at most 3 address spaces (host, 2 guests; M11).

    const a = await this.callAs(who, RmMsgId.MEM_ACCEPT, MEM_ACCEPT_REQ.encode(req));
    const what = `accept of ${handle} by ${who} flags 0x${flags.toString(16)} sgl ${JSON.stringify(sgl, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`;
    this.note('accept', a);
    expectOutcome(a, allowed, what);
    // A refused ACCEPT changes nothing (§16.4: only an accept that succeeds moves the borrower).
    if (a.err !== 'OK' || !p || !b) return;

    // The IPAs this call assigned: the caller's, or the RM's from the reply.
    const contiguous = b.contiguous ?? op.contiguous;
    const newIpas = sgl.length > 0 ? sgl.map((e) => Number(e.address)) : this.checkChosen(who, a, remaining === 0 ? [] : contiguous ? [total] : sizes.slice(have));
    b.contiguous = contiguous;
    b.ipas = contiguous && newIpas.length > 0 ? newIpas : [...b.ipas, ...newIpas];
    if (!b.shared) {
      b.shared = true;
      p.state = 'SHARED';
    }
    if (op.sanitize) p.sanitizeOnReclaim = true;
    if (!op.done) return;
    b.mapped = true;
    if (p.transType === TransType.DONATE) {
      p.regions.forEach((r, i) => {
        const base = this.model.ipaOf(p, b, i);
        for (let k = 0; k < r.pages; k++) this.model.pages[r.page + k] = { kind: 'donated', vmid: who, ipa: base + k * PAGE };
      });
      this.model.drop(p);
    }
  }

  /**
   * Check an RM-chosen IPA reply (§12.5, §16.5): one entry per region left (one for the whole
   * parcel when contiguous) with its size, aligned (2 MiB from 2 MiB up), below 2^44, on no IPA
   * the VM holds already and not overlapping each other. Returns the IPAs.
   */
  checkChosen(who: number, a: Answer, sizes: readonly number[]): number[] {
    const r = MEM_ACCEPT_SGL_REPLY.decode(a.data);
    expect(r.flags, 'no INCOMPLETE: fewer than 512 regions').toBe(0);
    expect(r.sgl.map((e) => Number(e.size)), 'one entry per region left (one for the whole parcel when contiguous)').toEqual(sizes);
    const busy = this.model.busy(who);
    const got = r.sgl.map((e) => ({ ipa: Number(e.address), size: Number(e.size) }));
    got.forEach(({ ipa, size }, i) => {
      expect(ipa % (size >= 0x20_0000 ? 0x20_0000 : PAGE), 'RM-chosen IPAs are aligned').toBe(0);
      expect(ipa + size, 'RM-chosen IPAs stay below 2^44').toBeLessThanOrEqual(2 ** 44);
      const clash = busy.some((x) => overlaps(ipa, size, x.ipa, x.size)) || got.slice(0, i).some((q) => overlaps(ipa, size, q.ipa, q.size));
      expect(clash, `RM-chosen IPA 0x${ipa.toString(16)} is free in VM ${who}`).toBe(false);
    });
    return got.map((x) => x.ipa);
  }

  // ── release / reclaim ──

  async release(op: Extract<Op, { t: 'release' }>): Promise<void> {
    const who = op.who === 2 ? HOST : this.g[op.who]!.vmid;
    const mine = [...this.model.parcels.values()].filter((p) => p.borrowers.get(who)?.shared);
    const handle = this.pickHandle(op.pick, mine);
    const p = this.model.parcels.get(handle);
    const entry = p?.acl.find((e) => e.vmid === who);
    const b = p?.borrowers.get(who);
    // §16.5 RELEASE, in order (no locks; every caller exists).
    let allowed: RmErrorName[] = [];
    if (!p) allowed = ['HANDLE_INVALID'];
    else if (!entry) allowed = ['HANDLE_INVALID'];
    else if (who === HOST) allowed = ['DENIED'];
    else if (!b!.shared) allowed = ['MEM_RELEASED'];
    else if (op.sanitize && !(entry.rights & MemRights.W)) allowed = ['ARGUMENT_INVALID'];
    const a = await this.callAs(who, RmMsgId.MEM_RELEASE, MEM_RELEASE_REQ.encode({ handle, flags: op.sanitize ? 1 : 0 }));
    this.note('release', a);
    expectOutcome(a, allowed, `release of ${handle} by ${who}`);
    if (a.err !== 'OK' || !p || !b) return;
    if (op.sanitize) p.sanitizeOnReclaim = true;
    this.releaseBorrower(p, b);
  }

  releaseBorrower(p: MParcel, b: MBorrower): void {
    b.shared = false;
    b.mapped = false;
    b.contiguous = undefined;
    b.ipas = [];
    if (![...p.borrowers.values()].some((x) => x.shared)) p.state = 'SHARING';
  }

  async reclaim(op: Extract<Op, { t: 'reclaim' }>): Promise<void> {
    const idle = [...this.model.parcels.values()].filter((p) => p.state !== 'SHARED');
    const handle = this.pickHandle(op.pick, idle);
    const p = this.model.parcels.get(handle);
    const who = op.byGuest ? this.g[1]!.vmid : HOST;
    // §16.5 RECLAIM, in order.
    let allowed: RmErrorName[] = [];
    if (!p) allowed = ['HANDLE_INVALID'];
    else if (who !== HOST) allowed = ['DENIED'];
    else if (p.state === 'SHARED') allowed = ['MEM_INUSE'];
    const a =
      who === HOST && op.viaCalls && !op.sanitize
        ? await answerOf(() => this.rig.calls.memReclaim(handle))
        : await this.callAs(who, RmMsgId.MEM_RECLAIM, MEM_RECLAIM_REQ.encode({ handle, flags: op.sanitize ? 1 : 0 }));
    this.note('reclaim', a);
    expectOutcome(a, allowed, `reclaim of ${handle} by ${who}`);
    if (a.err !== 'OK' || !p) return;
    for (const r of p.regions) for (let k = 0; k < r.pages; k++) this.model.pages[r.page + k] = { kind: 'host' };
    if (op.sanitize || p.sanitizeOnReclaim) this.sanitized(p, p.regions);
    this.model.drop(p);
  }

  // ── notify ──

  async notify(op: Extract<Op, { t: 'notify' }>, expected: Array<{ to: number; n: Notif }>): Promise<void> {
    const who = op.from === HOST ? HOST : this.g[op.from]!.vmid;
    const handle = this.pickHandle(op.pick, [...this.model.parcels.values()]);
    const p = this.model.parcels.get(handle);
    const tag = p?.tag !== undefined ? (op.tagRight ? p.tag : p.tag + 1) : op.tag;
    const borrowers = p ? [...p.borrowers.keys()] : [];
    const targets = op.toBorrowers && borrowers.length > 0 ? borrowers : op.targets.map((t) => (t === HOST || t === NO_VM ? t : this.g[t]!.vmid));
    const withList = op.flags === MemNotifyFlag.SHARED || op.flags === MemNotifyFlag.RECALL;
    const tagBad = p?.tag !== undefined && tag !== p.tag;
    let allowed: RmErrorName[] = [];
    if (!p) allowed = ['HANDLE_INVALID'];
    else if (withList) {
      // §16.5 NOTIFY SHARED / RECALL: owner only; then tag, count, each target in order.
      const inOrder: RmErrorName[] = [];
      if (tagBad) inOrder.push('ARGUMENT_INVALID');
      if (targets.length === 0 || targets.length > 1 + this.g.length) inOrder.push('ARGUMENT_INVALID');
      for (const t of targets) {
        if (t === NO_VM) inOrder.push('VMID_INVALID');
        else if (!p.acl.some((e) => e.vmid === t)) inOrder.push('ARGUMENT_INVALID');
      }
      allowed = [...(who !== HOST ? (['DENIED'] as const) : []), ...inOrder.slice(0, 1)];
    } else if (op.flags === MemNotifyFlag.ACCEPTED || op.flags === MemNotifyFlag.RELEASED) {
      const b = p.borrowers.get(who);
      const inOrder: RmErrorName[] = [];
      if (!p.acl.some((e) => e.vmid === who)) inOrder.push('HANDLE_INVALID');
      else if (op.flags === MemNotifyFlag.ACCEPTED && !b?.shared) inOrder.push('MEM_RELEASED');
      else if (op.flags === MemNotifyFlag.RELEASED && b?.shared) inOrder.push('MEM_INUSE');
      allowed = [...(tagBad ? (['ARGUMENT_INVALID'] as const) : []), ...inOrder.slice(0, 1)];
    } else {
      allowed = ['ARGUMENT_INVALID'];
    }
    const payload = MEM_NOTIFY_REQ.encode({ handle, flags: op.flags, memInfoTag: tag, vmids: withList ? targets : [] });
    const a = await this.callAs(who, RmMsgId.MEM_NOTIFY, payload);
    this.note(`notify(${op.flags})`, a);
    expectOutcome(a, allowed, `notify 0x${op.flags.toString(16)} of ${handle} by ${who} tag ${tag} to ${JSON.stringify(targets)}`);
    if (a.err !== 'OK' || !p) return;
    if (op.flags === MemNotifyFlag.SHARED) {
      p.tag ??= tag;
      const payloadOut = MEM_SHARED_PAYLOAD.encode({
        handle,
        memType: MemType.NORMAL,
        transType: p.transType,
        flags: p.createdSanitized ? 1 : 0,
        owner: HOST,
        label: p.label,
        memInfoTag: p.tag,
        acl: p.acl,
        sizes: p.regions.map((r) => BigInt(regionBytes(r))),
        attrs: [],
      });
      for (const t of targets) expected.push({ to: t, n: { msgId: RmNotifId.MEM_SHARED, payload: payloadOut } });
    } else if (op.flags === MemNotifyFlag.RECALL) {
      for (const t of targets) expected.push({ to: t, n: { msgId: RmNotifId.MEM_RECALL, payload: MEM_RECALL_PAYLOAD.encode({ handle, memInfoTag: p.tag ?? 0 }) } });
    } else {
      const id = op.flags === MemNotifyFlag.ACCEPTED ? RmNotifId.MEM_ACCEPTED : RmNotifId.MEM_RELEASED;
      expected.push({ to: HOST, n: { msgId: id, payload: MEM_OWNER_NOTIF_PAYLOAD.encode({ handle, vmid: who, memInfoTag: p.tag ?? 0 }) } });
    }
  }

  // ── reset, writes ──

  /**
   * Reset guest `gi` (rm-rpc.md §15.4): every parcel it accepted is released and the host hears
   * MEM_RELEASED for each. Memory donated to it stays, mapped where it was accepted.
   */
  async reset(gi: number, expected: Array<{ to: number; n: Notif }>): Promise<void> {
    const g = this.g[gi]!;
    // The image parcel VM_START accepted for the guest is released too (decisions B2).
    const image = this.rig.imageHandles[this.rig.guests.indexOf(g)]!;
    expected.push({ to: HOST, n: { msgId: RmNotifId.MEM_RELEASED, payload: MEM_OWNER_NOTIF_PAYLOAD.encode({ handle: image, vmid: g.vmid, memInfoTag: 0 }) } });
    for (const p of this.model.parcels.values()) {
      const b = p.borrowers.get(g.vmid);
      if (!b?.shared) continue;
      expected.push({ to: HOST, n: { msgId: RmNotifId.MEM_RELEASED, payload: MEM_OWNER_NOTIF_PAYLOAD.encode({ handle: p.handle, vmid: g.vmid, memInfoTag: p.tag ?? 0 }) } });
      this.releaseBorrower(p, b);
    }
    await this.rig.resetGuest(g);
    this.cov.set('reset', (this.cov.get('reset') ?? 0) + 1);
    this.log.push('reset');
  }

  hostWrite(page: number): void {
    const o = this.model.pages[page]!;
    const p = o.kind === 'parcel' ? this.model.parcels.get(o.handle)! : undefined;
    const rights = o.kind === 'host' ? MemRights.RWX : p?.transType === TransType.SHARE ? p.acl.find((e) => e.vmid === HOST)!.rights : 0;
    const fault = this.mem.check(HOST, pageIpa(page), SAMPLE, 'write');
    expect(fault === undefined, `host write access to page ${page} (${o.kind})`).toBe((rights & MemRights.W) !== 0);
    if (fault) return;
    const bytes = pattern(page, this.genCounter++);
    this.mem.write(HOST, pageIpa(page), bytes);
    this.model.content[page] = bytes;
    this.cov.set('hwrite', (this.cov.get('hwrite') ?? 0) + 1);
  }

  guestWrite(gi: number, at: number): void {
    const vmid = this.g[gi]!.vmid;
    const ms = this.model.mappingsOf(vmid);
    if (ms.length === 0) return;
    const m = ms[at % ms.length]!;
    const fault = this.mem.check(vmid, m.ipa, SAMPLE, 'write');
    expect(fault === undefined, `guest ${vmid} write access at 0x${m.ipa.toString(16)}`).toBe((m.rights & MemRights.W) !== 0);
    if (fault) return;
    const bytes = pattern(m.page, this.genCounter++);
    this.mem.write(vmid, m.ipa, bytes);
    this.model.content[m.page] = bytes;
    this.cov.set('gwrite', (this.cov.get('gwrite') ?? 0) + 1);
  }

  // ── the checks after every step ──

  verify(after: string): void {
    const at = `after ${after} (${this.log.join(', ')})`;
    expect(this.rig.emu.checkInvariants(), `invariants ${at}`).toEqual([]);
    const { model, mem } = this;

    // The RM's parcels are the model's (plus the images).
    const images = new Set(this.rig.imageHandles);
    const rmParcels = this.rig.emu.rm.inspect().parcels.filter((x) => !images.has(x.handle));
    const want = [...model.parcels.values()].map((p) => ({ handle: p.handle, owner: HOST, size: p.regions.reduce((n, r) => n + regionBytes(r), 0), state: p.state, transType: p.transType }));
    const byHandle = (x: { handle: number }, y: { handle: number }): number => x.handle - y.handle;
    expect([...rmParcels].sort(byHandle), `parcels ${at}`).toEqual(want.sort(byHandle));

    // The host's access to each window page, and what it reads.
    model.pages.forEach((o, page) => {
      const pa = pageIpa(page);
      const read = mem.check(HOST, pa, SAMPLE, 'read');
      const write = mem.check(HOST, pa, SAMPLE, 'write');
      let rights = 0;
      if (o.kind === 'host') rights = MemRights.RWX;
      else if (o.kind === 'parcel') {
        const p = model.parcels.get(o.handle)!;
        if (p.transType === TransType.SHARE) rights = p.acl.find((e) => e.vmid === HOST)!.rights;
      }
      if (rights === 0) {
        expect(read?.reason, `host read of ${o.kind === 'parcel' ? 'lent' : 'donated'} page ${page} ${at}`).toBe('unmapped');
        expect(mem.readPhys(pa, SAMPLE), `contents of page ${page} kept while out of the host's reach ${at}`).toEqual(model.content[page]);
      } else {
        expect(read, `host read of page ${page} (${o.kind}) ${at}`).toBeUndefined();
        expect(mem.read(HOST, pa, SAMPLE), `host reads page ${page} ${at}`).toEqual(model.content[page]);
        expect(write?.reason, `host write of page ${page} ${at}`).toBe(rights & MemRights.W ? undefined : 'permission');
      }
    });

    // Each guest reaches exactly the model's pages, with their rights and contents.
    for (const g of this.g) {
      const ms = model.mappingsOf(g.vmid);
      for (const m of ms) {
        const w = `guest ${g.vmid} at IPA 0x${m.ipa.toString(16)} (page ${m.page}) ${at}`;
        expect(mem.check(g.vmid, m.ipa, SAMPLE, 'read'), `read ${w}`).toBeUndefined();
        expect(mem.read(g.vmid, m.ipa, SAMPLE), `reads ${w}`).toEqual(model.content[m.page]);
        expect(mem.check(g.vmid, m.ipa, SAMPLE, 'write')?.reason, `write ${w}`).toBe(m.rights & MemRights.W ? undefined : 'permission');
        expect(mem.check(g.vmid, m.ipa, SAMPLE, 'exec')?.reason, `exec ${w}`).toBe(m.rights & MemRights.X ? undefined : 'permission');
        const t = mem.translate(g.vmid, m.ipa, PAGE);
        expect(t.map((x) => x.pa), `translation ${w}`).toEqual([pageIpa(m.page)]);
      }
      const mapped = mem.mappingsOf(g.vmid).filter(notImage).reduce((n, x) => n + x.size, 0);
      expect(mapped, `bytes mapped in guest ${g.vmid} ${at}`).toBe(ms.length * PAGE);
      // IPAs an accepting borrower holds are not mapped (unless another mapping is there).
      for (const r of model.pendingRanges(g.vmid)) {
        if (ms.some((m) => overlaps(r.ipa, r.size, m.ipa, PAGE))) continue;
        expect(mem.check(g.vmid, r.ipa, 1, 'read')?.reason, `pending IPA 0x${r.ipa.toString(16)} of guest ${g.vmid} ${at}`).toBe('unmapped');
      }
    }

    // Ownership moves only with donations (a parcel's extent belongs to its owner).
    const own = mem.ownership();
    expect(own.get(HOST), `host bytes ${at}`).toBe(this.hostBytes0 - model.donatedPages() * PAGE);
    for (const g of this.g) expect(own.get(g.vmid) ?? 0, `guest ${g.vmid} bytes ${at}`).toBe(model.donatedPages(g.vmid) * PAGE);
    if (![...model.parcels.values()].some((p) => p.transType === TransType.SHARE)) {
      expect(JSON.stringify(mem.mappingsOf(HOST)), `host stage 2 with no SHARE live ${at}`).toBe(this.hostMappings0);
    }
  }

  /** Release and reclaim everything, then check the host is back where it started, donations apart. */
  async finish(): Promise<void> {
    for (const p of [...this.model.parcels.values()]) {
      for (const [vmid, b] of p.borrowers) {
        if (!b.shared) continue;
        const a = await this.rig.guest(this.guestOf(vmid), RmMsgId.MEM_RELEASE, MEM_RELEASE_REQ.encode({ handle: p.handle, flags: 0 }));
        expectOutcome(a, [], `final release of ${p.handle} by ${vmid}`);
        this.releaseBorrower(p, b);
      }
      const a = await answerOf(() => this.rig.calls.memReclaim(p.handle));
      expectOutcome(a, [], `final reclaim of ${p.handle}`);
      for (const r of p.regions) for (let k = 0; k < r.pages; k++) this.model.pages[r.page + k] = { kind: 'host' };
      if (p.sanitizeOnReclaim) this.sanitized(p, p.regions);
      this.model.drop(p);
    }
    await this.rig.flush();
    this.verify('final release and reclaim');
    const images = new Set(this.rig.imageHandles);
    expect(this.rig.emu.rm.inspect().parcels.filter((x) => !images.has(x.handle)), 'no parcel left').toEqual([]);
    expect(JSON.stringify(this.mem.mappingsOf(HOST)), 'host stage 2 as at the start').toBe(this.hostMappings0);
    const own = this.mem.ownership();
    const donated = this.model.donatedPages();
    expect(own.get(HOST), 'host owns all it had but what it donated').toBe(this.hostBytes0 - donated * PAGE);
    for (const g of this.g) {
      const pages = this.model.donatedPages(g.vmid);
      expect(own.get(g.vmid) ?? 0, `guest ${g.vmid} keeps what was donated to it`).toBe(pages * PAGE);
      expect(this.mem.mappingsOf(g.vmid).filter(notImage).reduce((n, m) => n + m.size, 0), `guest ${g.vmid} maps only donated memory (and its image)`).toBe(pages * PAGE);
    }
    for (let page = 0; page < WINDOW_PAGES; page++) {
      if (this.model.pages[page]!.kind !== 'donated') expect(this.mem.check(HOST, pageIpa(page), PAGE, 'write'), `host has page ${page} back`).toBeUndefined();
    }
  }
}

describe('memory parcels: random operation sequences against a model', () => {
  const coverage: Coverage = new Map();

  // PARCEL_RUNS and PARCEL_SEED (environment) run more sequences or replay one.
  const runs = Number(process.env.PARCEL_RUNS ?? 100);
  fcTest.prop([fc.array(opArb, { minLength: 8, maxLength: 50, size: 'max' })], { numRuns: runs, ...(process.env.PARCEL_SEED ? { seed: Number(process.env.PARCEL_SEED) } : {}) })(
    'every step keeps the RM invariants and the model; everything comes back at the end',
    async (ops) => {
      const rig = await ParcelRig.create(2);
      try {
        const run = new Run(rig, coverage);
        run.verify('set-up');
        for (const op of ops) await run.step(op);
        await run.finish();
      } finally {
        rig.close();
      }
    },
    Math.max(120_000, runs * 1000),
  );

  test('the runs covered each operation with success and with refusals', () => {
    const ok = (op: string): number => [...coverage].filter(([k]) => k.startsWith(op) && k.endsWith(' OK')).reduce((n, [, v]) => n + v, 0);
    const refused = (op: string): number => [...coverage].filter(([k]) => k.startsWith(op) && !k.endsWith(' OK')).reduce((n, [, v]) => n + v, 0);
    for (const op of ['create(LEND)', 'create(SHARE)', 'create(DONATE)', 'append', 'accept', 'release', 'reclaim', 'notify(1)', 'notify(8)']) {
      expect(ok(op), `${op} succeeded at least once`).toBeGreaterThan(0);
      expect(refused(op), `${op} was refused at least once`).toBeGreaterThan(0);
    }
    for (const k of ['accept NORESOURCE', 'create(LEND) MEM_INVALID', 'reclaim MEM_INUSE', 'reset', 'hwrite', 'gwrite']) {
      expect(coverage.get(k) ?? 0, `${k} happened`).toBeGreaterThan(0);
    }
  });
});
