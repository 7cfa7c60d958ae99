"""The style of the report pages: one inline stylesheet, and a few lines of optional script.

The pages read fully without the script (it only opens a folded phase when a
link points into it, and offers "open all"). Wide tables scroll sideways inside
their own box; nothing else does, down to a 360 px phone.
"""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT"]

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#fff; --soft:#f6f8fa;
  --ok:#1a7f37; --ok-bg:#dafbe1; --bad:#cf222e; --bad-bg:#ffebe9; --warn:#9a6700; --warn-bg:#fff8c5;
  --accent:#0969da; --bar-h: 44px; }
* { box-sizing: border-box; }
html { scroll-padding-top: calc(var(--bar-h) + 12px); }
body { margin:0; color:var(--fg); background:var(--bg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 32px 60px; }
h1 { font-size: 26px; margin: 6px 0 2px; line-height: 1.25; }
h2 { font-size: 19px; margin: 28px 0 10px; padding-bottom: 5px; border-bottom: 1px solid var(--line); }
h2 small, h3 small { font-weight: 400; color: var(--muted); font-size: 13px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
.subtitle, .muted { color: var(--muted); } .small { font-size: 12px; } .subtitle { margin: 0 0 8px; }
.bad { color: var(--bad); } .nowrap { white-space: nowrap; }
code, pre, .mono, .hash, .filename { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
.mono, .hash, .filename { overflow-wrap: anywhere; }
.hash { color: #424a53; font-size: 12px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; font-size: 13px; color: var(--muted); }
.scroll { overflow-x: auto; max-width: 100%; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600;
  line-height: 20px; border: 1px solid transparent; white-space: nowrap; }
dd .badge { white-space: normal; }
.badge.ok { color: var(--ok); background: var(--ok-bg); border-color: #aceebb; }
.badge.bad { color: var(--bad); background: var(--bad-bg); border-color: #ffcecb; }
.badge.warn, .badge.hand { color: var(--warn); background: var(--warn-bg); border-color: #f5e0a0; }
.badge.other { color: #57606a; background: #eaeef2; border-color: #d0d7de; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 18px; margin: 6px 0 12px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; min-width: 0; }
dl.facts details > summary { cursor: pointer; color: var(--accent); }
.unusual { background: var(--warn-bg); border: 1px solid #f5e0a0; border-radius: 8px; padding: 8px 14px; }
.unusual ul { margin: 4px 0; padding-left: 20px; }
.toolbar { position: sticky; top: 0; z-index: 5; background: rgba(255,255,255,.97); border-bottom: 1px solid var(--line);
  padding: 8px 32px; font-size: 14px; display: flex; gap: 4px 14px; align-items: center; flex-wrap: wrap; min-height: var(--bar-h); }
.toolbar .sep { color: var(--line); }
.toolbar button { font: inherit; font-size: 13px; padding: 1px 10px; border: 1px solid var(--line); background: var(--soft); border-radius: 6px; cursor: pointer; }
tr.not-run td { color: var(--muted); }
/* charts */
figure.chart { margin: 6px 0 10px; }
.chart.rows { display: grid; gap: 2px; }
.chart .row { display: grid; grid-template-columns: 9.5em minmax(0, 1fr) 6.5em; gap: 10px; align-items: center; min-height: 22px; }
.chart .row .label { font-size: 13px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.chart .row .value { font-size: 12px; color: var(--muted); line-height: 1.25; }
.chart .row .bar { min-width: 0; border-left: 1px solid var(--line); }
.chart.history .row { grid-template-columns: 9.5em minmax(0, 1fr) 13em; }
.chart.history .row .value { white-space: normal; }
.chart .row.axis .bar { border-left: 0; }
.chart svg.track { display: block; overflow: visible; }
.chart svg.track.axis text { font-size: 11px; fill: var(--muted); }
.chart svg line.cut { stroke: #8c959f; stroke-dasharray: 2 3; }
.chart svg text.cut-label { fill: #57606a; }
.chart svg line.none { stroke: var(--line); stroke-dasharray: 3 4; }
.chart svg line.median { stroke: #24292f; stroke-width: 1.5; stroke-dasharray: 3 2; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: var(--muted); margin: 6px 0; }
.legend svg { vertical-align: -1px; }
svg.matrix-grid { display: block; font-size: 12px; }
svg.matrix-grid text.head { font-weight: 600; fill: var(--muted); }
svg.matrix-grid text.py { font-weight: 600; fill: var(--fg); font-size: 13px; }
svg.matrix-grid text.sub { fill: var(--muted); font-size: 11px; }
svg.matrix-grid text.cell { font-weight: 600; }
svg.matrix-grid a:hover rect { stroke-opacity: 1; }
pre.mail { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 4px 0; font-size: 13px; }
details.mail > summary, details.long > summary, details.attempt > summary { cursor: pointer; }
/* phases, folded */
details.phase { border: 1px solid var(--line); border-radius: 8px; margin: 6px 0; background: #fff; }
details.phase > summary { cursor: pointer; padding: 8px 12px; list-style-position: inside; }
details.phase[open] > summary { border-bottom: 1px solid var(--line); background: var(--soft); }
.phase-name { font-weight: 600; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 14px; }
.phase-body { padding: 4px 14px 10px; }
.meta { color: var(--muted); font-size: 13px; margin: 6px 0; }
.nb-links { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; }
a.button { display: inline-block; padding: 3px 12px; border: 1px solid var(--accent); border-radius: 6px; font-weight: 600; font-size: 13px; }
ul.attempts { margin: 4px 0; padding-left: 18px; font-size: 14px; } ul.attempts li { margin: 4px 0; }
ul.attempts .meta { margin: 0 4px; }
/* recorded values */
.recorded { margin: 6px 0; }
.recorded-key { font-size: 12px; color: var(--muted); }
dl.values { display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr); gap: 2px 14px; margin: 4px 0; font-size: 14px; }
dl.values dt { color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
  padding-top: 2px; overflow-wrap: anywhere; max-width: 40ch; }
dl.values dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
table.values { width: auto; font-size: 13px; margin: 2px 0 6px; }
table.values td, table.values th { padding: 2px 8px; white-space: nowrap; }
pre.text { margin: 0; font-size: 13px; background: var(--soft); padding: 4px 8px; border-radius: 4px; }
ul.values { margin: 2px 0; padding-left: 18px; }
.none { color: var(--muted); font-style: italic; }
.yes { color: var(--ok); } .no { color: var(--bad); }
details.long pre { max-height: 30em; overflow: auto; background: var(--soft); padding: 6px 8px; }
/* notebook pages (nbconvert classic body markup) */
.notebook { border: 1px solid var(--line); border-radius: 8px; padding: 6px 16px; background: #fff; }
.notebook .cell { margin: 8px 0; }
.notebook .prompt { display: none; }
.notebook details.code > summary { cursor: pointer; color: var(--muted); font-size: 12px; user-select: none; }
.notebook .input_area { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; overflow-x: auto; }
.notebook .input_area pre { margin: 0; white-space: pre; }
.notebook .output_area { margin: 6px 0 0; overflow-x: auto; }
.notebook .output_area pre { margin: 0; padding: 6px 10px; border-left: 3px solid var(--line); }
.notebook .output_stderr pre { background: #fff8f0; border-left-color: #f0b37e; }
.notebook .output_error pre { background: var(--bad-bg); border-left-color: var(--bad); }
.notebook .rendered_html table { width: auto; font-size: 13px; }
.notebook .rendered_html td, .notebook .rendered_html th { padding: 3px 10px; text-align: left; }
.notebook .text_cell_render h1 { font-size: 22px; } .notebook .text_cell_render h2 { font-size: 17px; border: 0; margin: 16px 0 6px; }
.notebook .anchor-link { display: none; }
.notebook img { max-width: 100%; }
.ansi-red-fg { color: #cf222e; } .ansi-green-fg { color: #1a7f37; } .ansi-yellow-fg { color: #9a6700; }
.ansi-blue-fg { color: #0969da; } .ansi-cyan-fg { color: #1b7c83; } .ansi-magenta-fg { color: #8250df; }
.ansi-bold { font-weight: 700; }
body.hide-code details.code { display: none; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
@media (max-width: 640px) {
  :root { --bar-h: 60px; }
  main { padding: 12px 14px 40px; }
  .toolbar { padding: 6px 14px; font-size: 13px; gap: 2px 12px; }
  h1 { font-size: 22px; }
  dl.facts { grid-template-columns: minmax(0, 1fr); gap: 0; }
  dl.facts dt { margin-top: 6px; font-size: 13px; }
  .chart .row { grid-template-columns: 7.2em minmax(0, 1fr) 4.2em; gap: 6px; }
  .chart .row .label { font-size: 12px; }
  .chart.history .row { grid-template-columns: 5.5em minmax(0, 1fr) 7em; }
  .notebook { padding: 4px 8px; }
  dl.values { grid-template-columns: minmax(0, 1fr); gap: 0; }
  dl.values dd { padding-left: 10px; margin-bottom: 4px; }
  .phase-body { padding: 4px 8px 8px; }
}
"""

# Opens a folded phase when a link points into it (browsers without auto-expanding
# <details> on fragment navigation), and offers "open all". The page reads without it.
SCRIPT = """
function openTarget() {
  var id = decodeURIComponent(location.hash.slice(1));
  var el = id && document.getElementById(id);
  if (el && el.tagName === 'DETAILS') { el.open = true; el.scrollIntoView(); }
}
window.addEventListener('hashchange', openTarget); openTarget();
var all = document.getElementById('open-all');
if (all) all.addEventListener('click', function (event) {
  event.preventDefault();
  var phases = document.querySelectorAll('details.phase');
  var open = all.textContent === 'open all';
  phases.forEach(function (d) { d.open = open; });
  all.textContent = open ? 'fold all' : 'open all';
});
"""
