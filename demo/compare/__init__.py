"""The Compare tab: two digits in, the verdict and what explains it out. `tab` lays it out and
wires it, `handlers` do the work (also behind the /compare API), `views` draw the results."""
