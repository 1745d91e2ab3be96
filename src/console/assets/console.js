// lighthouse-emulator console: copy buttons and the live activity log. Served from the binary; the
// pages work without it (forms post, links navigate), it only adds copying and live updates.
"use strict";
(function () {
  function announce(text) {
    var live = document.getElementById("live-status");
    if (!live) {
      live = document.createElement("p");
      live.id = "live-status";
      live.className = "visually-hidden";
      live.setAttribute("role", "status");
      document.body.appendChild(live);
    }
    live.textContent = text;
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("button.copy");
    if (!b) return;
    var text = b.getAttribute("data-copy");
    var label = b.getAttribute("data-label") || b.textContent;
    b.setAttribute("data-label", label);
    var done = function () { b.textContent = "Copied"; announce("Copied"); setTimeout(function () { b.textContent = label; }, 1500); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  });
  function fallback(text) {
    var t = document.createElement("textarea");
    t.value = text; t.setAttribute("aria-hidden", "true"); document.body.appendChild(t); t.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing to do */ }
    t.remove();
  }

  // The live activity log: poll for entries newer than the newest shown, with the page's filters.
  var table = document.getElementById("activity-rows");
  if (!table) return;
  var toggle = document.getElementById("live");
  var from = table.getAttribute("data-from");
  var filters = table.getAttribute("data-filters") || "";
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function row(e) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-seq", e.seq);
    cell(tr, e.time);
    var s = cell(tr, "");
    var badge = document.createElement("span");
    badge.className = "badge " + (e.status < 300 ? "ok" : e.status < 400 ? "info" : "error");
    badge.textContent = e.status;
    s.appendChild(badge);
    if (e.code) { s.appendChild(document.createTextNode(" " + e.code)); }
    var m = cell(tr, "");
    var code = document.createElement("code");
    code.textContent = e.method + " " + e.path;
    m.appendChild(code);
    cell(tr, e.caller + (e.console ? " (console)" : ""));
    cell(tr, e.homeTenantName ? e.homeTenantName + " (" + e.homeTenantId + ")" : e.homeTenantId);
    cell(tr, e.decision);
    var x = cell(tr, "");
    if (e.explain) {
      var a = document.createElement("a");
      a.href = e.explain;
      a.textContent = "Explain";
      a.setAttribute("aria-label", "Explain " + e.method + " " + e.path + " by " + e.caller);
      x.appendChild(a);
    }
    return tr;
  }
  function poll() {
    if (toggle && !toggle.checked) { return setTimeout(poll, 250); }
    var url = "/console/activity.json?from=" + encodeURIComponent(from) + (filters ? "&" + filters : "");
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      var entries = d.entries || [];
      for (var i = entries.length - 1; i >= 0; i--) {
        table.insertBefore(row(entries[i]), table.firstChild);
      }
      if (entries.length) { announce(entries.length + " new request" + (entries.length > 1 ? "s" : "")); }
      if (d.next !== undefined) from = d.next;
      var extra = table.children.length - 500;
      while (extra-- > 0) table.removeChild(table.lastChild);
    }).catch(function () { /* the emulator went away: try again */ }).then(function () { setTimeout(poll, 250); });
  }
  setTimeout(poll, 250);
})();
