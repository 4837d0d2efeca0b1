"""The teaching tabs: Embedding space, One-shot, Threshold & errors, Losses, a module each
(layout, wiring, handlers and their HTML). `tabs` adds them to the page; `cache` and `lessons`
hold the per-model work they share."""
