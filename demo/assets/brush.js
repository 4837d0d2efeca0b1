() => {
  // Gradio's Sketchpad starts (and restarts after every clear) with no tool selected, so the
  // first strokes would be ignored. Select the brush on each digit pad whenever no tool
  // (brush, eraser, pan) is active; a tool the user picked is left alone.
  const pick = () => {
    document.querySelectorAll(".digit-pad").forEach((pad) => {
      const tools = pad.querySelector(".toolbar-wrap");
      if (!tools || pad.querySelector("button.highlight")) return;
      const brush = tools.querySelector("button"); // the first tool of a Sketchpad is the brush
      if (brush) brush.click();
    });
  };
  pick();
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; pick(); });
  }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] });
}
