// heldout rate: the blind rating page. Inlined into the page (its sha256 is in the
// Content-Security-Policy, so no other script can run). Prompts and outputs are untrusted model
// text: they reach the page only through textContent. The server sends no model or cell names.
(function () {
  "use strict";

  var token = new URLSearchParams(location.search).get("token") || "";
  var app = document.getElementById("app");
  var state = null;
  var busy = false;

  function $(id) { return document.getElementById(id); }

  function show(el, visible) { if (visible) el.removeAttribute("hidden"); else el.setAttribute("hidden", ""); }

  function setText(el, text) {
    el.textContent = text === null || text === undefined ? "" : String(text);
    el.classList.toggle("empty", el.textContent === "");
  }

  function message(text) { setText($("message"), text); }

  function request(method, path, body) {
    busy = true;
    app.setAttribute("data-busy", "true");
    var init = { method: method, headers: { "X-Heldout-Token": token }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init)
      .then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) throw new Error(data && data.error ? data.error : "HTTP " + r.status);
          return data;
        });
      })
      .then(function (data) { message(""); render(data); })
      .catch(function (e) { message(String(e && e.message ? e.message : e)); })
      .then(function () { busy = false; app.setAttribute("data-busy", "false"); });
  }

  function button(label, title, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", function () {
      b.blur(); // keys go to the page, not to a focused button
      if (!busy) onClick();
    });
    return b;
  }

  function renderControls(s) {
    var controls = $("controls");
    controls.textContent = "";
    if (!s.item) return;
    if (s.mode === "score") {
      [1, 2, 3, 4, 5].forEach(function (v) {
        var b = button(String(v), "score " + v + " (key " + v + ")", function () { rate({ score: v }); });
        b.setAttribute("data-score", String(v));
        b.className = "primary";
        controls.appendChild(b);
      });
    } else {
      controls.appendChild(button("\u2190 left is better (1)", "key 1 or \u2190", function () { rate({ preference: "left" }); }));
      controls.appendChild(button("tie (0)", "key 0 or =", function () { rate({ preference: "tie" }); }));
      controls.appendChild(button("right is better (2) \u2192", "key 2 or \u2192", function () { rate({ preference: "right" }); }));
    }
    controls.appendChild(button("skip (n)", "key n or space: come back to it later", skip));
  }

  function render(s) {
    state = s;
    var p = s.progress;
    setText($("progress"), "rated " + p.rated + " of " + p.total);
    setText($("rater"), "rater: " + s.rater);
    $("undo").disabled = !s.canUndo;
    var item = s.item;
    show($("item"), !!item);
    show($("done"), !item);
    show($("keys-score"), s.mode === "score");
    show($("keys-pairwise"), s.mode === "pairwise");
    if (item) {
      app.setAttribute("data-item", item.id);
      setText($("area"), item.area === null ? "" : "area: " + item.area);
      setText($("prompt"), item.prompt === null ? "(the prompt is not shown: it differs between the outputs being rated, and would give them away)" : item.prompt);
      setText($("rubric-text"), item.rubric);
      show($("single"), s.mode === "score");
      show($("pair"), s.mode === "pairwise");
      if (s.mode === "score") setText($("output"), item.output);
      else { setText($("left"), item.left); setText($("right"), item.right); }
    } else {
      app.removeAttribute("data-item");
      setText($("done-text"), p.total === 0 ? "There is nothing to rate in this run." : "All " + p.total + " items are rated. Thank you! Press u to undo the last one; Ctrl-C in the terminal stops the server.");
    }
    renderControls(s);
    app.setAttribute("data-ready", "true");
  }

  function rate(value) {
    if (!state || !state.item) return;
    var body = { id: state.item.id };
    if (value.score !== undefined) body.score = value.score;
    if (value.preference !== undefined) body.preference = value.preference;
    request("POST", "/api/rate", body);
  }

  function skip() { if (state && state.item) request("POST", "/api/skip", { id: state.item.id }); }
  function undo() { if (state && state.canUndo) request("POST", "/api/undo", {}); }

  $("undo").addEventListener("click", function () { $("undo").blur(); if (!busy) undo(); });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || !state || busy) return;
    var k = e.key;
    var handled = true;
    if (k === "u" || k === "U") undo();
    else if (k === "n" || k === "N" || k === " ") skip();
    else if (state.mode === "score" && /^[1-5]$/.test(k)) rate({ score: Number(k) });
    else if (state.mode === "pairwise" && (k === "1" || k === "ArrowLeft")) rate({ preference: "left" });
    else if (state.mode === "pairwise" && (k === "2" || k === "ArrowRight")) rate({ preference: "right" });
    else if (state.mode === "pairwise" && (k === "0" || k === "=")) rate({ preference: "tie" });
    else handled = false;
    if (handled) e.preventDefault();
  });

  request("GET", "/api/state");
})();
