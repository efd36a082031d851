/**
 * `gunyah-emu trace view`: a trace (docs/tracing.md) as one self-contained HTML file — the
 * timeline of src/trace/perfetto-model.ts embedded as JSON, the style sheet and the drawing
 * script inline (src/trace/html-view-script.ts). The page loads nothing: its Content Security
 * Policy forbids every fetch, so it opens from a file anywhere, with no other tool and no
 * network. It draws a row per track (the vCPUs of each VM, the VMM, the RM, the kernel's
 * tracks, the SCMI agents), slices as labelled boxes, exits as markers, flows as arrows, and
 * shows an event's fields on hover; the mouse wheel, the buttons and the keys zoom and pan.
 *
 * `#range=FROM-TO` (µs) after the file's URL opens the view on that time range.
 *
 * Reference: docs/reproducing-an-exit-reason-bug.md (how the view is used).
 */
import type { TraceEvent } from '../shared/trace.js';
import type { TraceHeaderEvent } from '../shared/trace-events.js';
import { HTML_VIEW_CSS, HTML_VIEW_SCRIPT } from './html-view-script.js';
import { buildTimeline, type Timeline } from './perfetto-model.js';

/** Text for HTML element content and attribute values. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that can sit inside a <script> element: no `<` (so no `</script>`), no line separators. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The scenario description of a trace header, when it has one. */
function describe(h: TraceHeaderEvent | undefined): string {
  if (!h) return 'no trace header';
  const s = h.scenario;
  const d = typeof s === 'object' && s !== null ? (s as Record<string, unknown>)['description'] : s;
  const what = typeof d === 'string' ? (d === 'default' ? 'the default scenario' : d) : 'scenario';
  return `${what} — seed ${h.seed}, gunyah-emu ${h.emulator}`;
}

const LEGEND: ReadonlyArray<[string, string]> = [
  ['#3f6fa8', 'RUN ioctl'],
  ['#e8862a', 'vcpu_run'],
  ['#4f9e99', 'ioctl'],
  ['#4f9a45', 'RM call'],
  ['#c9a227', 'notification'],
  ['#9a6796', 'SCMI'],
  ['#d62728', 'exit ▼'],
  ['#2f5f98', 'ioctl return'],
  ['#8a8a8a', 'guest op ●'],
];

/** The HTML page of a timeline. */
export function timelineToHtml(tl: Timeline, title = 'gunyah-emu trace'): string {
  const sub = describe(tl.header);
  const legend = LEGEND.map(([c, l]) => `<span><i style="background:${c}"></i>${escapeHtml(l)}</span>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${HTML_VIEW_CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<div class="sub" title="${escapeHtml(sub)}">${escapeHtml(sub)}</div>
<div class="bar">
<button id="zin" title="zoom in (+)">+</button><button id="zout" title="zoom out (-)">−</button><button id="fit" title="whole trace (0)">fit</button><button id="left" title="pan left (←)">◀</button><button id="right" title="pan right (→)">▶</button>
<span id="range"></span><span id="status"></span>
<span class="legend">${legend}</span>
</div>
</header>
<noscript><p>This timeline is drawn by the page's inline script: allow scripts for this file.</p></noscript>
<div id="view"><svg id="timeline" xmlns="http://www.w3.org/2000/svg" data-rendered="no"></svg></div>
<div id="tip" hidden></div>
<script type="application/json" id="timeline-data">${scriptJson(tl)}</script>
<script>${HTML_VIEW_SCRIPT}</script>
</body>
</html>
`;
}

/** The HTML view of a parsed trace (`parseJsonLines`) or of a memory sink's records. */
export function traceToHtml(trace: { readonly header?: TraceHeaderEvent | undefined; readonly events: readonly TraceEvent[] }, title?: string): string {
  return timelineToHtml(buildTimeline(trace), title);
}
