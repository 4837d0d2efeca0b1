() => {
  // Gradio's Sketchpad draws with a brush sized in paper pixels, but re-creates its paper at the
  // pad's shown size after every clear (and at times just after load): the same brush then makes
  // strokes 0.06 of a desktop pad wide and 0.13 of a phone's instead of 0.086. So every pad is
  // laid out at the paper's own size (--paper, demo.inputs.CANVAS) and scaled to the width it
  // has with a CSS transform: Gradio only ever sees a 280 px pad (pointer positions are mapped
  // through the transform by the canvas's bounding box), whatever the screen.
  const fit = (pad) => {
    const paper = pad.querySelector(".image-container");
    if (!paper || !paper.offsetWidth) return;
    pad.style.setProperty("--pad-scale", String(pad.clientWidth / paper.offsetWidth));
  };
  const watched = new WeakSet();
  const resize = new ResizeObserver((entries) => entries.forEach((e) => fit(e.target)));
  const watch = () => document.querySelectorAll(".digit-pad").forEach((pad) => {
    if (watched.has(pad)) return;
    watched.add(pad);
    resize.observe(pad);
    fit(pad);
  });
  watch();
  new MutationObserver(watch).observe(document.body, { childList: true, subtree: true });
}
