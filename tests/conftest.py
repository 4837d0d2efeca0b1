"""Shared fixtures, and markers derived from what each test needs.

MNIST comes from ./data (git-ignored); if it is missing there, the four official archives are
copied in from ../shared/data (never written to); so do Omniglot's three archives, into
./data/omniglot. Under CI=true a missing MNIST, Omniglot or Chromium fails the run instead of
skipping tests.

Markers (pytest.ini): a test that uses `data_root` (MNIST) or `omniglot_root` is `integration`,
one that uses the served page (`server`, `client`) is `app`, one that uses `browser` is `e2e`, one
that uses a forked or spawned worker (`fake_spaces`, `real_training`) is `process`, whatever its
module says. The tiers (Makefile):

    make test-fast    pytest -m "not app and not e2e and not process" -n 2   (every change)
    make test         everything, what CI runs                               (before a commit lands)

A test outside `process`, `app` and `e2e` that starts a child process fails at once and says so,
so the fast tier stays in-process without anyone keeping a list.
"""
from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "siamese_mnist.pt"
ARCHIVES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
OMNIGLOT_ARCHIVES = ("images_background_small1.zip", "images_background_small2.zip", "all_runs.zip")
NEEDS = {"data_root": "integration", "omniglot_root": "integration", "server": "app", "client": "app",
         "page_server": "app", "browser": "e2e", "fake_spaces": "process", "real_training": "process"}
CHILDREN_ALLOWED = ("process", "app", "e2e")


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything
def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, marker in NEEDS.items():
            if fixture in item.fixturenames and marker not in item.keywords:
                item.add_marker(marker)
        # Under pytest-xdist (--dist loadgroup), every test of the served page and the browser
        # runs on one worker, so the session's one page and one Chromium serve them all.
        if "app" in item.keywords or "e2e" in item.keywords:
            item.add_marker(pytest.mark.xdist_group("page"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # xdist's loadgroup groups by renaming node ids; a pytest that names tests otherwise (9.2)
    # leaves every group unformed and says nothing: then each grouped test fails, saying why.
    if getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("xdist_group") \
            and "@" not in item.nodeid:
        pytest.fail(f"--dist loadgroup formed no group (pytest {pytest.__version__} with pytest-xdist "
                    f"{importlib.metadata.version('pytest-xdist')}): every worker would start its own page and "
                    f"Chromium; use the pytest that requirements-dev.txt allows", pytrace=False)


def pytest_unconfigure(config):
    # xdist's workers end without exit hooks: the page's temporary files go here (the page
    # fixtures have closed by now)
    import sys

    if "demo.scratch" in sys.modules:
        sys.modules["demo.scratch"].remove_all()


@pytest.fixture(autouse=True)
def _in_process_unless_marked(request, monkeypatch):
    """The fast tier's promise, checked: a child process (subprocess, fork or multiprocessing) in
    a test that is not marked `process` (or `app`/`e2e`, which have a server and a browser anyway)
    is refused, and the test fails at its end, even where a thread swallowed the refusal."""
    if any(m in request.node.keywords for m in CHILDREN_ALLOWED):
        yield None
        return
    import multiprocessing.process
    import subprocess

    msg = (f"{request.node.nodeid} starts a child process: mark it `process` (pytest.ini) so that "
           "`make test-fast` leaves it to `make test`")
    refused = []

    def refuse(*args, **kwargs):
        refused.append(msg)
        raise RuntimeError(msg)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(os, "fork", refuse)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)  # spawn forks in C
    yield refused  # (tests/test_tiers.py checks the refusal and clears it)
    if refused:
        pytest.fail(msg, pytrace=False)


def _fail_or_skip(msg: str):
    if IN_CI:
        pytest.fail(msg + " (CI=true: these tests must not be skipped)")
    pytest.skip(msg)


# -- MNIST and the shipped model ----------------------------------------------------------------
def mnist_root() -> Path | None:
    """The MNIST root for tests, or None when MNIST cannot be had."""
    root = Path(os.environ.get("SIAMESE_DATA_DIR") or ROOT / "data")
    raw = root / "MNIST" / "raw"
    if all((raw / f).exists() or (raw / f[:-3]).exists() for f in ARCHIVES):
        return root
    shared = ROOT.parent / "shared" / "data" / "MNIST" / "raw"
    if all((shared / f).exists() for f in ARCHIVES):
        raw.mkdir(parents=True, exist_ok=True)
        for f in ARCHIVES:
            shutil.copyfile(shared / f, raw / f)
        return root
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = mnist_root()
    if root is None:
        _fail_or_skip("MNIST archives not found in ./data/MNIST/raw or ../shared/data/MNIST/raw")
    return root


@pytest.fixture(scope="session")
def mnist(data_root):
    from siamese.data import load_mnist

    return load_mnist(data_root, "cpu")


# -- Omniglot ------------------------------------------------------------------------------------
def find_omniglot() -> Path | None:
    """The data root whose omniglot/ folder holds the three archives, or None."""
    root = Path(os.environ.get("SIAMESE_DATA_DIR") or ROOT / "data")
    folder, shared = root / "omniglot", ROOT.parent / "shared" / "data" / "omniglot"
    if all((folder / f).exists() for f in OMNIGLOT_ARCHIVES):
        return root
    if all((shared / f).exists() for f in OMNIGLOT_ARCHIVES):
        folder.mkdir(parents=True, exist_ok=True)
        for f in OMNIGLOT_ARCHIVES:
            if not (folder / f).exists():
                shutil.copyfile(shared / f, folder / f)
        return root
    return None


@pytest.fixture(scope="session")
def omniglot_root() -> Path:
    root = find_omniglot()
    if root is None:
        _fail_or_skip("Omniglot archives not found in ./data/omniglot or ../shared/data/omniglot")
    return root


@pytest.fixture(scope="session")
def omniglot(omniglot_root):
    from siamese.omniglot import load_background

    return load_background(omniglot_root, download=False)


@pytest.fixture(scope="session")
def comparator():
    from siamese import Comparator

    return Comparator.from_checkpoint(CHECKPOINT)


@pytest.fixture(scope="session")
def models(comparator, data_root):
    """The page's model registry (demo.models.Models) with the shipped model's MNIST reference
    built, once for every test that calls handlers directly. A test that adds a model removes it."""
    from demo.models import SHIPPED, Models

    m = Models(comparator, data_dir=data_root).start()
    assert m.wait(180), "the MNIST reference did not build in time"
    assert m.status(SHIPPED) == "ready", m.data_error
    yield m
    m.close()


# -- training: recorded runs replayed, a real process where the process is the subject ------------
@pytest.fixture(scope="session")
def recordings(data_root):
    """Real training runs, recorded once each (tests/replay.py)."""
    from demo.retrain.slot import plan_run

    from .replay import Recordings

    rec = Recordings(data_root)
    rec(plan_run("bce", 30, 2e-3))  # the page's default run, recorded here rather than inside a server's thread
    return rec


@pytest.fixture(scope="session")
def training(recordings):
    """The runner of the served page's training slot: replays by default; `real_training` for a
    test about the training process itself."""
    from demo.retrain.runners import pick_runner

    from .replay import ReplayRunner, Switch

    return Switch(ReplayRunner(recordings), pick_runner())


@pytest.fixture
def real_training(training):
    """This test's page runs train in a real child process."""
    with training.using_real() as runner:
        yield runner


@pytest.fixture
def slow_replay(training):
    """This test's page runs replay at a page run's pace (an update a second, 12 s in all): time
    to stop or cancel one."""
    with training.replay.paced(4.0) as replay:
        yield replay


@pytest.fixture
def held_replay(training):
    """A page run replayed at a page run's pace (an update a second) that goes on until it is
    stopped, cancelled or left: time for a second browser to join it, or to stop it, on a
    loaded machine (where a 12-s replay ended by itself first)."""
    with training.replay.paced(4.0, hold=True) as replay:
        yield replay


# -- the page, served once for every app and browser test ----------------------------------------
@pytest.fixture(scope="session")
def page_server(comparator, data_root, training):
    """The page (demo.app.build_demo) served in-process on a free loopback port, its MNIST
    reference built, its retraining on the `training` runner; yields the Blocks."""
    from demo.retrain.slot import TrainingSlot

    from .helpers import served_demo

    with served_demo(comparator=comparator, data_dir=data_root, slot=TrainingSlot(runner=training)) as demo:
        assert demo.models.wait(180), "the MNIST reference did not build in time"
        yield demo


@pytest.fixture(scope="session")
def server(page_server) -> str:
    """The served page's URL."""
    return page_server.local_url


@pytest.fixture(scope="session")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


# -- Chromium ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("SIAMESE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        _fail_or_skip(f"Chromium not found at {path} (set SIAMESE_CHROMIUM)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _fail_or_skip("the playwright package is not installed")
    from .browser import CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page (a new Gradio session) with both digit pads ready."""
    from .browser import open_page

    with open_page(browser, server) as pg:
        pg.wait_for_selector("#sketch-a canvas")
        pg.wait_for_selector("#sketch-b canvas")
        yield pg


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where browser tests save screenshots: $SIAMESE_SCREENSHOTS, else a temp dir."""
    d = Path(os.environ.get("SIAMESE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d
