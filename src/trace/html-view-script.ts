/**
 * The script and style sheet of the HTML timeline view (src/trace/html-view.ts), as text put
 * inline in the page. The script runs in the browser: it reads the timeline (the model of
 * src/trace/perfetto-model.ts, embedded as JSON in the page) and draws it as SVG — a label
 * column, a time axis, one row per track (slices as labelled boxes nested by depth, instants as
 * markers: exits as red triangles, ioctl returns as blue ticks, guest operations as grey dots),
 * flows as arrows, counters as step lines — with a tooltip showing an event's fields, zoom with
 * the mouse wheel, buttons or keys (+, -, 0, arrows), and panning by dragging.
 *
 * The rendered SVG describes itself for tests: the root carries `data-tracks`,
 * `data-slices-drawn`, `data-instants-drawn`, `data-flows-drawn`, `data-rendered`; each track is
 * a `g.track` with `data-tid`, `data-track`, `data-process`, `data-kind`, `data-slices` (all the
 * track's slices), `data-slices-drawn` (those in view) and `data-exits`.
 *
 * Plain ES2017 in a string (no template literals, so the text needs no escaping here); no
 * network, no external files.
 *
 * Reference: docs/reproducing-an-exit-reason-bug.md (what the view shows).
 */

export const HTML_VIEW_CSS = String.raw`
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.35 system-ui, "DejaVu Sans", sans-serif; color: #1d1d1f; background: #fafafa; }
header { padding: 8px 12px 6px; background: #fff; border-bottom: 1px solid #ddd; position: sticky; top: 0; z-index: 2; }
h1 { font-size: 15px; margin: 0 0 2px; }
.sub { color: #555; font-size: 12px; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.bar { margin-top: 6px; display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.bar button { font: inherit; padding: 1px 9px; border: 1px solid #bbb; border-radius: 4px; background: #f4f4f4; cursor: pointer; }
.bar button:hover { background: #e8e8e8; }
#range, #status { color: #555; font-size: 12px; margin-left: 8px; }
.legend { display: flex; gap: 10px; flex-wrap: wrap; font-size: 11px; color: #444; margin-left: auto; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 3px; vertical-align: -1px; border-radius: 2px; }
#view { padding: 0 0 12px; overflow-x: hidden; }
svg { display: block; user-select: none; }
svg text { font: 10px "DejaVu Sans", system-ui, sans-serif; }
.plabel { font-weight: bold; font-size: 11px; fill: #222; }
.tlabel { fill: #333; font-size: 11px; }
.axis text { fill: #666; }
.clabel { fill: #777; font-size: 9.5px; }
.axis line { stroke: #e3e3e3; }
.slice { stroke: rgba(0,0,0,.25); stroke-width: .5; }
.slice:hover, .marker:hover { stroke: #000; stroke-width: 1.5; }
.stext { fill: #fff; pointer-events: none; }
.cat-run { fill: #3f6fa8; } .cat-vcpu_run { fill: #e8862a; } .cat-ioctl { fill: #4f9e99; }
.cat-rm { fill: #4f9a45; } .cat-notify { fill: #c9a227; } .cat-scmi { fill: #9a6796; }
.mk-exit { fill: #d62728; } .mk-ioctl { fill: #2f5f98; } .mk-guest { fill: #8a8a8a; } .mk-frame { fill: #b5aca6; }
.mk-status { fill: #2c8c3c; } .mk-kernel { fill: #d6609b; } .mk-hyp { fill: #8c6d5a; } .mk-fault { fill: #b00020; }
.mk-rm { fill: #5aa85a; } .mk-scmi { fill: #9a6796; }
.flow { fill: none; stroke: #333; stroke-opacity: .45; stroke-width: 1; }
.flow:hover { stroke-opacity: 1; stroke-width: 2; }
.ctr { fill: none; stroke-width: 1.5; }
.ctr-0 { stroke: #3f6fa8; } .ctr-1 { stroke: #e8862a; } .ctr-2 { stroke: #4f9a45; }
.cpt { fill: #444; fill-opacity: .01; }
.cpt:hover { fill-opacity: .8; }
.rowbg-0 { fill: #fff; } .rowbg-1 { fill: #f5f6f8; } .procbg { fill: #e9ecf1; }
#tip { position: fixed; z-index: 5; max-width: 560px; background: #fffffb; border: 1px solid #999; border-radius: 4px;
  padding: 6px 8px; font: 11px/1.35 "DejaVu Sans Mono", ui-monospace, monospace; box-shadow: 0 2px 8px rgba(0,0,0,.2);
  pointer-events: none; white-space: pre-wrap; word-break: break-all; }
#tip.pinned { border-color: #333; box-shadow: 0 2px 10px rgba(0,0,0,.35); }
#tip b { font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 12px; }
#tip .k { color: #555; }
`;

export const HTML_VIEW_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('timeline-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var LABEL_W = 220, AXIS_H = 26, HEAD_H = 20, SLICE_H = 17, MARK_H = 12, PAD = 3, COUNTER_H = 34;
  var svg = document.getElementById('timeline');
  var view = document.getElementById('view');
  var tip = document.getElementById('tip');
  var rangeOut = document.getElementById('range');
  var statusOut = document.getElementById('status');

  var t0 = data.start, t1 = Math.max(data.end, data.start + 1000);
  var margin = (t1 - t0) * 0.01;
  var full = [t0 - margin, t1 + margin];
  var cur = [full[0], full[1]];
  // #range=FROM-TO (µs) opens on that range; #pin=SEQ shows the fields of the record with that seq.
  var m = /range=([0-9.]+)-([0-9.]+)/.exec(location.hash || '');
  if (m) {
    var a = parseFloat(m[1]) * 1000, b = parseFloat(m[2]) * 1000;
    if (b > a) cur = [a, b];
  }
  var pinned = null;
  var pinSeq = /pin=([0-9]+)/.exec(location.hash || '');

  // Index the timeline by track.
  var byTid = {};
  data.tracks.forEach(function (tr) { byTid[tr.tid] = { tr: tr, slices: [], instants: [] }; });
  data.slices.forEach(function (s) { if (byTid[s.tid]) byTid[s.tid].slices.push(s); });
  data.instants.forEach(function (i) { if (byTid[i.tid]) byTid[i.tid].instants.push(i); });
  var counters = {};
  data.counters.forEach(function (c) {
    var k = c.pid + '/' + c.name;
    (counters[k] = counters[k] || { pid: c.pid, name: c.name, points: [] }).points.push(c);
  });

  // Rows: per process a header, its tracks, its counters.
  var rows = [], y = AXIS_H, trackRow = {};
  data.processes.forEach(function (p) {
    rows.push({ type: 'process', p: p, y: y, h: HEAD_H });
    y += HEAD_H;
    data.tracks.forEach(function (tr) {
      if (tr.pid !== p.pid) return;
      var h = (tr.maxDepth + 1) * SLICE_H + MARK_H + 2 * PAD;
      var row = { type: 'track', tr: tr, p: p, y: y, h: h };
      rows.push(row);
      trackRow[tr.tid] = row;
      y += h;
    });
    Object.keys(counters).sort().forEach(function (k) {
      var c = counters[k];
      if (c.pid !== p.pid) return;
      rows.push({ type: 'counter', c: c, p: p, y: y, h: COUNTER_H });
      y += COUNTER_H;
    });
  });
  var totalH = y + 6;

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }
  function txt(s, attrs, parent) {
    var e = el('text', attrs, parent);
    e.textContent = s;
    return e;
  }
  /**
   * As much of label s as fits in px: the whole; for a RUN or vcpu_run (tail set) the outcome
   * after its arrow; or the start cut with an ellipsis.
   */
  var measure = (function () {
    var ctx = document.createElement('canvas').getContext('2d');
    if (ctx) ctx.font = '10px "DejaVu Sans", system-ui, sans-serif';
    return function (s) { return ctx ? ctx.measureText(s).width : s.length * 6; };
  })();
  function fit(s, px, tail) {
    var room = px - 6;
    if (room < 8) return '';
    if (measure(s) <= room) return s;
    var arrow = s.indexOf(' \u2192 ');
    if (tail && arrow >= 0 && measure(s.slice(arrow + 3)) <= room) return s.slice(arrow + 3);
    var lo = 0, hi = s.length;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (measure(s.slice(0, mid) + '\u2026') <= room) lo = mid; else hi = mid - 1;
    }
    return lo === 0 ? '' : s.slice(0, lo) + '\u2026';
  }
  function fmtUs(ns) {
    var us = ns / 1000;
    return (Math.abs(us) >= 100 ? us.toFixed(0) : us.toFixed(us % 1 === 0 ? 0 : 2)) + ' \u00b5s';
  }
  function niceStep(span) {
    var raw = span / 10, p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10)), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
  }

  /** The series of a counter and the largest value: "lent, shared (max 12288)". */
  function counterLegend(c) {
    var keys = Object.keys(c.points[0].values), max = 0;
    c.points.forEach(function (p) { keys.forEach(function (k) { max = Math.max(max, p.values[k]); }); });
    return keys.join(', ') + ' (max ' + max + ')';
  }

  var items = [];
  var plotW = 800;
  function X(t) { return LABEL_W + (t - cur[0]) * plotW / (cur[1] - cur[0]); }
  function tAt(px) { return cur[0] + (px - LABEL_W) * (cur[1] - cur[0]) / plotW; }

  function render() {
    var W = Math.max(700, view.clientWidth || 1200);
    plotW = W - LABEL_W - 12;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute('width', W);
    svg.setAttribute('height', totalH);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + totalH);
    items = [];
    var defs = el('defs', {}, svg);
    var mk = el('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M0,0 L8,4 L0,8 z', fill: '#333', 'fill-opacity': 0.7 }, mk);
    var cp = el('clipPath', { id: 'plotclip' }, defs);
    el('rect', { x: LABEL_W, y: 0, width: plotW + 12, height: totalH }, cp);

    // Row backgrounds and labels.
    var bg = el('g', { 'class': 'rows' }, svg);
    rows.forEach(function (r, i) {
      el('rect', { x: 0, y: r.y, width: W, height: r.h, 'class': r.type === 'process' ? 'procbg' : 'rowbg-' + (i % 2) }, bg);
      if (r.type === 'process') txt(r.p.name, { x: 6, y: r.y + 14, 'class': 'plabel' }, bg);
      else if (r.type === 'track') txt(fit(r.tr.name, LABEL_W - 14), { x: 16, y: r.y + PAD + 12, 'class': 'tlabel' }, bg);
      else {
        txt(fit(r.c.name, LABEL_W - 14), { x: 16, y: r.y + 14, 'class': 'tlabel' }, bg);
        txt(fit(counterLegend(r.c), LABEL_W - 14), { x: 16, y: r.y + 27, 'class': 'clabel' }, bg);
      }
    });
    el('line', { x1: LABEL_W - 0.5, y1: 0, x2: LABEL_W - 0.5, y2: totalH, stroke: '#bbb' }, svg);

    // Axis.
    var axis = el('g', { 'class': 'axis' }, svg);
    var step = niceStep(cur[1] - cur[0]);
    for (var t = Math.ceil(cur[0] / step) * step; t <= cur[1]; t += step) {
      var x = X(t);
      el('line', { x1: x, y1: AXIS_H - 6, x2: x, y2: totalH }, axis);
      txt(fmtUs(t), { x: x + 2, y: AXIS_H - 9 }, axis);
    }

    var plot = el('g', { 'clip-path': 'url(#plotclip)' }, svg);
    var nSlices = 0, nInstants = 0, nFlows = 0;
    rows.forEach(function (r) {
      if (r.type === 'track') {
        var tr = r.tr, ix = byTid[tr.tid];
        var g = el('g', { 'class': 'track', 'data-tid': tr.tid, 'data-track': tr.name, 'data-process': r.p.name, 'data-kind': tr.kind, 'data-slices': ix.slices.length, 'data-instants': ix.instants.length }, plot);
        var drawn = 0, exits = 0;
        ix.slices.forEach(function (s) {
          if (s.end < cur[0] || s.start > cur[1]) return;
          var x0 = X(s.start), w = Math.max(1, X(s.end) - x0), yy = r.y + PAD + s.depth * SLICE_H;
          if (x0 < LABEL_W - 2) { w -= (LABEL_W - 2 - x0); x0 = LABEL_W - 2; }
          var rect = el('rect', { x: x0, y: yy, width: Math.max(1, w), height: SLICE_H - 2, rx: 1.5, 'class': 'slice cat-' + s.cat, 'data-i': items.length }, g);
          items.push({ kind: 'slice', e: s, el: rect });
          var label = fit(s.name, w, s.cat === 'run' || s.cat === 'vcpu_run');
          if (label) txt(label, { x: x0 + 3, y: yy + 11.5, 'class': 'stext' }, g);
          drawn++;
        });
        var my = r.y + r.h - PAD - MARK_H / 2;
        ix.instants.forEach(function (i) {
          if (i.t < cur[0] || i.t > cur[1]) return;
          var x = X(i.t), e;
          if (i.cat === 'exit') {
            e = el('path', { d: 'M' + (x - 5) + ',' + (my - 6) + ' L' + (x + 5) + ',' + (my - 6) + ' L' + x + ',' + (my + 5) + ' z', 'class': 'marker mk-exit' }, g);
            exits++;
          } else if (i.cat === 'fault') {
            e = el('path', { d: 'M' + x + ',' + (my - 6) + ' L' + (x + 5) + ',' + my + ' L' + x + ',' + (my + 6) + ' L' + (x - 5) + ',' + my + ' z', 'class': 'marker mk-fault' }, g);
          } else if (i.cat === 'guest') {
            e = el('circle', { cx: x, cy: my + 1, r: 2.2, 'class': 'marker mk-guest' }, g);
          } else {
            e = el('rect', { x: x - 1, y: my - 5, width: 2, height: 10, 'class': 'marker mk-' + i.cat }, g);
          }
          e.setAttribute('data-i', items.length);
          items.push({ kind: 'instant', e: i, el: e });
          nInstants++;
        });
        g.setAttribute('data-slices-drawn', drawn);
        g.setAttribute('data-exits', exits);
        nSlices += drawn;
      } else if (r.type === 'counter') {
        var c = r.c, keys = Object.keys(c.points[0].values), max = 0;
        c.points.forEach(function (p) { keys.forEach(function (k) { max = Math.max(max, p.values[k]); }); });
        var cg = el('g', { 'class': 'counter', 'data-counter': c.name, 'data-process': r.p.name, 'data-points': c.points.length }, plot);
        var h = r.h - 8, base = r.y + r.h - 4;
        keys.forEach(function (k, ki) {
          var d = '', prevY = null;
          c.points.forEach(function (p) {
            var x = X(p.t), yy = base - (max > 0 ? p.values[k] / max * h : 0);
            d += (prevY === null ? 'M' + x + ',' + yy : ' L' + x + ',' + prevY + ' L' + x + ',' + yy);
            prevY = yy;
          });
          if (prevY !== null) d += ' L' + X(cur[1]) + ',' + prevY;
          el('path', { d: d, 'class': 'ctr ctr-' + (ki % 3) }, cg);
        });
        c.points.forEach(function (p) {
          if (p.t < cur[0] || p.t > cur[1]) return;
          var e = el('circle', { cx: X(p.t), cy: base - h / 2, r: 4, 'class': 'cpt', 'data-i': items.length }, cg);
          items.push({ kind: 'counter', e: p, el: e });
        });
      }
    });

    var fg = el('g', { 'class': 'flows' }, plot);
    data.flows.forEach(function (f) {
      if (Math.max(f.from.t, f.to.t) < cur[0] || Math.min(f.from.t, f.to.t) > cur[1]) return;
      var ra = trackRow[f.from.tid], rb = trackRow[f.to.tid];
      if (!ra || !rb) return;
      var xa = X(f.from.t), ya = ra.y + PAD + SLICE_H / 2, xb = X(f.to.t), yb = rb.y + PAD + SLICE_H / 2;
      var dx = Math.max(12, Math.abs(xb - xa) / 2);
      var p = el('path', { d: 'M' + xa + ',' + ya + ' C' + (xa + dx) + ',' + ya + ' ' + (xb - dx) + ',' + yb + ' ' + xb + ',' + yb, 'class': 'flow flow-' + f.name, 'marker-end': 'url(#arrow)', 'data-i': items.length }, fg);
      items.push({ kind: 'flow', e: f, el: p });
      nFlows++;
    });

    svg.setAttribute('data-tracks', data.tracks.length);
    svg.setAttribute('data-slices-drawn', nSlices);
    svg.setAttribute('data-instants-drawn', nInstants);
    svg.setAttribute('data-flows-drawn', nFlows);
    svg.setAttribute('data-rendered', 'yes');
    rangeOut.textContent = fmtUs(cur[0]) + ' \u2013 ' + fmtUs(cur[1]) + '  (' + fmtUs(cur[1] - cur[0]) + ' shown)';
    statusOut.textContent = data.tracks.length + ' tracks, ' + nSlices + ' slices, ' + nInstants + ' markers, ' + nFlows + ' flows in view';
    showPinned();
  }

  // Tooltip.
  function line(parent, k, v) {
    var d = document.createElement('div');
    var ks = document.createElement('span');
    ks.className = 'k';
    ks.textContent = k + ': ';
    d.appendChild(ks);
    d.appendChild(document.createTextNode(typeof v === 'string' ? v : JSON.stringify(v)));
    parent.appendChild(d);
  }
  function showTip(it, ev) {
    while (tip.firstChild) tip.removeChild(tip.firstChild);
    var e = it.e, b = document.createElement('b');
    if (it.kind === 'flow') {
      b.textContent = 'flow: ' + e.name;
      tip.appendChild(b);
      line(tip, 'from', fmtUs(e.from.t));
      line(tip, 'to', fmtUs(e.to.t));
    } else if (it.kind === 'counter') {
      b.textContent = e.name;
      tip.appendChild(b);
      line(tip, 't', fmtUs(e.t));
      Object.keys(e.values).forEach(function (k) { line(tip, k, String(e.values[k])); });
    } else {
      b.textContent = e.name;
      tip.appendChild(b);
      if (it.kind === 'slice') {
        line(tip, 'start', fmtUs(e.start));
        line(tip, 'duration', fmtUs(e.end - e.start));
      } else {
        line(tip, 't', fmtUs(e.t));
      }
      Object.keys(e.args || {}).forEach(function (k) { line(tip, k, e.args[k]); });
    }
    tip.hidden = false;
    var x = ev.clientX + 14, yy = ev.clientY + 14;
    var r = tip.getBoundingClientRect();
    if (x + r.width > window.innerWidth - 4) x = Math.max(4, ev.clientX - r.width - 10);
    if (yy + r.height > window.innerHeight - 4) yy = Math.max(4, ev.clientY - r.height - 10);
    tip.style.left = x + 'px';
    tip.style.top = yy + 'px';
  }
  function itemOf(target) {
    var i = target && target.getAttribute ? target.getAttribute('data-i') : null;
    return i === null ? null : items[+i] || null;
  }
  /** Show the pinned event's fields next to it (after each render: it may have moved or left the view). */
  function showPinned() {
    tip.classList.toggle('pinned', pinned !== null);
    if (pinned === null) return;
    for (var i = 0; i < items.length; i++) {
      if (items[i].e !== pinned) continue;
      var r = items[i].el.getBoundingClientRect();
      showTip(items[i], { clientX: r.right, clientY: r.bottom });
      return;
    }
    tip.hidden = true;
  }
  svg.addEventListener('mousemove', function (ev) {
    if (drag && drag.moved) return;
    if (pinned !== null) return;
    var it = itemOf(ev.target);
    if (!it) { tip.hidden = true; return; }
    showTip(it, ev);
  });
  svg.addEventListener('mouseleave', function () { if (pinned === null) tip.hidden = true; });
  svg.addEventListener('click', function (ev) {
    if (moved) return;
    var it = itemOf(ev.target);
    pinned = it && it.e !== pinned ? it.e : null;
    if (pinned === null && it) showTip(it, ev);
    else if (pinned === null) tip.hidden = true;
    showPinned();
  });

  // Zoom and pan.
  function setView(a, b) {
    var minSpan = 200, span = b - a;
    if (span < minSpan) { var c = (a + b) / 2; a = c - minSpan / 2; b = c + minSpan / 2; }
    cur = [a, b];
    render();
  }
  function zoom(f, center) {
    var c = center === undefined ? (cur[0] + cur[1]) / 2 : center;
    setView(c - (c - cur[0]) * f, c + (cur[1] - c) * f);
  }
  function pan(frac) {
    var d = (cur[1] - cur[0]) * frac;
    setView(cur[0] + d, cur[1] + d);
  }
  svg.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) { pan((ev.deltaX || ev.deltaY) / 1000); return; }
    var r = svg.getBoundingClientRect();
    var px = ev.clientX - r.left;
    zoom(Math.pow(1.0015, ev.deltaY), px > LABEL_W ? tAt(px) : undefined);
  }, { passive: false });
  var drag = null, moved = false;
  svg.addEventListener('mousedown', function (ev) {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, view: [cur[0], cur[1]], moved: false };
    moved = false;
  });
  window.addEventListener('mousemove', function (ev) {
    if (!drag) return;
    if (!drag.moved && Math.abs(ev.clientX - drag.x) < 4) return;
    drag.moved = moved = true;
    if (pinned === null) tip.hidden = true;
    var dt = (ev.clientX - drag.x) * (drag.view[1] - drag.view[0]) / plotW;
    cur = [drag.view[0] - dt, drag.view[1] - dt];
    render();
  });
  window.addEventListener('mouseup', function () { drag = null; });
  document.getElementById('zin').addEventListener('click', function () { zoom(0.5); });
  document.getElementById('zout').addEventListener('click', function () { zoom(2); });
  document.getElementById('fit').addEventListener('click', function () { setView(full[0], full[1]); });
  document.getElementById('left').addEventListener('click', function () { pan(-0.25); });
  document.getElementById('right').addEventListener('click', function () { pan(0.25); });
  window.addEventListener('keydown', function (ev) {
    if (ev.key === '+' || ev.key === '=') zoom(0.5);
    else if (ev.key === '-') zoom(2);
    else if (ev.key === '0') setView(full[0], full[1]);
    else if (ev.key === 'ArrowLeft') pan(-0.25);
    else if (ev.key === 'ArrowRight') pan(0.25);
  });
  var pending = false;
  window.addEventListener('resize', function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; render(); });
  });
  if (pinSeq) {
    var seq = +pinSeq[1], lists = [data.instants, data.slices];
    for (var li = 0; li < lists.length && pinned === null; li++) {
      for (var k = 0; k < lists[li].length; k++) {
        var ar = lists[li][k].args || {};
        if (ar.seq === seq || (ar.call && ar.call.seq === seq) || (ar.request && ar.request.seq === seq) || (ar.begin && ar.begin.seq === seq)) { pinned = lists[li][k]; break; }
      }
    }
  }
  render();
})();
`;
