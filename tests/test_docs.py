"""The docs document every command and stage, their links resolve, and the site builds offline.

The README is what a newcomer reads; the reference is docs/*.md, which reads as it is on GitHub
and builds into a MkDocs site (`make docs`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer.main
import yaml

from vidlab.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = sorted(DOCS.rglob("*.md"))
COMMANDS = typer.main.get_command(app).commands
MAX_README_LINES = 250


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_and_is_in_the_command_table(name: str) -> None:
    assert (COMMANDS[name].help or "").strip(), f"`vidlab {name}` has no help text"
    cli = _text(DOCS / "cli.md")
    assert re.search(rf"^\| `vidlab {name}[` ]", cli, re.M), f"`vidlab {name}` not in docs/cli.md"


def test_every_stage_is_in_the_stage_table() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    table = _text(DOCS / "pipeline" / "index.md")
    for name, stage in stages.items():
        if "foreach" in stage:  # a stage template, e.g. train@<model>: its cmd with ${item}
            name, stage = f"{name}@model", stage["do"]
        assert re.search(rf"^\| {name} \| `{re.escape(stage['cmd'])}`", table, re.M), name


def test_readme_two_commands_are_what_ci_runs() -> None:
    assert "make repro" in README and "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_make_test_builds_the_docs_strictly() -> None:
    """CI runs `make test`, so that is where broken links in the docs must fail."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "mkdocs build --strict" in recipe.group(1)


def test_readme_is_short_and_has_what_a_newcomer_needs() -> None:
    lines = README.count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; the reference goes in docs/"
    headings = re.findall(r"^## (.+)$", README, re.M)
    for needed in ("Two commands", "What to open afterwards", "Using your own data", "Privacy",
                   "Where to find the rest"):
        assert needed in headings, needed
    assert "make docs" in README


# --- links -----------------------------------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
_CODE = re.compile(r"(`+).+?\1", re.S)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...


def _links(markdown: str) -> list[str]:
    """Link targets outside code blocks and code spans (where brackets are literal)."""
    prose = _CODE.sub("", _FENCE.sub("", markdown))
    return _LINK.findall(prose) + _REFERENCE.findall(prose)


def _slug_github(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _slug_mkdocs(heading: str) -> str:
    # Python-Markdown's toc.slugify, what MkDocs gives each heading as its id
    ascii_ = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", ascii_).strip().lower())


def _anchors(markdown: str) -> tuple[set[str], set[str]]:
    """The ids each heading gets on GitHub and in the MkDocs site."""
    headings = [re.sub(r"[`*]", "", h) for h in
                re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _FENCE.sub("", markdown), re.M)]
    return {_slug_github(h) for h in headings}, {_slug_mkdocs(h) for h in headings}


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Every relative link in `path` whose file, or whose heading anchor, does not exist.

    An anchor must name a heading under both GitHub's and MkDocs' rules, so that it works where
    the page is read on GitHub and in the built site.
    """
    problems = []
    for target in _links(path.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        if target.startswith("/"):
            problems.append(f"{target}: absolute path (use a relative link)")
            continue
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.is_relative_to(root.resolve()):
            problems.append(f"{target}: outside the repository")
        elif not dest.exists():
            problems.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md":
            github, mkdocs = _anchors(dest.read_text(encoding="utf-8"))
            if anchor not in github or anchor not in mkdocs:
                problems.append(f"{target}: no heading with the anchor #{anchor}")
    return problems


@pytest.mark.parametrize("path", [ROOT / "README.md", *PAGES],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path) == []


def test_readme_links_into_every_page() -> None:
    """The README's 'where to find the rest' reaches every docs page, directly or through docs/."""
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _links(README)}
    assert (DOCS / "index.md").resolve() in linked
    index = _text(DOCS / "index.md")
    from_index = {(DOCS / t.partition("#")[0]).resolve() for t in _links(index)}
    assert {p.resolve() for p in PAGES} - {(DOCS / "index.md").resolve()} <= linked | from_index


def test_the_link_check_finds_a_missing_file_and_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\n## Two words\n", encoding="utf-8")
    page = tmp_path / "b.md"
    page.write_text(
        "[ok](a.md) [ok](a.md#two-words) [gone](c.md) [anchor](a.md#three)"
        " [web](https://example.org/x.md) `[code](c.md)`\n\n```\n[fenced](c.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "c.md: no such file", "a.md#three: no heading with the anchor #three"]


# --- the site ----------------------------------------------------------------------------------

class _Resources(HTMLParser):
    """What a page loads: <script src> and <link href>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        self.urls += [value for key, value in attrs if key == wanted and value]


def _mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
         "--site-dir", str(site)],
        cwd=config.parent, env=env, capture_output=True, text=True, timeout=300,
    )


def test_docs_site_builds_strictly_and_loads_nothing_remote(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = _mkdocs_build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stdout + result.stderr
    html = sorted(site.rglob("*.html"))
    for page in PAGES:  # one HTML page per Markdown page, named alike (opens from file://)
        assert site / page.relative_to(DOCS).with_suffix(".html") in html, page
    remote = []
    for path in html:
        parser = _Resources()
        parser.feed(path.read_text(encoding="utf-8"))
        remote += [f"{path.relative_to(site)}: {url}" for url in parser.urls
                   if re.match(r"(https?:)?//", url)]
    assert remote == []
    assert (site / "search" / "search_index.js").is_file()  # search without a server


@pytest.mark.parametrize("link", ["[gone](missing.md)", "[gone](privacy.md#no-such-heading)"])
def test_docs_build_fails_on_a_broken_link(tmp_path: Path, link: str) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    with (tmp_path / "docs" / "index.md").open("a", encoding="utf-8") as f:
        f.write(f"\n{link}\n")
    result = _mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert link.split("(")[1].rstrip(")").split("#")[-1] in result.stdout + result.stderr
