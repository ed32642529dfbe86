// heldout report: sortable tables and the task browser. Inlined into every report (its sha256 is
// in the page's Content-Security-Policy, so no other script can run). Every piece of run data is
// untrusted and reaches the page only through textContent, never as markup.
(function () {
  "use strict";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- sortable tables: click a header; numbers sort by their data-v value ----
  function sortTable(table, col, th) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var dir = th.getAttribute("aria-sort") === "descending" ? 1 : -1;
    if (!th.hasAttribute("aria-sort") && th.classList.contains("text")) dir = 1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    function key(row) {
      var cell = row.cells[col];
      var v = cell ? cell.getAttribute("data-v") : null;
      if (v === null) return cell ? cell.textContent : "";
      if (v === "") return null;
      var n = Number(v);
      return isNaN(n) ? v : n;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null && y === null) return 0;
      if (x === null) return 1; // missing values last either way
      if (y === null) return -1;
      if (typeof x === "number" && typeof y === "number") return (x - y) * dir;
      return String(x).localeCompare(String(y)) * dir;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, i, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortTable(table, i, th); });
    });
  });

  // ---- task browser ----
  var dataNode = document.getElementById("heldout-data");
  var root = document.getElementById("task-browser");
  if (!dataNode || !root) return;
  var data = JSON.parse(dataNode.textContent);
  var cells = data.cells;
  var tasks = data.tasks;
  var PAGE = 20;
  var SHOW = 4000; // characters of a text shown before "show all"

  // Per task: failed in any / every cell, cells disagreeing on pass/fail, outputs differing.
  tasks.forEach(function (t) {
    var byCell = {};
    var outputs = {};
    var anyFail = false, allFail = true;
    t.r.forEach(function (r) {
      var c = r[0], pass = r[3] === 1;
      if (!pass) anyFail = true; else allFail = false;
      var s = byCell[c] || (byCell[c] = [0, 0]);
      s[0] += pass ? 1 : 0;
      s[1] += 1;
      if (r[1] === 0) outputs[r[2]] = true;
    });
    var verdicts = {};
    Object.keys(byCell).forEach(function (c) { verdicts[byCell[c][0] * 2 >= byCell[c][1] ? "p" : "f"] = true; });
    t.anyFail = anyFail;
    t.allFail = t.r.length > 0 && allFail;
    t.disagree = !!(verdicts.p && verdicts.f);
    t.outputsDiffer = Object.keys(outputs).length > 1;
    t.text = null; // lower-cased search text, built on first search
  });

  var controls = el("div", "controls");
  var search = el("input");
  search.type = "search";
  search.placeholder = "search task id, prompt, expected, outputs";
  search.id = "task-search";
  var areaSel = el("select");
  areaSel.id = "task-area";
  areaSel.appendChild(new Option("all areas", ""));
  data.areas.forEach(function (a) { areaSel.appendChild(new Option(a, a)); });
  var filterSel = el("select");
  filterSel.id = "task-filter";
  [["all", "all tasks"], ["failed-any", "failed in any cell"], ["failed-all", "failed in every cell"], ["disagree", "cells disagree (pass vs fail)"], ["outputs-differ", "outputs differ between cells"]].forEach(function (o) {
    filterSel.appendChild(new Option(o[1], o[0]));
  });
  var count = el("span", "count");
  count.id = "task-count";
  var prev = el("button", null, "◀ previous");
  prev.id = "task-prev";
  var next = el("button", null, "next ▶");
  next.id = "task-next";
  var pageInfo = el("span", "page-info");
  pageInfo.id = "task-page";
  [search, areaSel, filterSel, count, prev, pageInfo, next].forEach(function (c) { controls.appendChild(c); });
  var list = el("div", "task-list");
  list.id = "task-list";
  root.appendChild(controls);
  root.appendChild(list);

  var matches = tasks;
  var page = 0;

  function searchText(t) {
    if (t.text === null) {
      var parts = [t.id, t.prompt, t.expected === null ? "" : t.expected];
      t.r.forEach(function (r) { parts.push(r[2]); if (r[9]) parts.push(r[9]); });
      t.text = parts.join("\u0000").toLowerCase();
    }
    return t.text;
  }

  function applyFilters() {
    var q = search.value.trim().toLowerCase();
    var area = areaSel.value;
    var f = filterSel.value;
    matches = tasks.filter(function (t) {
      if (area && t.area !== area) return false;
      if (f === "failed-any" && !t.anyFail) return false;
      if (f === "failed-all" && !t.allFail) return false;
      if (f === "disagree" && !t.disagree) return false;
      if (f === "outputs-differ" && !t.outputsDiffer) return false;
      if (q && searchText(t).indexOf(q) < 0) return false;
      return true;
    });
    page = 0;
    render();
  }

  // Character diff of output against expected: a longest common subsequence where small enough,
  // else the common prefix and suffix around one changed middle.
  function diff(expected, output) {
    var a = expected, b = output, ops = [];
    var pre = 0;
    while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
    var suf = 0;
    while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
    var am = a.slice(pre, a.length - suf), bm = b.slice(pre, b.length - suf);
    if (pre) ops.push(["eq", a.slice(0, pre)]);
    if (am.length * bm.length > 0 && am.length * bm.length <= 250000) {
      var n = am.length, m = bm.length, i, j;
      var L = [];
      for (i = 0; i <= n; i++) { L.push(new Uint32Array(m + 1)); }
      for (i = n - 1; i >= 0; i--) for (j = m - 1; j >= 0; j--) L[i][j] = am[i] === bm[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
      i = 0; j = 0;
      function push(kind, ch) { var last = ops[ops.length - 1]; if (last && last[0] === kind) last[1] += ch; else ops.push([kind, ch]); }
      while (i < n && j < m) {
        if (am[i] === bm[j]) { push("eq", am[i]); i++; j++; }
        else if (L[i + 1][j] >= L[i][j + 1]) { push("del", am[i]); i++; }
        else { push("ins", bm[j]); j++; }
      }
      while (i < n) { push("del", am[i]); i++; }
      while (j < m) { push("ins", bm[j]); j++; }
    } else {
      if (am) ops.push(["del", am]);
      if (bm) ops.push(["ins", bm]);
    }
    if (suf) {
      var last = ops[ops.length - 1];
      if (last && last[0] === "eq") last[1] += a.slice(a.length - suf); else ops.push(["eq", a.slice(a.length - suf)]);
    }
    return ops;
  }

  function textBlock(cls, text) {
    var pre = el("pre", cls);
    if (text.length <= SHOW) {
      pre.textContent = text;
      return pre;
    }
    pre.textContent = text.slice(0, SHOW);
    var wrap = el("div", "long");
    var more = el("button", "more", "show all (" + text.length.toLocaleString() + " characters)");
    more.addEventListener("click", function () { pre.textContent = text; more.remove(); });
    wrap.appendChild(pre);
    wrap.appendChild(more);
    return wrap;
  }

  function diffBlock(expected, output) {
    var pre = el("pre", "diff");
    diff(expected, output).forEach(function (op) {
      pre.appendChild(op[0] === "eq" ? document.createTextNode(op[1]) : el(op[0] === "del" ? "del" : "ins", null, op[1]));
    });
    return pre;
  }

  function renderTask(t) {
    var card = el("article", "task" + (t.anyFail ? " has-fail" : ""));
    card.setAttribute("data-task", t.id);
    var head = el("header");
    head.appendChild(el("span", "task-id", t.id));
    if (t.area !== null) head.appendChild(el("span", "badge area", t.area));
    if (t.disagree) head.appendChild(el("span", "badge warn", "cells disagree"));
    card.appendChild(head);
    card.appendChild(el("div", "field", "prompt"));
    card.appendChild(textBlock("prompt", t.prompt));
    if (t.expected !== null) {
      card.appendChild(el("div", "field", "expected"));
      card.appendChild(textBlock("expected", t.expected));
    }
    var grid = el("div", "outputs");
    var byCell = {};
    t.r.forEach(function (r) { (byCell[r[0]] || (byCell[r[0]] = [])).push(r); });
    Object.keys(byCell).map(Number).sort(function (a, b) { return a - b; }).forEach(function (c) {
      var col = el("section", "cell-output");
      col.style.borderTopColor = cells[c].color; // CSSOM, which the page's CSP allows
      col.appendChild(el("div", "cell-name", cells[c].name));
      byCell[c].sort(function (a, b) { return a[1] - b[1]; }).forEach(function (r) {
        var pass = r[3] === 1;
        var line = el("div", "verdict");
        line.appendChild(el("span", "badge " + (pass ? "pass" : "fail"), pass ? "pass" : "fail"));
        if (byCell[c].length > 1) line.appendChild(el("span", "meta", "sample " + r[1]));
        line.appendChild(el("span", "meta", "score " + r[4]));
        line.appendChild(el("span", "meta", r[6] + (r[7] === null ? "" : " · " + r[7].toFixed(1) + " ms")));
        col.appendChild(line);
        if (r[5]) col.appendChild(el("div", "reason", r[5]));
        if (r[9]) col.appendChild(el("div", "reason error", r[9]));
        if (r[8] !== null) {
          col.appendChild(el("div", "field", "prompt in this cell"));
          col.appendChild(textBlock("prompt", r[8]));
        }
        var output = r[2];
        if (!pass && t.expected !== null && output.length <= SHOW && t.expected.length <= SHOW) col.appendChild(diffBlock(t.expected, output));
        else col.appendChild(textBlock("output", output));
      });
      grid.appendChild(col);
    });
    card.appendChild(grid);
    return card;
  }

  function render() {
    var pages = Math.max(1, Math.ceil(matches.length / PAGE));
    if (page >= pages) page = pages - 1;
    count.textContent = matches.length.toLocaleString() + " of " + tasks.length.toLocaleString() + " tasks";
    pageInfo.textContent = "page " + (page + 1) + " of " + pages;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    var frag = document.createDocumentFragment();
    matches.slice(page * PAGE, page * PAGE + PAGE).forEach(function (t) { frag.appendChild(renderTask(t)); });
    list.replaceChildren(frag);
  }

  var timer = null;
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(applyFilters, 150); });
  areaSel.addEventListener("change", applyFilters);
  filterSel.addEventListener("change", applyFilters);
  prev.addEventListener("click", function () { page--; render(); });
  next.addEventListener("click", function () { page++; render(); });
  render();
  root.setAttribute("data-ready", "true");
})();
