/**
 * The HTML timeline view (src/trace/html-view.ts, `gunyah-emu trace view`): the page is one
 * self-contained file (no external script, style sheet, image or font; a Content Security
 * Policy that forbids fetching; the timeline embedded as JSON that survives `</script>` in a
 * record), its script is valid JavaScript, and — in headless Chromium (Debian's `chromium`) —
 * the script renders a `g.track` per track of the timeline with that track's slice count, every
 * slice drawn as a box in the initial (whole-trace) view, the exits as markers and the flows as
 * arrows; a screenshot of 1400×800 is a PNG of that size. The browser tests are skipped where
 * /usr/bin/chromium is not installed (`.ci/run` installs it when it can).
 *
 * Reference: docs/reproducing-an-exit-reason-bug.md (the view and its screenshot).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ScenarioLoader, runScenario } from '../../src/scenario/index.js';
import { createMemoryTraceSink, type TraceEvent } from '../../src/shared/trace.js';
import type { TraceHeaderEvent } from '../../src/shared/trace-events.js';
import { HTML_VIEW_SCRIPT } from '../../src/trace/html-view-script.js';
import { timelineToHtml, traceToHtml } from '../../src/trace/html-view.js';
import { buildTimeline, type Timeline } from '../../src/trace/perfetto-model.js';
import { createJsonLinesSink, traceHeader } from '../../src/trace/sinks.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** Said in the names of the browser tests when they are skipped. */
const SKIP_WHY = HAVE_CHROMIUM ? '' : ` — skipped: ${CHROMIUM} is not installed (Debian package chromium; .ci/run installs it when it can)`;
const run = promisify(execFile);
const DIR = join(import.meta.dirname, '../../examples/scenarios');
const tmp = mkdtempSync(join(tmpdir(), 'gunyah-html-view-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Run an example scenario with a memory sink: its header and records. */
async function traced(file: string): Promise<{ header: TraceHeaderEvent; events: TraceEvent[] }> {
  const loaded = new ScenarioLoader().parse(readFileSync(join(DIR, file), 'utf8'));
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('; '));
  const sink = createMemoryTraceSink();
  const r = await runScenario(loaded, { trace: sink });
  expect(r.failed).toBe(0);
  return { header: traceHeader(loaded.plan.seed, loaded.scenario), events: sink.events };
}

/** The timeline JSON embedded in a page. */
function embedded(html: string): Timeline {
  const m = /<script type="application\/json" id="timeline-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as Timeline;
}

describe('the HTML view page', () => {
  it('is self-contained: inline style and script, no external resource, fetching forbidden', async () => {
    const html = traceToHtml(await traced('ioeventfd-datamatch.json'));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'`);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<(script|img|iframe|embed|object|audio|video|source)\b[^>]*\bsrc=/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?(https?:|\/\/)/i);
    // The only URL is the SVG namespace name (an identifier, never fetched).
    expect(html.match(/https?:\/\/[^\s"'<)]+/g)?.filter((u) => u !== 'http://www.w3.org/2000/svg') ?? []).toEqual([]);
  });

  it('embeds the timeline and the scenario description, and the script is valid JavaScript', async () => {
    const trace = await traced('ioeventfd-datamatch.json');
    const html = traceToHtml(trace, 'my title');
    const tl = embedded(html);
    expect(tl).toEqual(JSON.parse(JSON.stringify(buildTimeline(trace))));
    expect(html).toContain('<title>my title</title>');
    expect(html).toContain('ioeventfd DATAMATCH mismatch');
    expect(() => new Function(HTML_VIEW_SCRIPT)).not.toThrow();
  });

  it('keeps record text that looks like markup inside its JSON', () => {
    const events: TraceEvent[] = [{ seq: 1, t: 1000, kind: 'rm.drop', side: 'rm', vmid: 3, reason: '</script><script>alert(1)</script>', detail: '<b>&amp;' }];
    const html = timelineToHtml(buildTimeline({ events }), '<i>title</i>');
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    expect(html).toContain('<title>&lt;i&gt;title&lt;/i&gt;</title>');
    expect(embedded(html).instants[0]!.args['reason']).toBe('</script><script>alert(1)</script>');
  });

  it('gunyah-emu trace view writes the page next to the trace or to -o', async () => {
    const { header, events } = await traced('mmio-lengths.json');
    let text = '';
    const sink = createJsonLinesSink((s) => void (text += s), header);
    events.forEach((e) => sink.emit(e));
    sink.close();
    const input = join(tmp, 'lengths.jsonl');
    writeFileSync(input, text);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['trace', 'view', input])).toBe(0);
      expect(await main(['trace', 'view', input, '-o', join(tmp, 'other.html')])).toBe(0);
      expect(await main(['trace', 'view', join(tmp, 'missing.jsonl')])).toBe(2);
    } finally {
      err.mockRestore();
    }
    const page = readFileSync(join(tmp, 'lengths.html'), 'utf8');
    expect(readFileSync(join(tmp, 'other.html'), 'utf8')).toBe(page);
    expect(embedded(page).tracks.length).toBeGreaterThan(3);
    expect(page).toContain('gunyah-emu trace: lengths.jsonl');
  });
});

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Run headless Chromium on a page with a fresh profile directory. */
async function chromium(args: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmp, 'profile-'));
  try {
    const r = await run(CHROMIUM, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args], { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Attributes of an element's start tag. */
function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

describe('the HTML view in headless Chromium', () => {
  it.skipIf(!HAVE_CHROMIUM).each(['ioeventfd-datamatch.json', 'immediate-exit.json', 'scmi-crash-votes.json'])(
    `renders every track of %s with its slices, exits and flows${SKIP_WHY}`,
    async (file) => {
      const trace = await traced(file);
      const tl = buildTimeline(trace);
      const page = join(tmp, file.replace(/\.json$/, '.html'));
      writeFileSync(page, timelineToHtml(tl));
      const dom = await chromium(['--dump-dom', `file://${page}`]);

      const svgTag = /<svg id="timeline"[^>]*>/.exec(dom)?.[0];
      expect(svgTag, 'the rendered <svg>').toBeDefined();
      const svg = attrs(svgTag!);
      expect(svg['data-rendered']).toBe('yes');
      expect(Number(svg['data-tracks'])).toBe(tl.tracks.length);
      expect(Number(svg['data-slices-drawn'])).toBe(tl.slices.length);
      expect(Number(svg['data-instants-drawn'])).toBe(tl.instants.length);
      expect(Number(svg['data-flows-drawn'])).toBe(tl.flows.length);

      const groups = [...dom.matchAll(/<g class="track"([^>]*)>([\s\S]*?)<\/g>/g)];
      expect(groups.map((g) => attrs(g[1]!)['data-tid'])).toEqual(tl.tracks.map((t) => String(t.tid)));
      for (const g of groups) {
        const a = attrs(g[1]!);
        const tr = tl.tracks.find((t) => String(t.tid) === a['data-tid'])!;
        const process = tl.processes.find((p) => p.pid === tr.pid)!;
        expect(a['data-track']).toBe(tr.name);
        expect(a['data-process']).toBe(process.name);
        expect(a['data-kind']).toBe(tr.kind);
        const slices = tl.slices.filter((s) => s.tid === tr.tid).length;
        expect(Number(a['data-slices'])).toBe(slices);
        expect(Number(a['data-slices-drawn'])).toBe(slices);
        expect(g[2]!.match(/<rect [^>]*class="slice /g)?.length ?? 0).toBe(slices);
        const exits = tl.instants.filter((i) => i.tid === tr.tid && i.cat === 'exit').length;
        expect(Number(a['data-exits'])).toBe(exits);
      }
      // Every vCPU of every VM has its track, and the exits are all drawn.
      const vcpuTracks = groups.map((g) => attrs(g[1]!)).filter((a) => a['data-kind'] === 'vcpu');
      const vcpus = new Set(trace.events.filter((e) => e.kind === 'vcpu.exit').map((e) => `${String(e['vm'])}/${String(e['vcpu'])}`));
      expect(vcpuTracks.length).toBeGreaterThanOrEqual(vcpus.size);
      expect(vcpuTracks.reduce((n, a) => n + Number(a['data-exits']), 0)).toBe(trace.events.filter((e) => e.kind === 'vcpu.exit').length);
      expect(dom.match(/<path [^>]*class="flow /g)?.length ?? 0).toBe(tl.flows.length);
    },
    120_000,
  );

  it.skipIf(!HAVE_CHROMIUM)(
    `takes a 1400×800 screenshot of a zoomed view with a pinned event${SKIP_WHY}`,
    async () => {
      const trace = await traced('ioeventfd-datamatch.json');
      const page = join(tmp, 'shot.html');
      writeFileSync(page, traceToHtml(trace));
      const exit = trace.events.find((e) => e.kind === 'vcpu.exit' && e['addr'] === '0x60000')!;
      const t = (exit['t'] as number) / 1000;
      const dom = await chromium(['--dump-dom', `file://${page}#range=${t - 30}-${t + 10}&pin=${String(exit['seq'])}`]);
      // The zoomed view draws fewer slices, and the pinned exit's fields are shown.
      const svg = attrs(/<svg id="timeline"[^>]*>/.exec(dom)![0]);
      expect(Number(svg['data-slices-drawn'])).toBeLessThan(buildTimeline(trace).slices.length);
      const tip = /<div id="tip" class="pinned"[^>]*>([\s\S]*?)<\/div>\s*<script type="application\/json"/.exec(dom);
      expect(tip, 'the pinned tooltip, shown').not.toBeNull();
      expect(tip![0]).not.toMatch(/^<div[^>]*hidden/);
      expect(tip![1]).toContain('<b>exit MMIO W 0x60000/8 = 0x1234</b>');
      expect(tip![1]).toContain(`seq: </span>${String(exit['seq'])}`);
      const png = join(tmp, 'shot.png');
      await chromium(['--hide-scrollbars', `--screenshot=${png}`, '--window-size=1400,800', `file://${page}#range=${t - 30}-${t + 10}&pin=${String(exit['seq'])}`]);
      const bytes = readFileSync(png);
      expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1400, 800]);
      expect(bytes.length).toBeGreaterThan(20_000);
    },
    120_000,
  );
});

describe('the screenshot in docs/', () => {
  it('are 1400×800 PNGs made by headless Chromium from the example of the walk-through', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/reproducing-an-exit-reason-bug.md'), 'utf8');
    const refs = [...doc.matchAll(/!\[[^\]]*\]\((img\/[\w.-]+\.png)\)/g)].map((m) => m[1]!);
    expect(refs.length, 'the doc embeds PNGs from docs/img').toBeGreaterThan(0);
    for (const ref of refs) {
      const bytes = readFileSync(join(import.meta.dirname, '../../docs', ref));
      expect([...bytes.subarray(1, 4)], ref).toEqual([0x50, 0x4e, 0x47]);
      expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], ref).toEqual([1400, 800]);
    }
  });
});
