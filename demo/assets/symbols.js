/* The "Your symbols" tab's board: the new drawing's pad and the ranking of the student's symbols.

   One-shot in the browser: at every stroke (during it, once an animation frame) the query runs
   through the selected model here (engine.js), against each symbol's descriptor (embedded once
   per model), and the ranking is redrawn: best match, how sure, every symbol's bar. After a
   stroke (or when the symbols or the model change) the server is asked once (`look`) for the
   map and the note on the two models, and for the ranking itself only while the browser cannot
   give it. An answer is shown only while the query it was for is still on the pad.

   props.config: {engine, paper, brush, least, most}; props.model: the chosen model ({key, name,
   meta, weights}); props.symbols: [{name, image: base64 28x28}] (demo.symbols.handlers.act). */
(() => {
  if (window.SiameseSymbols) return;
  const {fmt, esc, barPct, imageUrl} = window.SiameseViews;
  const {b64, unb64, toBytes} = window.SiamesePad;

  const QUERY_HINT = "Now draw a new symbol on the middle pad: your symbols are ranked by how alike they look to it.";
  const SURE = 0.9, FAIRLY = 0.6;
  const CONFIDENCE_NOTE = "<b>How sure</b> is the chance that your drawing is this symbol rather than one of your others, "
    + "worked out from the distances the way the model turns a distance into a chance of \u201csame\u201d. "
    + "It takes for granted that the drawing is one of your symbols, and it says how sure the model is, "
    + "not how often it is right.";
  const MODEL_NAMES = {symbols: "symbols model", digits: "digit model"};
  const LOOK_DELAY_MS = 250;

  function fewHint(count, least, most) {
    if (count === 0) {
      return `Draw a symbol of your own on the left pad (a star, a heart, your initial...), name it and press Add. `
        + `${least} symbols at least, ${most} at most, then draw a new one.`;
    }
    return `One symbol so far: add at least ${least - count} more, so there is something to choose between.`;
  }

  function sureWords(matches) {
    const best = matches[0];
    if (best.confidence >= SURE) return "sure";
    if (best.confidence >= FAIRLY) return "fairly sure";
    return `unsure: it could as well be \u201c${esc(matches[1].name)}\u201d`;
  }

  /* The best match, how sure, and every symbol's bar; or `message` when there is no ranking. */
  function resultHtml(ranking, message, kind = "hint", where = "") {
    if (!ranking) {
      return `<div class="sym-result empty" data-state="${kind}"><div class="sym-note ${kind}" role="status">${esc(message || QUERY_HINT)}</div></div>`;
    }
    const best = ranking.matches[0];
    const rows = ranking.matches.map((m, i) =>
      `<div class="sym-row${i === 0 ? " top" : ""}" data-name="${esc(m.name)}" data-confidence="${m.confidence.toFixed(6)}" `
      + `data-distance="${m.distance.toFixed(6)}"><img src="${m.url}" alt="your symbol ${esc(m.name)}">`
      + `<span class="sym-name">${esc(m.name)}</span>`
      + `<div class="sym-bar"><i style="width:${Math.max(m.confidence * 100, 0.4).toFixed(1)}%"></i></div>`
      + `<span class="sym-p">${barPct(m.confidence)}</span><span class="sym-d">d ${fmt(m.distance)}</span></div>`).join("");
    return `<div class="sym-result" data-best="${esc(best.name)}" data-confidence="${best.confidence.toFixed(6)}" `
      + `data-model="${esc(ranking.model)}" data-path="${where}"><div class="sym-head">`
      + `<img class="sym-query" src="${ranking.queryUrl}" alt="your new drawing as the network sees it">`
      + `<div aria-live="polite" role="status"><div class="sym-best">Best match: <b>${esc(best.name)}</b></div>`
      + `<div class="sym-sure"><b>${barPct(best.confidence)}</b> sure \u2014 ${sureWords(ranking.matches)}</div>`
      + `<div class="muted">by the ${MODEL_NAMES[ranking.model] || esc(ranking.model)}, ${where === "browser" ? "in your browser" : "on the server"}; `
      + `distance ${fmt(best.distance)}</div></div></div>`
      + `<div class="sym-rows">${rows}</div><p class="sym-explain">${CONFIDENCE_NOTE}</p></div>`;
  }

  /* siamese.oneshot.one_shot_ranking: most likely first (distance breaks ties), each with its
     match_confidence, a softmax over the log-odds. */
  function rankMatches(symbols, scores) {
    const top = Math.max(...scores.map((s) => s.logOdds));
    const w = scores.map((s) => Math.exp(s.logOdds - top)), total = w.reduce((a, b) => a + b, 0);
    return symbols.map((s, i) => ({name: s.name, url: s.url, distance: scores[i].distance,
                                   probability: scores[i].probability, confidence: w[i] / total}))
      .sort((x, y) => (y.probability - x.probability) || (x.distance - y.distance));
  }

  function init(element, props, trigger, watch, server) {
    const config = props.config;
    const engine = window.SiameseEngine.get(config.engine);
    const result = document.querySelector("#symbols-result");  // beside the board (demo.symbols.tab)
    const state = {model: null, symbols: [], refs: null, refsKey: "", session: null, sessionKey: null, ready: false,
                   version: 0, seen: -1, image: null, status: "empty", ranking: null, serverRanking: null,
                   computing: false, again: false, frame: 0, looking: false, lookAgain: false, lookTimer: 0};
    const pad = new window.SiamesePad.Pad(element.querySelector("#sketch-symquery"), config.paper, config.brush, (phase) => {
      changed(phase === "end");
    });
    element.querySelector("#symquery-clear").addEventListener("click", () => { pad.clear(); changed(true); });

    function changed(settled) {
      state.version++;
      schedule();
      if (settled) lookSoon();
    }

    function schedule() {
      if (!state.frame) state.frame = requestAnimationFrame(() => { state.frame = 0; compute(); });
    }

    const symbolsKey = () => state.symbols.map((s) => s.name + ":" + s.image64.slice(0, 24) + s.image64.length).join("|");

    async function compute() {
      if (state.computing) { state.again = true; return; }
      state.computing = true;
      try {
        do { state.again = false; await computeOnce(); } while (state.again);
      } catch (e) {
        console.error("symbols board:", e);
      } finally {
        state.computing = false;
      }
      render();
    }

    async function computeOnce() {
      if (state.seen !== state.version) {
        const version = state.seen = state.version;
        state.image = null; state.ranking = null;
        state.status = pad.empty ? "empty" : "pending";
        if (!pad.empty && state.ready) {
          const out = await engine.preprocess(pad.pixels());
          if (state.version !== version) { state.again = true; return; }
          state.image = out.image;
          state.status = out.status === 0 ? "ok" : "blank";
        }
      }
      const model = state.model;
      if (!model || state.sessionKey !== model.key || state.status !== "ok" || state.symbols.length < config.least) return;
      const key = `${model.key}|${symbolsKey()}`;
      if (state.refsKey !== key) {
        state.refs = await engine.embed(state.session, model, state.symbols.map((s) => s.image));
        state.refsKey = key;
      }
      const version = state.version;
      const [q] = await engine.embed(state.session, model, [state.image]);
      const scores = await engine.pair(model, state.refs.map(() => q), state.refs);
      if (state.version !== version || state.model !== model || state.refsKey !== key) { state.again = true; return; }
      state.ranking = {model: model.key, matches: rankMatches(state.symbols, scores), queryUrl: imageUrl(state.image),
                       version, key};
    }

    function render() {
      let html;
      const n = state.symbols.length;
      const current = (r) => r && r.version === state.version && r.key === `${state.model && state.model.key}|${symbolsKey()}`;
      if (n < config.least) html = resultHtml(null, fewHint(n, config.least, config.most));
      else if (state.status === "empty") html = resultHtml(null, QUERY_HINT);
      else if (state.status === "blank") html = resultHtml(null, "Your new drawing looks blank: draw the symbol first.");
      else if (state.problem && state.problem.version === state.version) html = resultHtml(null, state.problem.text, "error");
      else if (current(state.ranking)) html = resultHtml(state.ranking, null, "hint", "browser");
      else if (current(state.serverRanking)) html = resultHtml(state.serverRanking, null, "hint", "server");
      else html = null;  // being computed: the last ranking stays a moment
      if (html !== null && result.dataset.html !== html) { result.innerHTML = html; result.dataset.html = html; }
    }

    // -- the server: the map and the models' note; the ranking while the browser cannot --------
    function lookSoon(delay = LOOK_DELAY_MS) {
      clearTimeout(state.lookTimer);
      state.lookTimer = setTimeout(look, delay);
    }

    async function look() {
      if (state.looking) { state.lookAgain = true; return; }
      if (state.computing || state.frame) { lookSoon(30); return; }
      const model = state.model;
      if (!model) return;
      const version = state.version, key = `${model.key}|${symbolsKey()}`;
      let query = null;
      if (state.image) query = {mnist: b64(toBytes(state.image))};
      else if (!pad.empty && state.status !== "blank") query = {png: pad.png()};
      const request = {model: model.key, symbols: state.symbols.map((s) => ({name: s.name, image: s.image64})), query,
                       rank: !(state.ranking && state.ranking.version === version)};
      state.looking = true;
      try {
        const r = await server.look(request);
        const slots = {map: "#symbols-map-slot", note: "#symbols-models-slot"};
        for (const [k, sel] of Object.entries(slots)) {
          const slot = document.querySelector(sel);
          if (slot && r[k] !== undefined && slot.dataset.html !== r[k] && (k === "note" || version === state.version)) {
            slot.innerHTML = r[k];
            slot.dataset.html = r[k];
          }
        }
        state.problem = r.problem ? {text: r.problem, version} : null;
        if (r.ranking && version === state.version) {
          const byName = Object.fromEntries(state.symbols.map((s) => [s.name, s.url]));
          const image = r.query_image ? Array.from(unb64(r.query_image), (v) => v / 255) : state.image;
          state.serverRanking = {model: model.key, version, key, queryUrl: image ? imageUrl(image) : "",
                                 matches: r.ranking.map((m) => ({...m, url: byName[m.name]}))};
        }
        render();
      } catch (e) {
        console.error("symbols board: look failed", e);
      } finally {
        state.looking = false;
        if (state.lookAgain) { state.lookAgain = false; lookSoon(0); }
      }
    }

    function useSymbols(list) {
      state.symbols = (list || []).map((s) => {
        const image = Float32Array.from(unb64(s.image), (v) => v / 255);
        return {name: s.name, image64: s.image, image, url: imageUrl(image)};
      });
      schedule();
      lookSoon(0);
    }

    function useModel(model) {
      state.model = model;
      state.session = state.sessionKey = null;
      if (model && model.weights) {
        engine.tower(model).then((session) => {
          if (state.model !== model) return;
          state.session = session;
          state.sessionKey = model.key;
          schedule();
        }, (e) => console.error("symbols board: the model could not load here", e));
      }
      schedule();
      lookSoon(0);
    }

    watch("model", () => useModel(props.model));
    watch("symbols", () => useSymbols(props.symbols));
    engine.start().then(() => { state.ready = true; state.seen = -1; schedule(); }, () => {});
    useSymbols(props.symbols);
    useModel(props.model);
    element.siameseSymbols = {state, look};
  }

  window.SiameseSymbols = {init, rankMatches};
})();
