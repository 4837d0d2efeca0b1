"""README.md and docs/: the README stays short enough to read in five minutes (with the Space's
front matter on top), every relative link resolves, and figures that come from code match it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from demo.retrain.runners import quota_table
from demo.retrain.slot import PRESETS
from scripts.space import front_matter

from .conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 250
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text outside fenced code blocks (a `[x](y)` in code is not a link)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to -."""
    heads = re.findall(r"^#+ (.+)$", _prose(text), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_the_readme_is_short_and_keeps_the_front_matter_and_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    assert text.startswith("---\n")  # the Space reads its settings here
    fm = front_matter(text)
    assert fm["sdk"] == "gradio" and fm["app_file"] == "app.py" and (ROOT / fm["app_file"]).is_file()
    assert "make app " in text and "make test " in text and "make space SPACE=" in text


def test_there_are_docs_and_the_readme_links_every_page():
    text = README.read_text()
    assert len(DOCS) >= 8
    for page in DOCS:
        assert f"](docs/{page.name})" in text or f"](docs/{page.name}#" in text, page.name


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The relative links of a Markdown page that lead to no file under root, or to no heading."""
    broken = []
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.is_file() or root.resolve() not in dest.parents:
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text()):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_the_link_check_finds_a_missing_file_or_heading(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Under load\n")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/a.md) [ok](docs/a.md#under-load) [web](https://x.org/y.md)\n"
                    "[gone](docs/b.md) [no heading](docs/a.md#speed)\n```\n[in code](nowhere.md)\n```\n")
    assert broken_links(page, tmp_path) == ["docs/b.md", "docs/a.md#speed"]


@pytest.mark.parametrize("page", [README, ROOT / "docs" / "hosting.md"], ids=lambda p: p.name)
def test_the_quota_table_is_the_one_the_code_computes(page):
    """The README's and hosting.md's table and the Retrain tab's note come from one function."""
    assert quota_table(PRESETS) in page.read_text(), f"paste this into {page.name}:\n{quota_table(PRESETS)}"


def test_no_page_repeats_the_old_quota_or_push_advice():
    for page in PAGES:
        text = page.read_text()
        assert "asks for 50 s of quota" not in text and "git push space" not in text, page.name
        assert "torch 2.8 to" not in text, page.name
