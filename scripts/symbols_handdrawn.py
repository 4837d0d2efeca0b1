"""Hand-drawn symbols through /one_shot: 10-way one-shot top-1 accuracy of a checkpoint on the
project's own drawn symbols (demo.symbol_examples: ten symbols, each drawn --variations times).

    .venv/bin/python scripts/symbols_handdrawn.py                                     # the symbols model
    .venv/bin/python scripts/symbols_handdrawn.py --checkpoint runs/symbols.pt
    .venv/bin/python scripts/symbols_handdrawn.py --checkpoint checkpoints/siamese_mnist.pt   # the digit model
    .venv/bin/python scripts/symbols_handdrawn.py --url http://127.0.0.1:7860/ --model digits

Each trial picks one random drawing of every symbol as its reference (a file named after the
symbol) and sends every other drawing as a query; a query is right when the symbol ranked first
is its own. The trials are the tab's (demo.symbols.models.episodes, from --seed), so the
in-process figure also equals the one the tab shows for the same checkpoint, which the script
prints beside it as a check (descriptors embedded once, `handdrawn_accuracy`).

By default the queries go to the function behind /one_shot in this process (file decoding,
names from the files and errors included, no HTTP); --url sends them to a served page's
/one_shot with gradio_client instead (--model picks its model there).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the siamese and demo packages, from a checkout

from siamese import Comparator  # noqa: E402

from demo import symbol_examples  # noqa: E402
from demo.symbols.models import (DEFAULT_CHECKPOINT, SYMBOLS, VARIATIONS, SymbolModels, episodes,  # noqa: E402
                                  handdrawn_accuracy)


def run(ask, files: dict[str, list[Path]], trials: int, seed: int = 0, progress=None) -> tuple[int, int]:
    """(right, asked) over `trials` episodes; ask(reference paths, query path) -> the name ranked first."""
    names = list(files)
    variations = len(files[names[0]])
    refs, queries, answers = episodes(len(names), variations, trials, seed)
    path = [files[n][k] for n in names for k in range(variations)]  # drawing number -> its file
    right = asked = 0
    for e in range(trials):
        references = [path[int(i)] for i in refs[e]]
        for q, a in zip(queries[e].tolist(), answers[e].tolist()):
            right += ask(references, path[q]) == names[a]
            asked += 1
        if progress:
            progress(e + 1, right, asked)
    return right, asked


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="scripts/symbols_handdrawn.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                   help="the model ranked with (default: checkpoints/siamese_omniglot.pt); ignored with --url")
    p.add_argument("--url", default=None, help="a served page: ask its /one_shot over HTTP")
    p.add_argument("--model", default=SYMBOLS, choices=["symbols", "digits"], help="the page's model, with --url")
    p.add_argument("--variations", type=int, default=VARIATIONS, help="drawings of each symbol")
    p.add_argument("--trials", type=int, default=20, help="random choices of the references")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        files = symbol_examples.write_set(Path(tmp), args.variations)
        if args.url:
            from gradio_client import Client, handle_file

            client = Client(args.url, verbose=False)
            model, what = args.model, f"{args.url} /one_shot, model {args.model}"

            def ask(references, query):
                r = client.predict([handle_file(str(f)) for f in references], handle_file(str(query)), model,
                                   api_name="/one_shot")
                return r["ranking"][0]["name"]
        else:
            from demo.symbols.handlers import one_shot_files

            cmp = Comparator.from_checkpoint(args.checkpoint)
            sm = SymbolModels(cmp, cmp)  # the checkpoint under both names: /one_shot's own path to it
            what = f"{args.checkpoint} through /one_shot's function"

            def ask(references, query):
                return one_shot_files(sm, [str(f) for f in references], str(query), SYMBOLS)["ranking"][0]["name"]

        n = len(symbol_examples.NAMES)
        print(f"{n} symbols x {args.variations} drawings, {args.trials} trials of {n}-way one-shot "
              f"({n * (args.variations - 1)} queries each): {what}")
        start = time.perf_counter()

        def progress(done, right, asked):
            if done % 5 == 0 or done == args.trials:
                print(f"trial {done:4d} | top-1 {right / asked:.4f} ({right}/{asked}) | "
                      f"{time.perf_counter() - start:.0f} s", flush=True)

        right, asked = run(ask, files, args.trials, args.seed, progress)
    print(f"{n}-way one-shot top-1: {right / asked:.4f} ({right}/{asked}); chance {1 / n:.2f}")
    if not args.url:
        embedded = handdrawn_accuracy(cmp, args.variations, args.trials, args.seed)
        print(f"the same trials, descriptors embedded once (the tab's figure at its own trial count): {embedded:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
