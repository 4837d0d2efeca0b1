"""The Retrain tab: train the network again from the page and watch it learn. `tab` lays it out
and wires it, `handlers` answer its events (and /retrain_api), `views` draw the progress,
`slot` decides who trains when, `sessions` keeps what the runs leave behind."""
