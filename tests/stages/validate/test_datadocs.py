"""The Data Docs work offline: no remote script, stylesheet or image, every local link resolves,
the index lists every page, and the result pages show when validation ran."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.stages.validate.conftest import metadata
from vidlab.stages.validate import datadocs

# tags whose href/src the browser fetches while loading the page (an <a> is only followed)
LOADED = {"script", "link", "img", "iframe", "source", "video", "audio", "embed", "object"}
REMOTE_CSS = re.compile(r"url\(\s*[\"']?(?:https?:)?//", re.I)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [(tag, value) for name, value in attrs
                      if name in ("href", "src") and value is not None]


def refs(page: Path) -> list[tuple[str, str]]:
    """(tag, href or src) of every element of ``page``."""
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.refs


def page_problems(page: Path) -> list[str]:
    """Remote resources the page loads, and local links and resources that do not exist."""
    text = page.read_text(encoding="utf-8")
    problems = [f"{page}: a remote url() in CSS"] if REMOTE_CSS.search(text) else []
    for tag, ref in refs(page):
        url = urlsplit(ref)
        if url.scheme in ("http", "https") or ref.startswith("//"):
            if tag in LOADED:
                problems.append(f"{page}: <{tag}> loads {ref}")
        elif url.scheme in ("mailto", "javascript", "data") or not url.path:
            continue  # '#anchor' and the like
        elif not (page.parent / unquote(url.path)).exists():
            problems.append(f"{page}: <{tag}> {ref} does not exist")
    return problems


def site_problems(docs: Path) -> list[str]:
    return [p for page in sorted(docs.rglob("*.html")) for p in page_problems(page)]


def run_time_shown(page: Path) -> dt.datetime:
    """The "Run Time" of a GX validation result page."""
    found = re.search(r"Run Time</div></td>\s*<td[^>]*><div[^>]*>([^<]+)</div>",
                      page.read_text(encoding="utf-8"))
    assert found, f"{page} shows no Run Time"
    return dt.datetime.fromisoformat(found.group(1).strip())


def test_data_docs_work_offline_and_show_the_validation_time(stage) -> None:
    meta = metadata()
    meta.loc[7, ["child_age", "milestone_age"]] = ["3", "30"]  # a warning: labels fails in GX
    assert stage(meta)["passed"]
    reports = stage.tmp / "reports"
    docs = reports / "docs"
    assert site_problems(docs) == []
    assert page_problems(reports / "index.html") == []

    index = docs / "index.html"
    linked = {ref for _, ref in refs(index)}
    results = sorted(p.relative_to(docs).as_posix() for p in docs.glob("validations/**/*.html"))
    suites = sorted(p.relative_to(docs).as_posix() for p in docs.glob("expectations/*.html"))
    assert suites == [f"expectations/{name}.html" for name in ("labels", "manifest", "metadata")]
    assert len(results) == 3 and set(results + suites) <= linked
    text = index.read_text(encoding="utf-8")
    assert re.search(r"<td>labels</td><td>failed</td><td>4</td><td>3</td><td>1</td>", text)
    assert re.search(r"<td>metadata</td><td>passed</td><td>9</td><td>9</td><td>0</td>", text)
    assert "<script" not in text

    now = dt.datetime.now(dt.UTC)
    for page in results:
        shown = run_time_shown(docs / page)
        assert abs(now - shown) < dt.timedelta(minutes=5), (page, shown)
        assert shown.strftime("%Y%m%dT%H%M%S") in page  # the folder is named after it
    assert now.strftime("%Y-%m-%d") in text and "2000-01-01" not in text


def test_offline_html_drops_remote_resources_and_links_local_ones(tmp_path: Path) -> None:
    (tmp_path / "static" / "images").mkdir(parents=True)
    (tmp_path / "static" / "images" / "logo.png").write_bytes(b"png")
    page = """<html><head>
<link rel="stylesheet" href="https://cdn.example/bootstrap.min.css"/>
<script src="https://code.jquery.com/jquery.min.js"></script>
<style>.a{background:url('https://cdn.example/dark.png') 0 0}</style>
<link rel="shortcut icon" href="../../static/images/favicon.ico"/>
</head><body>
<img class="x"
  src="https://cdn.example/logo.png?d=20240101T000000.000000Z" alt="logo"/>
<img src="https://cdn.example/chart.png">
<script>$(".x").modal();</script>
<script>var kept = 1;</script>
<a href="https://greatexpectations.io">GX</a>
</body></html>"""
    out = datadocs.offline_html(page, "../../..", tmp_path)
    assert "cdn.example" not in out and "jquery" not in out and "modal" not in out
    assert 'src="../../../static/images/logo.png"' in out and "chart.png" not in out
    assert 'href="../../../static/images/favicon.ico"' in out  # one level more than GX wrote
    assert f'href="../../../{datadocs.OFFLINE_CSS}"' in out
    assert f'src="../../../{datadocs.OFFLINE_JS}"' in out
    assert "var kept = 1;" in out and 'href="https://greatexpectations.io"' in out


def test_the_site_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ok.html").write_text('<a href="#top">top</a><a href="mailto:x@y">m</a>')
    (tmp_path / "a" / "bad.html").write_text(
        '<script src="https://cdn.example/x.js"></script><a href="../missing.html">x</a>'
        '<img src="ok.html"><style>b{background:url(//cdn.example/y.png)}</style>')
    found = site_problems(tmp_path)
    assert len(found) == 3 and all("bad.html" in p for p in found)

