/* What every tab's script shows the same way (demo.views for the server's side): numbers as
   text, HTML escaping, probabilities on bars, 28x28 images as data URLs. window.SiameseViews. */
(() => {
  if (window.SiameseViews) return;

  /* Three significant digits and a real minus sign: 15.8, -2.31, 0.0123; 0 below 0.001. */
  function fmt(x) {
    if (Math.abs(x) < 1e-3) return "0";
    const s = Math.abs(x) < 1e3 ? Number(x.toPrecision(3)).toString() : x.toFixed(0);
    return s.replace("-", "\u2212");
  }

  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const pct = (x, digits = 1) => `${(x * 100).toFixed(digits)}%`;
  /* A probability as the bars show it: 96.1%, 100%, <0.1% (not a misleading 0.0%). */
  const barPct = (p) => (p < 0.0005 ? "&lt;0.1%" : p >= 0.9995 ? pct(p, 0) : pct(p));

  /* (784,) floats in [0, 1], white on black -> a PNG data URL of the 28x28 image. */
  function imageUrl(image) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 28;
    const ctx = canvas.getContext("2d"), px = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(Math.max(0, Math.min(1, image[i])) * 255);
      px.data[i * 4] = px.data[i * 4 + 1] = px.data[i * 4 + 2] = v;
      px.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(px, 0, 0);
    return canvas.toDataURL("image/png");
  }

  window.SiameseViews = {fmt, esc, pct, barPct, imageUrl};
})();
