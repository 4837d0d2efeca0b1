"""A class on one page: the Class tab and the Retrain tab's Share panel. `classes` holds the
codes, their limits and the class model, `handlers` answer the events (and /watch_class,
/class_retrain_api), `views` draw the code, link and QR, `tab` lays it out and wires it."""
