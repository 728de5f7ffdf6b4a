"""The console's stylesheet and its one small script, shipped as strings in the package."""

from __future__ import annotations

CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;
background:#f4f5f7}
header{display:flex;align-items:center;gap:18px;padding:8px 18px;background:#111827;color:#e5e7eb}
header .brand{font-weight:700;color:#fff;text-decoration:none;font-size:16px}
header nav a{color:#cbd5e1;text-decoration:none;margin-right:14px}
header nav a.on{color:#fff;border-bottom:2px solid #60a5fa}
header .live{margin-left:auto;font-size:12px;color:#9ca3af}
header .live.stale{color:#fca5a5}
main{padding:14px 18px;max-width:1400px}
h1{font-size:20px;margin:4px 0 12px}
h2{font-size:15px;margin:0 0 8px;color:#374151}
section{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:12px 14px;
margin-bottom:14px}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:#6b7280;font-weight:600;border-bottom:1px solid #e5e7eb;padding:4px 8px}
td{border-bottom:1px solid #f3f4f6;padding:4px 8px;vertical-align:top}
a{color:#1d4ed8}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600}
.badge.bad{background:#fee2e2;color:#991b1b}.badge.good{background:#dcfce7;color:#166534}
.badge.muted{background:#f3f4f6;color:#4b5563}.badge.busy{background:#fef3c7;color:#92400e}
.badge.plain{background:#e0e7ff;color:#3730a3}
.note{padding:8px 12px;border-radius:5px;margin:6px 0}
.note.muted{background:#f9fafb;color:#4b5563;border:1px dashed #d1d5db}
.note.bad{background:#fef2f2;color:#991b1b;border:1px solid #fecaca}
.note.good{background:#f0fdf4;color:#166534;border:1px solid #bbf7d0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:8px}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:6px 10px;min-width:130px;
background:#fafafa}
.card .label{font-size:11px;color:#6b7280;text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:14px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:10px}
.fig{margin:0}.fig figcaption{font-size:12px;color:#4b5563}
.chart{max-width:100%;height:auto;background:#fff}
.chart .ct{font-size:12px;font-weight:600;fill:#374151}
.chart .g{stroke:#eef0f3}.chart .th{stroke:#dc2626;stroke-dasharray:5 4}
.chart .yl{font-size:10px;fill:#6b7280;text-anchor:end}.chart .xl{font-size:10px;fill:#6b7280}
.chart .empty{font-size:12px;fill:#9ca3af}.chart .mk line{stroke-dasharray:2 3}
.lg{margin-right:12px}.lg i{display:inline-block;width:10px;height:3px;margin-right:4px;
vertical-align:middle}
.spark-empty{color:#9ca3af;font-size:12px}
form.inline{display:inline}
button{font:inherit;padding:3px 10px;border-radius:4px;border:1px solid #9ca3af;background:#fff;
cursor:pointer}
button.approve{border-color:#16a34a;color:#166534}button.reject{border-color:#dc2626;color:#991b1b}
.filters{display:flex;gap:8px;align-items:center;margin-bottom:8px;flex-wrap:wrap}
.filters input,.filters select{font:inherit;padding:2px 6px}
.filters a.on{font-weight:600;text-decoration:none;color:#111827}
pre{white-space:pre-wrap;font-size:12px;background:#f9fafb;padding:6px;border-radius:4px;margin:0}
.muted{color:#6b7280}
.plots{display:flex;flex-wrap:wrap;gap:8px}.plots figure{margin:0}
.plots figcaption{font-size:12px;color:#6b7280}
.plots img{max-width:320px;border:1px solid #e5e7eb;margin:4px}
"""

JS = """
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.getAttribute("data-poll") || "3000", 10);
  var live = document.getElementById("live");
  var last = null;
  function busy() {
    var a = document.activeElement;
    return a && a.closest && a.closest("main") && /INPUT|SELECT|TEXTAREA/.test(a.tagName);
  }
  function stamp(ok) {
    if (!live) { return; }
    var now = new Date();
    live.textContent = ok ? "live, updated " + now.toLocaleTimeString()
                          : "console not answering, retrying";
    live.className = ok ? "live" : "live stale";
  }
  function poll() {
    if (document.hidden || busy()) { return; }
    fetch(window.location.href, {headers: {"x-console-partial": "1"}, cache: "no-store",
                                 credentials: "same-origin"})
      .then(function (r) { if (!r.ok && r.status >= 500) { throw new Error(r.status); }
                           return r.text(); })
      .then(function (text) {
        var main = document.querySelector("main");
        if (main && text !== last) { main.innerHTML = text; }
        last = text; stamp(true);
      })
      .catch(function () { stamp(false); });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (!question) { return; }
    if (!window.confirm(question)) { event.preventDefault(); return; }
    var field = form.querySelector("input[name=confirm]");
    if (field) { field.value = "yes"; }
  });
  var main = document.querySelector("main");
  if (main) { last = main.innerHTML; }
  stamp(true);
  window.setInterval(poll, every);
})();
"""
