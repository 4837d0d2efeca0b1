"""The "Your symbols" tab: one drawing of each of a few symbols of one's own, named, then a new
drawing ranked among them, by the symbols model or by the digit model. `models` holds the two
models and how each does on the project's own hand-drawn symbols, `handlers` do the work (also
behind the /one_shot API), `views` draw it, `tab` lays it out and wires it."""
