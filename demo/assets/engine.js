/* The siamese network in the student's browser: ONNX Runtime Web (WebAssembly, one thread) on
   the graphs of siamese/graphs, the same files Python runs (siamese.bundle says what each does):

     preprocess.onnx  RGBA pixels (H, W, 4) -> the 28x28 image the network sees, and a status
     tower.onnx       28x28 -> descriptor; every model shares the graph, its weights.bin differs
     pair.onnx        two descriptors + the model's pair numbers -> distance, p(same)

   window.SiameseEngine.get(config) returns the page's one engine. Everything it downloads is
   named by content (?v=digest), so Cache Storage keeps it across visits: fetched once per
   browser. Runs are serialised (ONNX Runtime Web runs one thing at a time anyway). */
(() => {
  if (window.SiameseEngine) return;
  const CACHE = "siamese-digits-v1";

  async function fetchResponse(url) {
    // Cache Storage needs a secure context (https or localhost); elsewhere the HTTP cache serves.
    if (window.caches && window.isSecureContext) {
      try {
        const cache = await caches.open(CACHE);
        const hit = await cache.match(url);
        if (hit) return hit;
        const resp = await fetch(url);
        if (resp.ok) await cache.put(url, resp.clone());
        return resp;
      } catch (e) { /* private mode, quota: plain fetch below */ }
    }
    return fetch(url);
  }

  async function fetchBytes(url, gzipped = false) {
    const resp = await fetchResponse(url);
    if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
    if (gzipped) return new Uint8Array(await new Response(resp.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
    return new Uint8Array(await resp.arrayBuffer());
  }

  class Engine {
    constructor(config) {
      this.config = config;  // {ort: {script, mjs, wasm}, graphs: {preprocess, tower, pair}}
      this.sessions = new Map();  // weights url -> Promise<InferenceSession>
      this.chain = Promise.resolve();
      this.ready = null;
      this.failure = null;  // why the browser cannot compare, once known
    }

    /* Load ONNX Runtime and the shared graphs (once); rejects where the browser cannot. */
    start() {
      if (!this.ready) {
        this.ready = this._start().catch((e) => { this.failure = String(e && e.message || e); throw e; });
      }
      return this.ready;
    }

    async _start() {
      if (typeof WebAssembly !== "object" || typeof DecompressionStream !== "function") {
        throw new Error("this browser has no WebAssembly");
      }
      const script = window.ort ? null : this._script(this.config.ort.script);
      const g = this.config.graphs;  // everything at once: the page waits for the slowest only
      const files = Promise.all([fetchBytes(this.config.ort.wasm, true), fetchBytes(g.preprocess),
                                 fetchBytes(g.pair), fetchBytes(g.tower)]);
      await script;
      const env = window.ort.env;
      env.logLevel = "error";
      env.wasm.numThreads = 1;  // threads need a cross-origin-isolated page, which Gradio's is not
      env.wasm.proxy = false;
      env.wasm.wasmPaths = {mjs: new URL(this.config.ort.mjs, location.href).href};
      const [wasm, pre, pair, tower] = await files;
      env.wasm.wasmBinary = wasm.buffer;
      this.towerGraph = tower;
      this.pre = await window.ort.InferenceSession.create(pre, {executionProviders: ["wasm"]});
      this.pairSession = await window.ort.InferenceSession.create(pair, {executionProviders: ["wasm"]});
    }

    _script(src) {
      return new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = src;
        s.onload = resolve;
        s.onerror = () => reject(new Error(`could not load ${src}`));
        document.head.appendChild(s);
      });
    }

    /* A model's tower session (weights fetched once), for model info {weights: {url, bytes}}. */
    tower(model) {
      const url = model.weights.url;
      if (!this.sessions.has(url)) {
        const made = (async () => {
          const [, weights] = await Promise.all([this.start(), fetchBytes(url)]);
          return window.ort.InferenceSession.create(this.towerGraph, {
            executionProviders: ["wasm"], externalData: [{path: "weights.bin", data: weights}]});
        })();
        made.catch(() => this.sessions.delete(url));  // a failed fetch may be retried later
        this.sessions.set(url, made);
        while (this.sessions.size > 4) this.sessions.delete(this.sessions.keys().next().value);
      }
      return this.sessions.get(url);
    }

    /* fn() after every run queued before it: one run at a time. */
    _serial(fn) {
      const run = this.chain.then(fn, fn);
      this.chain = run.catch(() => {});
      return run;
    }

    /* RGBA pixels {data: Uint8ClampedArray, width, height} -> {image: Float32Array(784), status}. */
    preprocess(rgba) {
      return this._serial(async () => {
        const data = new Uint8Array(rgba.data.buffer, rgba.data.byteOffset, rgba.data.byteLength);
        const out = await this.pre.run({rgba: new window.ort.Tensor("uint8", data, [rgba.height, rgba.width, 4])});
        return {image: out.image.data, status: Number(out.status.data[0])};
      });
    }

    /* Images (N x 784 floats) -> N descriptors (Float32Array each) with the model's tower. */
    async embed(session, model, images) {
      return this._serial(async () => {
        const n = images.length, x = new Float32Array(n * 784);
        images.forEach((im, i) => x.set(im, i * 784));
        const flag = (v) => new window.ort.Tensor("float32", new Float32Array([v]), []);
        const out = await session.run({images: new window.ort.Tensor("float32", x, [n, 1, 28, 28]),
                                       final_relu: flag(model.meta.final_relu), unit: flag(model.meta.unit)});
        const d = out.descriptors.dims[1], all = out.descriptors.data;
        return Array.from({length: n}, (_, i) => all.slice(i * d, (i + 1) * d));
      });
    }

    /* Descriptor pairs (a[i], b[i]) -> [{distance, probability, logOdds}] under the model's metric. */
    pair(model, as, bs) {
      return this._serial(async () => {
        const n = as.length, d = as[0].length, a = new Float32Array(n * d), b = new Float32Array(n * d);
        as.forEach((v, i) => a.set(v, i * d));
        bs.forEach((v, i) => b.set(v, i * d));
        const p = model.meta.pair, T = window.ort.Tensor;
        const scalar = (v) => new T("float32", new Float32Array([v]), []);
        const out = await this.pairSession.run({
          a: new T("float32", a, [n, d]), b: new T("float32", b, [n, d]),
          weights: new T("float32", Float32Array.from(p.weights), [d]),
          euclidean: scalar(p.euclidean), slope: scalar(p.slope), intercept: scalar(p.intercept)});
        return Array.from({length: n}, (_, i) => ({distance: out.distance.data[i], probability: out.same_probability.data[i],
                                                   logOdds: out.log_odds.data[i]}));
      });
    }
  }

  let engine = null;
  window.SiameseEngine = {get: (config) => (engine ??= new Engine(config))};
})();
