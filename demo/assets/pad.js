/* Drawing pads and uploads for every tab: strokes into the pixels the network gets, files into
   small RGBA arrays as siamese.images makes them. window.SiamesePad:

     new Pad(root, paper, brush, onChange)   a <canvas> in `root` to draw on
     decode(blob, config)                    an image file -> {width, height, data}, reduced
     mountValuePad(element, props, trigger, watch, config)
                                             a Pad whose Gradio value is its drawing (a PNG), for
                                             tabs whose server reads the drawing (demo.inputs) */
(() => {
  if (window.SiamesePad) return;

  /* bytes (Uint8Array or Uint8ClampedArray) -> base64, in chunks (one call per byte overflows the stack). */
  const b64 = (bytes) => { let s = ""; for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192)); return btoa(s); };
  const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const toBytes = (image) => Uint8Array.from(image, (v) => Math.max(0, Math.min(255, Math.round(v * 255))));

  // -- a drawing pad -------------------------------------------------------------------------------
  /* Strokes kept as points in paper pixels (paper x paper, white, black round pen `brush` px
     wide), drawn twice: on `raster` at the paper's size, whose pixels the network gets, and on
     the canvas on screen at its own resolution. Pointer events, so a mouse, a finger and a
     stylus draw alike; the page never scrolls under a stroke (touch-action: none). */
  class Pad {
    constructor(root, paper, brush, onChange) {
      this.root = root;
      // The canvas is made here, after the listeners below: a canvas on the page draws.
      this.canvas = document.createElement("canvas");
      this.canvas.setAttribute("role", "img");
      this.canvas.setAttribute("aria-label", root.dataset.label || "Drawing pad");
      this.paper = paper;
      this.brush = brush;
      this.onChange = onChange;  // (phase: "move" | "end")
      this.strokes = [];
      this.active = null;  // the pointer drawing now
      this.raster = document.createElement("canvas");
      this.raster.width = this.raster.height = paper;
      this.rctx = this.raster.getContext("2d", {willReadFrequently: true});
      this._blank(this.rctx, paper);
      const c = this.canvas;
      c.addEventListener("pointerdown", (e) => this._down(e));
      c.addEventListener("pointermove", (e) => this._move(e));
      for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) c.addEventListener(type, (e) => this._up(e));
      root.prepend(c);
      new ResizeObserver(() => this._resize()).observe(root);
      this._resize();
    }

    get empty() { return this.strokes.length === 0; }

    _blank(ctx, side) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, side, side);
    }

    _resize() {
      const side = this.root.clientWidth;
      if (!side) return;
      const px = Math.round(side * (window.devicePixelRatio || 1));
      if (this.canvas.width !== px) {
        this.canvas.width = this.canvas.height = px;
        this._redraw();
      }
    }

    _redraw() {
      const ctx = this.canvas.getContext("2d");
      this._blank(ctx, this.canvas.width);
      for (const stroke of this.strokes) this._path(ctx, this.canvas.width / this.paper, stroke, 0);
    }

    _pen(ctx, scale) {
      ctx.setTransform(scale, 0, 0, scale, 0, 0);
      ctx.strokeStyle = ctx.fillStyle = "#000000";
      ctx.lineWidth = this.brush;
      ctx.lineCap = ctx.lineJoin = "round";
    }

    /* Draw points[from - 1 ..] of a stroke (a dot when it has one point). */
    _path(ctx, scale, points, from) {
      this._pen(ctx, scale);
      if (points.length === 1) {
        ctx.beginPath();
        ctx.arc(points[0][0], points[0][1], this.brush / 2, 0, 2 * Math.PI);
        ctx.fill();
        return;
      }
      ctx.beginPath();
      const start = Math.max(0, from - 1);
      ctx.moveTo(points[start][0], points[start][1]);
      for (let i = start + 1; i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
      ctx.stroke();
    }

    _point(e) {
      const r = this.canvas.getBoundingClientRect();
      return [(e.clientX - r.left) / r.width * this.paper, (e.clientY - r.top) / r.height * this.paper];
    }

    _add(points, from) {
      this._path(this.rctx, 1, points, from);
      this._path(this.canvas.getContext("2d"), this.canvas.width / this.paper, points, from);
    }

    _down(e) {
      if (this.active !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
      e.preventDefault();
      this.active = e.pointerId;
      try { this.canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events */ }
      this.strokes.push([this._point(e)]);
      this._add(this.strokes[this.strokes.length - 1], 0);
      this.root.classList.add("inked");
      this.onChange("move");
    }

    _move(e) {
      if (e.pointerId !== this.active) return;
      e.preventDefault();
      const stroke = this.strokes[this.strokes.length - 1], from = stroke.length;
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      for (const ev of (events.length ? events : [e])) stroke.push(this._point(ev));
      this._add(stroke, from);
      this.onChange("move");
    }

    _up(e) {
      if (e.pointerId !== this.active) return;
      this.active = null;
      this.onChange("end");
    }

    clear() {
      this.strokes = [];
      this.active = null;
      this._blank(this.rctx, this.paper);
      this._redraw();
      this.root.classList.remove("inked");
    }

    /* What the network gets: the paper's RGBA pixels, or null when nothing is drawn. */
    pixels() {
      return this.empty ? null : this.rctx.getImageData(0, 0, this.paper, this.paper);
    }

    png() {
      return this.raster.toDataURL("image/png").split(",", 2)[1];
    }
  }

  // -- uploads ----------------------------------------------------------------------------------------
  /* Width and height from a file's header, read before decoding (as siamese.images refuses a
     bomb from its header): PNG, GIF, BMP, WebP, JPEG; null for anything else. */
  function headerSize(bytes) {
    const u32 = (o) => ((bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]) >>> 0;
    const le16 = (o) => bytes[o] | (bytes[o + 1] << 8), le24 = (o) => le16(o) | (bytes[o + 2] << 16);
    const tag = (o, s) => String.fromCharCode(...bytes.subarray(o, o + s.length)) === s;
    if (bytes.length >= 24 && tag(1, "PNG") && tag(12, "IHDR")) return [u32(16), u32(20)];
    if (bytes.length >= 10 && tag(0, "GIF8")) return [le16(6), le16(8)];
    if (bytes.length >= 26 && tag(0, "BM")) return [Math.abs(bytes[18] | (bytes[19] << 8) | (bytes[20] << 16) | (bytes[21] << 24)),
                                                    Math.abs(bytes[22] | (bytes[23] << 8) | (bytes[24] << 16) | (bytes[25] << 24))];
    if (bytes.length >= 30 && tag(0, "RIFF") && tag(8, "WEBP")) {
      if (tag(12, "VP8X")) return [le24(24) + 1, le24(27) + 1];
      if (tag(12, "VP8L")) { const b = bytes; return [1 + (((b[22] & 0x3f) << 8) | b[21]), 1 + (((b[24] & 0xf) << 10) | (b[23] << 2) | ((b[22] & 0xc0) >> 6))]; }
      if (tag(12, "VP8 ")) return [le16(26) & 0x3fff, le16(28) & 0x3fff];
    }
    if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
      for (let o = 2; o + 9 < bytes.length;) {
        if (bytes[o] !== 0xff) { o++; continue; }
        const m = bytes[o + 1];
        if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return [(bytes[o + 7] << 8) | bytes[o + 8], (bytes[o + 5] << 8) | bytes[o + 6]];
        if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { o += 2; continue; }
        o += 2 + ((bytes[o + 2] << 8) | bytes[o + 3]);
      }
    }
    return null;
  }

  /* siamese.images.load_rgba's reduction: an integer factor max(w, h) // work_side, each
     factor x factor box averaged with its colours weighted by alpha (Pillow's reduce). */
  function reduce(img, factor) {
    if (factor <= 1) return img;
    const {width: w, height: h, data} = img, W = Math.ceil(w / factor), H = Math.ceil(h / factor);
    const out = new Uint8ClampedArray(W * H * 4);
    for (let Y = 0; Y < H; Y++) {
      const y1 = Math.min(h, (Y + 1) * factor);
      for (let X = 0; X < W; X++) {
        const x1 = Math.min(w, (X + 1) * factor);
        let r = 0, g = 0, b = 0, a = 0, n = 0;
        for (let y = Y * factor; y < y1; y++) {
          for (let x = X * factor, i = (y * w + x) * 4; x < x1; x++, i += 4) {
            const al = data[i + 3];
            r += data[i] * al; g += data[i + 1] * al; b += data[i + 2] * al; a += al; n++;
          }
        }
        const o = (Y * W + X) * 4;
        if (a > 0) { out[o] = r / a; out[o + 1] = g / a; out[o + 2] = b / a; }
        out[o + 3] = a / n;
      }
    }
    return {width: W, height: H, data: out};
  }

  async function decode(blob, config) {
    const head = new Uint8Array(await blob.slice(0, 65536).arrayBuffer());
    const size = headerSize(head);
    if (size && size[0] * size[1] > config.max_pixels) {
      throw new Error(`image is ${size[0]}x${size[1]} pixels; the limit is ${config.max_pixels.toLocaleString("en")} pixels`);
    }
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob, {premultiplyAlpha: "none", colorSpaceConversion: "none", imageOrientation: "from-image"});
    } catch (e) {
      throw new Error("not a readable image file");
    }
    const {width: w, height: h} = bitmap;
    if (w * h > config.max_pixels) throw new Error(`image is ${w}x${h} pixels; the limit is ${config.max_pixels.toLocaleString("en")} pixels`);
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d", {willReadFrequently: true});
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    const img = ctx.getImageData(0, 0, w, h);
    return reduce({width: w, height: h, data: img.data}, Math.max(1, Math.floor(Math.max(w, h) / config.work_side)));
  }

  /* A pad whose value (Gradio's, sent with the events that read it) is its drawing:
     {png: base64 of the paper's PNG} after each stroke, null once cleared; its `change` event
     fires then (once a stroke, as Gradio's Sketchpad did). A `.pad-clear` button clears it; so
     does the server, by setting the value to null (demo.inputs). */
  function mountValuePad(element, props, trigger, watch, config) {
    const pad = new Pad(element.querySelector(".digit-pad"), config.paper, config.brush, (phase) => {
      if (phase !== "end") return;
      props.value = {png: pad.png()};
      trigger("change");
    });
    const clear = element.querySelector(".pad-clear");
    if (clear) clear.addEventListener("click", () => { pad.clear(); props.value = null; trigger("change"); });
    watch("value", () => { if (!props.value && !pad.empty) pad.clear(); });
    element.siamesePad = pad;
    return pad;
  }

  window.SiamesePad = {Pad, decode, headerSize, reduce, mountValuePad, b64, unb64, toBytes};
})();
