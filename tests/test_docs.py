"""The documentation's shape: a README a newcomer can read (at most 350 lines), the rest in docs/, every page of
docs/ reachable from the README, no line too long to read, and no relative link pointing nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
IDS = [str(p.relative_to(ROOT)) for p in PAGES]

MAX_README_LINES = 350
MAX_LINE = 200

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def prose(path: Path) -> str:
    """The page without its code blocks and code spans (a link inside code is not a link)."""
    return CODE_SPAN.sub("", FENCE.sub("", path.read_text()))


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path))


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped (hyphens and underscores kept), spaces to '-'."""
    out = set()
    for title in HEADING.findall(FENCE.sub("", path.read_text())):
        out.add(re.sub(r"[^\w\- ]", "", title.replace("`", "").lower()).replace(" ", "-"))
    return out


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)  # not http:, https:, mailto:, ...


def test_the_readme_is_at_most_350_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, \
        f"README.md has {len(lines)} lines (at most {MAX_README_LINES}): move detail to a page of docs/"


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_no_line_is_longer_than_200_characters(path):
    long = [(n, len(line)) for n, line in enumerate(path.read_text().splitlines(), 1) if len(line) > MAX_LINE]
    assert not long, f"{path.name}: lines over {MAX_LINE} characters (line, length): {long}"


def test_there_are_docs_pages():
    assert len(DOCS) >= 6


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / t.split("#")[0]).resolve() for t in links(README) if relative(t) and t.split("#")[0]}
    missing = [p.name for p in DOCS if p.resolve() not in linked]
    assert not missing, f"docs pages the README does not link: {missing}"


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_every_relative_link_points_to_an_existing_file(path):
    broken = []
    for target in links(path):
        if not relative(target):
            continue
        file, _, fragment = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(target)
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(target)
    assert not broken, f"{path.name}: links to nothing (missing file or heading): {broken}"


def test_the_link_checker_sees_links_and_skips_code(tmp_path):
    page = tmp_path / "probe.md"
    page.write_text("[a](x.md) ![b](img/y.png#z) `[c](not-a-link.md)`\n```\n[d](code.md)\n```\n[e](https://e.org)\n"
                    "## A heading (`with-code`)\n")
    assert links(page) == ["x.md", "img/y.png#z", "https://e.org"]
    assert anchors(page) == {"a-heading-with-code"}
