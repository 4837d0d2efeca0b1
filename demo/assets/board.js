/* The Compare tab's board: two digit pads (or uploads), the verdict, what the network sees.

   The verdict follows the pen: every stroke, during the stroke at most once an animation frame,
   runs the network in this browser (engine.js) and redraws the verdict, the 28x28 views and the
   pair's mark on the distance plot. The server is asked only after a stroke, an upload or a
   model change (`look`, one request, at most one in flight): for each side's nearest MNIST
   digits, from the 28x28 image (784 bytes), and for the verdict itself only while the browser
   cannot give it (no WebAssembly, or the model's weights still on their way). A side's answer is
   shown only while the side still holds what was sent (version numbers), so an old answer
   never replaces a newer one.

   demo.compare.tab builds the HTML and calls SiameseBoard.init from the component's js_on_load;
   the pads and uploads are pad.js's.
   props.config: {engine, paper, brush, max_pixels, work_side, max_upload_mb};
   props.model: the session's model ({key, name, threshold, meta, weights}); it changes with the
   session's model (a retrain, a class). */
(() => {
  if (window.SiameseBoard) return;

  const SIDES = ["a", "b"];
  const NAMES = {a: "A", b: "B"};
  const START_HINT = "Draw or upload two digits, one on each side.";
  const MISSING = {a: "Now draw or upload digit A (left).", b: "Now draw or upload digit B (right)."};
  const LOOK_DELAY_MS = 250;  // after the last stroke ends: one look for a digit of several strokes
  const LOOK_TIMEOUT_MS = 15000;

  const {fmt, esc} = window.SiameseViews;

  function verdictText(distance, p, threshold) {
    const same = distance <= threshold;
    let head, say;
    if (same) {
      if (p >= 0.9) [head, say] = ["Same digit", "The network is confident both images show the same digit."];
      else if (p >= 0.5) [head, say] = ["Probably the same digit", "The network leans towards the same digit, without much margin."];
      else [head, say] = ["Same digit, only just", "The distance is under the threshold, but the head on its own would call them different: a borderline pair."];
    } else {
      if (p <= 0.1) [head, say] = ["Different digits", "The network is confident these are two different digits."];
      else if (p <= 0.5) [head, say] = ["Probably different digits", "The network leans towards different digits, without much margin."];
      else [head, say] = ["Different digits, only just", "The distance is over the threshold, but the head on its own would call them the same: a borderline pair."];
    }
    return [same ? "same" : "different", head, say];
  }

  function messageHtml(text, kind = "hint") {
    const icon = kind === "error" ? "\u26a0\ufe0f" : "\u270f\ufe0f";
    return `<div class="verdict-card ${kind}" data-verdict="${kind}"><div class="verdict-msg"><span class="msg-icon">${icon}</span>${esc(text)}</div></div>`;
  }

  function verdictHtml(r, threshold, guesses, model, where) {
    const [verdict, head, say] = verdictText(r.distance, r.probability, threshold);
    const rel = verdict === "same" ? "\u2264" : ">";
    const guess = guesses ? `<div class="verdict-guess">Nearest MNIST digits say: A looks like a <b>${esc(guesses.a)}</b>, B like a <b>${esc(guesses.b)}</b>.</div>` : "";
    return `<div class="verdict-card ${verdict}" data-verdict="${verdict}" data-path="${where}">
<div class="verdict-head">${head}</div>
<div class="verdict-say">${say}</div>
<div class="verdict-nums">
  <div><b id="distance-value">${fmt(r.distance)}</b><span>distance</span></div>
  <div><b id="probability-value">${(r.probability * 100).toFixed(0)}%</b><span>chance of same digit</span></div>
  <div><b>${fmt(threshold)}</b><span>threshold</span></div>
</div>
<div class="verdict-why">Distance ${fmt(r.distance)} ${rel} threshold ${fmt(threshold)}, so the verdict is \u201c${verdict}\u201d. Smaller distance means more alike.</div>${guess}
<div class="verdict-model">Judged by ${esc(model.name)}, ${where === "browser" ? "in your browser" : "on the server"}.</div>
</div>`;
  }

  const {b64, unb64, toBytes} = window.SiamesePad;

  // -- the board ---------------------------------------------------------------------------------------
  function init(element, props, trigger, watch, server) {
    const config = props.config;
    const engine = window.SiameseEngine.get(config.engine);
    const note = () => document.querySelector("#engine-note");
    const state = {model: props.model, threshold: props.model.threshold, ready: false, broken: null,
                   session: null, sessionKey: null, verdict: null, computing: false, again: false, frame: 0,
                   looking: false, lookAgain: false, lookTimer: 0, lookSent: 0, serverVerdict: null};
    const sides = {};

    function say(text) { const n = note(); if (n) n.textContent = `Where it runs: ${text}`; state.path = text; }

    for (const s of SIDES) {
      const root = element.querySelector(`.board-side[data-side="${s}"]`);
      const side = sides[s] = {
        name: s, root, mode: "draw", version: 0, seen: -1, image: null, status: "empty", error: null,
        desc: null, descKey: null, upload: null, uploadBytes: null, neighbours: null, guess: null, serverImage: null,
        msg: root.querySelector(".side-msg"),
      };
      side.pad = new window.SiamesePad.Pad(root.querySelector(".digit-pad"), config.paper, config.brush, (phase) => {
        if (side.mode !== "draw") setMode(side, "draw");
        changed(side, phase === "end");
      });
      root.querySelectorAll("[data-mode]").forEach((b) => b.addEventListener("click", () => { setMode(side, b.dataset.mode); changed(side, true); }));
      const input = root.querySelector("input[type=file]");
      input.addEventListener("change", () => { if (input.files[0]) take(side, input.files[0]); input.value = ""; });
      const drop = root.querySelector(".digit-upload");
      drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
      drop.addEventListener("dragleave", () => drop.classList.remove("over"));
      drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) take(side, e.dataTransfer.files[0]); });
      drop.addEventListener("paste", (e) => { const f = [...(e.clipboardData?.files || [])][0]; if (f) { e.preventDefault(); take(side, f); } });
      element.querySelector(`#clear-${s}`).addEventListener("click", () => clear(side));
    }
    element.querySelector("#compare-btn").addEventListener("click", () => press());
    // An example pair: both images into the uploads, as if dropped there.
    element.querySelectorAll(".example").forEach((button) => button.addEventListener("click", async () => {
      const blobs = await Promise.all([button.dataset.a, button.dataset.b].map((u) => fetch(u).then((r) => r.blob())));
      SIDES.forEach((s, i) => take(sides[s], blobs[i]));
    }));

    // The threshold slider (a Gradio component outside the board): its number and range inputs.
    const slider = () => [...document.querySelectorAll("#threshold input")];
    const bindSlider = () => slider().forEach((el) => {
      if (el.dataset.boardBound) return;
      el.dataset.boardBound = "1";
      const read = () => { const v = parseFloat(el.value); if (!Number.isNaN(v)) { state.threshold = v; render(); } };
      el.addEventListener("input", read);
      el.addEventListener("change", read);
    });
    bindSlider();
    new MutationObserver(bindSlider).observe(document.body, {childList: true, subtree: true});
    // The distance plot (server-rendered, redrawn on a threshold or model change): keep our mark on it.
    new MutationObserver(() => mark()).observe(document.querySelector("#plot") || document.body, {childList: true, subtree: true});

    function setMode(side, mode) {
      side.mode = mode;
      side.root.querySelectorAll("[data-mode]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.mode === mode)));
      side.root.querySelectorAll("[data-panel]").forEach((p) => { p.hidden = p.dataset.panel !== mode; });
      side.root.dataset.mode = mode;
    }

    function clear(side) {
      side.pad.clear();
      side.upload = side.uploadBytes = side.error = null;
      side.root.querySelector(".preview").removeAttribute("src");
      side.root.classList.remove("has-upload");
      setMode(side, "draw");
      changed(side, false);
    }

    async function take(side, file) {
      setMode(side, "upload");
      side.error = null;
      if (file.size > config.max_upload_mb * 1e6) {
        side.upload = side.uploadBytes = null;
        side.error = `the file is over ${config.max_upload_mb} MB`;
        changed(side, false);
        return;
      }
      const preview = side.root.querySelector(".preview");
      preview.src = URL.createObjectURL(file);
      side.root.classList.add("has-upload");
      side.uploadBytes = file;
      try {
        side.upload = state.broken ? null : await window.SiamesePad.decode(file, config);
      } catch (e) {
        side.upload = null;
        side.error = e.message;
      }
      changed(side, true);
    }

    /* A side's input changed: recompute now (next frame) and, after a stroke, ask the server. */
    function changed(side, settled) {
      side.version++;
      side.neighbours = side.guess = side.serverImage = null;
      schedule();
      if (settled) lookSoon();
    }

    function schedule() {
      if (!state.frame) state.frame = requestAnimationFrame(() => { state.frame = 0; compute(); });
    }

    function pixels(side) {
      if (side.mode === "draw") return side.pad.pixels();
      return side.upload;
    }

    function present(side) {
      return side.mode === "draw" ? !side.pad.empty : (side.upload !== null || side.uploadBytes !== null || side.error !== null);
    }

    async function compute() {
      if (state.computing) { state.again = true; return; }
      state.computing = true;
      try {
        do { state.again = false; await computeOnce(); } while (state.again);
      } catch (e) {
        console.error("siamese board:", e);
      } finally {
        state.computing = false;
      }
      render();
    }

    async function computeOnce() {
      for (const s of SIDES) {
        const side = sides[s];
        if (side.seen === side.version) continue;
        const version = side.seen = side.version;
        side.image = null; side.desc = null; side.descKey = null;
        side.status = present(side) ? (side.error ? "error" : "pending") : "empty";
        const rgba = side.status === "pending" && state.ready ? pixels(side) : null;
        if (!rgba) continue;
        if (Math.min(rgba.width, rgba.height) < 2) { side.status = "blank"; continue; }
        const out = await engine.preprocess(rgba);
        if (side.version !== version) { state.again = true; return; }
        side.image = out.image;
        side.status = out.status === 0 ? "ok" : "blank";
        side.blank = out.status === 2 ? "the digit is too faint to see" : "the image looks blank: draw or upload a digit";
      }
      const model = state.model;
      if (!state.session || state.sessionKey !== model.key) return;
      const todo = SIDES.filter((s) => sides[s].status === "ok" && sides[s].descKey !== model.key);
      if (todo.length) {
        const versions = todo.map((s) => sides[s].version);
        const descs = await engine.embed(state.session, model, todo.map((s) => sides[s].image));
        todo.forEach((s, i) => {
          if (sides[s].version === versions[i] && state.model.key === model.key) { sides[s].desc = descs[i]; sides[s].descKey = model.key; }
          else state.again = true;
        });
      }
      if (sides.a.descKey === model.key && sides.b.descKey === model.key && sides.a.desc && sides.b.desc) {
        const versions = [sides.a.version, sides.b.version];
        const [r] = await engine.pair(model, [sides.a.desc], [sides.b.desc]);
        if (sides.a.version === versions[0] && sides.b.version === versions[1] && state.model.key === model.key) {
          state.verdict = {...r, versions, key: model.key};
        } else state.again = true;
      }
    }

    function current(v) {
      return v && v.key === state.model.key && v.versions[0] === sides.a.version && v.versions[1] === sides.b.version;
    }

    function sideProblem(s) {
      const side = sides[s];
      if (side.status === "error") return [`Digit ${NAMES[s]}: ${side.error}`, "error"];
      if (side.status === "blank") return [`Digit ${NAMES[s]}: ${side.blank}`, "hint"];
      if (side.serverProblem) return side.serverProblem;
      return null;
    }

    function message() {
      const a = sides.a.status === "empty", b = sides.b.status === "empty";
      if (a && b) return [START_HINT, "hint"];
      if (a) return [MISSING.a, "hint"];
      if (b) return [MISSING.b, "hint"];
      return sideProblem("a") || sideProblem("b");
    }

    function render(strict = false) {
      const verdict = element.querySelector("#verdict");
      const msg = message();
      let html, distance = null;
      if (msg) {
        html = messageHtml(...msg);
        if (strict) toast(msg[0]);
      } else {
        const guesses = sides.a.guess && sides.b.guess ? {a: sides.a.guess, b: sides.b.guess} : null;
        if (current(state.verdict)) {
          html = verdictHtml(state.verdict, state.threshold, guesses, state.model, "browser");
          distance = state.verdict.distance;
        } else if (current(state.serverVerdict)) {
          html = verdictHtml(state.serverVerdict, state.threshold, guesses, state.model, "server");
          distance = state.serverVerdict.distance;
        } else {
          html = null;  // being computed: the last card stays (a stroke in progress) ...
          if (!verdict.querySelector(".verdict-card.same, .verdict-card.different")) {
            html = messageHtml(state.ready ? "Comparing\u2026" : "Comparing on the server\u2026", "hint");
          }
        }
      }
      if (html !== null && verdict.dataset.html !== html) {
        verdict.innerHTML = html;
        verdict.dataset.html = html;
      }
      state.distance = distance;
      for (const s of SIDES) view(s);
      mark();
      neighbours();
    }

    function toast(text) {
      const t = element.querySelector(".board-toast");
      t.textContent = text;
      t.hidden = false;
      clearTimeout(t._timer);
      t._timer = setTimeout(() => { t.hidden = true; }, 4000);
    }

    /* The 28x28 image the network sees, enlarged with hard pixel edges. */
    function view(s) {
      const side = sides[s], canvas = element.querySelector(`#view-${s} canvas`);
      const image = side.image || side.serverImage;
      const key = image ? `${side.version}:${side.image ? "b" : "s"}` : "none";
      if (canvas.dataset.shown === key) return;
      canvas.dataset.shown = key;
      const ctx = canvas.getContext("2d");
      const px = ctx.createImageData(28, 28);
      for (let i = 0; i < 784; i++) {
        const v = image ? Math.round(image[i] * 255) : 0;
        px.data[i * 4] = px.data[i * 4 + 1] = px.data[i * 4 + 2] = v;
        px.data[i * 4 + 3] = 255;
      }
      ctx.putImageData(px, 0, 0);
      element.querySelector(`#view-${s}`).classList.toggle("empty", !image);
    }

    /* This pair's distance on the plot's axis (the SVG says how its axis maps: data-lo, -hi,
       -x0, -w, -top, -base). */
    function mark() {
      const svg = document.querySelector("#plot svg.dist-svg");
      if (!svg) return;
      let g = svg.querySelector("#pair-marker");
      const d = state.distance;
      if (d === null || d === undefined) { if (g) g.remove(); return; }
      const lo = +svg.dataset.lo, hi = +svg.dataset.hi, x0 = +svg.dataset.x0, w = +svg.dataset.w;
      const top = +svg.dataset.top, base = +svg.dataset.base;
      const x = x0 + (Math.min(Math.max(d, lo), hi) - lo) / (hi - lo) * w;
      const key = `${x.toFixed(1)}:${fmt(d)}`;
      if (g && g.dataset.key === key) return;
      if (!g) {
        g = document.createElementNS("http://www.w3.org/2000/svg", "g");
        g.id = "pair-marker";
        svg.appendChild(g);
      }
      g.dataset.key = key;
      const off = d < lo ? " \u25c0" : d > hi ? " \u25b6" : "";
      const start = x < x0 + w * 0.75;
      g.innerHTML = `<line class="pair-mark" x1="${x.toFixed(1)}" y1="${top + 8}" x2="${x.toFixed(1)}" y2="${base}" stroke="${svg.dataset.colour}" stroke-width="3"/>`
        + `<circle class="pair-mark" cx="${x.toFixed(1)}" cy="${top + 8}" r="5" fill="${svg.dataset.colour}"/>`
        + `<text x="${(x + (start ? 7 : -7)).toFixed(1)}" y="${top + 12}" class="pair" text-anchor="${start ? "start" : "end"}">this pair ${fmt(d)}${off}</text>`;
    }

    function neighbours() {
      for (const s of SIDES) {
        const slot = document.querySelector(`#neighbours-${s}`);
        if (!slot) continue;
        const html = sides[s].neighbours || (props.reference && props.reference.empty && props.reference.empty[s]) || "";
        if (slot.dataset.html !== html) { slot.innerHTML = html; slot.dataset.html = html; }
      }
    }

    /* The Compare button: the verdict now, and a word when a side is missing. */
    function press() {
      schedule();
      render(true);
      lookSoon(0);
    }

    // -- the server: neighbours, and the verdict while the browser cannot ----------------------------
    function lookSoon(delay = LOOK_DELAY_MS) {
      clearTimeout(state.lookTimer);
      state.lookTimer = setTimeout(look, delay);
    }

    function payload(side) {
      if (side.status === "empty" || side.status === "error") return null;
      if (side.image) return {version: side.version, mnist: b64(toBytes(side.image))};
      if (side.status === "blank") return null;
      if (side.mode === "draw") return {version: side.version, png: side.pad.png()};
      return side.uploadBytes ? {version: side.version, file: side.uploadBytes} : null;
    }

    async function look() {
      if (state.looking && Date.now() - state.lookSent < LOOK_TIMEOUT_MS) { state.lookAgain = true; return; }
      if (state.computing || state.frame) { lookSoon(30); return; }  // send what the browser has computed
      const model = state.model;
      const request = {key: model.key, session: props.session, verdict: !current(state.verdict), sides: {}};
      let any = false;
      for (const s of SIDES) {
        const p = payload(sides[s]);
        if (p && p.file) p.file = b64(new Uint8Array(await p.file.arrayBuffer()));
        request.sides[s] = p;
        any = any || p !== null;
      }
      if (!any) return;
      state.looking = true;
      state.lookSent = Date.now();
      try {
        apply(await server.look(request));
      } catch (e) {
        console.error("siamese board: look failed", e);
      } finally {
        state.looking = false;
        if (state.lookAgain) { state.lookAgain = false; lookSoon(0); }
      }
    }

    function apply(r) {
      if (!r) return;
      if (r.gone) { trigger("input", r.gone); return; }  // demo.compare.tab: back to the shipped model
      if (r.key !== state.model.key) return;
      for (const s of SIDES) {
        const got = r.sides && r.sides[s], side = sides[s];
        if (!got || got.version !== side.version) continue;
        side.neighbours = got.neighbours || null;
        side.guess = got.guess ?? null;
        side.serverImage = got.image ? Array.from(unb64(got.image), (v) => v / 255) : null;
        side.serverProblem = got.problem ? [got.problem, got.kind || "error"] : null;
      }
      if (r.verdict && r.verdict.versions[0] === sides.a.version && r.verdict.versions[1] === sides.b.version) {
        state.serverVerdict = {...r.verdict, key: r.key};
      }
      render();
    }

    // -- the model ---------------------------------------------------------------------------------------
    function useModel(model) {
      state.model = model;
      state.threshold = model.threshold;
      state.session = null;
      state.sessionKey = null;
      for (const s of SIDES) { sides[s].desc = null; sides[s].descKey = null; sides[s].neighbours = sides[s].guess = null; }
      state.verdict = state.serverVerdict = null;
      if (model.weights && !state.broken) {
        engine.tower(model).then((session) => {
          if (state.model.key !== model.key) return;
          state.session = session;
          state.sessionKey = model.key;
          state.readyAt = state.readyAt || performance.now();  // first model ready (demo.measure.stroke)
          say(`The network runs in your browser (${model.name}).`);
          schedule();
        }, (e) => { say(`Compared on the server: ${model.name} could not load here (${e.message || e}).`); });
      } else {
        say(`Compared on the server: ${state.broken ? `this browser cannot run the network (${state.broken})` : `${model.name} runs only there`}.`);
      }
      schedule();
      lookSoon(0);
    }

    watch("model", () => useModel(props.model));
    watch("reference", () => { render(); lookSoon(0); });  // the MNIST reference arrived: neighbours can come now

    say("Loading the network into your browser\u2026");
    engine.start().then(() => {
      state.ready = true;
      for (const s of SIDES) sides[s].seen = -1;  // preprocess what is there already
      schedule();
    }, (e) => {
      state.broken = engine.failure || String(e);
      say(`Compared on the server: this browser cannot run the network (${state.broken}).`);
    });
    useModel(props.model);
    for (const s of SIDES) setMode(sides[s], "draw");
    render();
    // For tests and the curious: the board's state.
    element.siameseBoard = {state, sides, engine, look, render};
  }

  window.SiameseBoard = {init, verdictText};
})();
