() => {
  // For screen readers. (1) The verdict is announced when it changes: a polite live region on
  // the element that holds the verdict card, which stays while Gradio swaps the card inside it
  // (a live region created with its content is not announced). (2) The network's two views get
  // alt text, which gr.Image leaves empty: demo.compare.tab puts it on the views' title
  // (data-alt-a, data-alt-b).
  const fix = () => {
    const card = document.querySelector("#verdict .verdict-card");
    const holder = card && card.parentElement;
    if (holder && !holder.hasAttribute("aria-live")) {
      holder.setAttribute("role", "status");
      holder.setAttribute("aria-live", "polite");
      holder.setAttribute("aria-atomic", "true");
    }
    const title = document.querySelector(".views-title");
    document.querySelectorAll(".network-view").forEach((view) => {
      const img = view.querySelector("img");
      const text = title && title.dataset["alt" + view.id.slice(-1).toUpperCase()];
      if (img && text && img.alt !== text) img.alt = text;
    });
  };
  fix();
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fix(); });
  }).observe(document.body, { childList: true, subtree: true });
}
