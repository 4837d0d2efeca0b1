"""Measuring tools for the page (start-up, latency, retraining, teaching views). They start the
app like a user would and talk to it over loopback; the page never imports them."""
