"""The validation's HTML pages, all of which work offline.

``reports/validation/index.html`` is our own one-page summary (:func:`offline_page`). The Great
Expectations Data Docs in ``docs/`` are made offline by :func:`make_offline` once GX has built
them: GX loads Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and its logo from CDNs,
and its ``index.html`` fills its tables in the browser with bootstrap-table, so without a
network the index is empty. The suite and result pages are rendered server-side, so it is
enough to drop every remote script, stylesheet and image, link a small local stylesheet and
script in their place (layout, the pass/fail marks, the "Failed Only" filter and the "Show more
info" toggles) and rewrite ``index.html`` as a static table linking every page. No copy of
those libraries ships with GX (its ``render/view/static`` holds only images, fonts and its own
CSS), hence the stand-ins.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from html import escape
from pathlib import Path

OFFLINE_CSS = "static/styles/vidlab-offline.css"
OFFLINE_JS = "static/scripts/vidlab-offline.js"

_REMOTE = r"[\"']?(?:https?:)?//"
_REMOTE_SCRIPT = re.compile(rf"<script\b[^>]*\bsrc={_REMOTE}[^>]*>\s*</script>\s*", re.I)
_REMOTE_LINK = re.compile(rf"<link\b[^>]*\bhref={_REMOTE}[^>]*>\s*", re.I)
_IMG = re.compile(r"<img\b[^>]*>", re.I)
# the file name, without GX's ``?d=<build time>`` cache-buster
_REMOTE_SRC = re.compile(rf"\bsrc={_REMOTE}(?:[^\"'\s>]*/)?([^/\"'\s>?#]+)[^\"'\s>]*[\"']?",
                         re.I)
_REMOTE_CSS_URL = re.compile(r"url\(\s*[\"']?(?:https?:)?//[^)]*\)", re.I)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>\s*", re.S)
# GX's "subscribe to our newsletter" bar, fixed over the bottom of every page
_NEWSLETTER = re.compile(r"<footer>\s*<p>Stay current on everything GX.*?</footer>\s*", re.S)
# GX counts the ``../`` to static/ wrongly on result pages (the favicon misses by a level)
_STATIC_REF = re.compile(r"""(\b(?:href|src)=["'])(?:\./|(?:\.\./)+)(static/[^"']*)""")

_STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.pass{background:#eaf7ea}
.fail{background:#fbe3e3}"""

_CSS = r"""/* vidlab: the little of Bootstrap 4 and Font Awesome GX's Data Docs use, offline. */
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
  color:#212529;background:#fff;line-height:1.5}
a{color:#0062cc}
.container-fluid{box-sizing:border-box;padding:1rem 2rem}
.row{display:flex;flex-wrap:wrap}
[class*="col-"]{box-sizing:border-box;width:100%;padding:0 .5rem}
.col-6{width:50%}
@media (min-width:768px){.col-md-2{width:16.66%}.col-md-10{width:83.33%}
  .d-md-block{display:block!important}.d-md-inline-flex{display:inline-flex!important}}
.d-none{display:none}
.d-flex{display:flex}
.navbar{display:flex;align-items:center;padding:.5rem 1rem;border-bottom:1px solid #dee2e6}
.breadcrumb{list-style:none;margin:0 0 0 1rem;padding:0}
.breadcrumb-item+.breadcrumb-item::before{content:"/";padding:0 .5rem;color:#6c757d}
.nav{list-style:none;padding-left:0;margin:0}
.nav-link{display:block;padding:.15rem .5rem}
.bg-light{background:#f8f9fa}
.table{width:100%;border-collapse:collapse;margin:.5rem 0}
.table td,.table th{padding:.3rem;border-top:1px solid #dee2e6;vertical-align:top;text-align:left}
.table-responsive{overflow-x:auto}
.alert{padding:.5rem 1rem;margin-bottom:.5rem;border:1px solid #d6d8db;border-radius:.25rem;
  background:#e2e3e5}
.card{border:1px solid rgba(0,0,0,.125);border-radius:.25rem;margin-bottom:1rem}
.card-header{padding:.5rem;background:rgba(0,0,0,.03);border-bottom:1px solid rgba(0,0,0,.125)}
.card-body{padding:.75rem}
.badge{display:inline-block;padding:0 .4em;border-radius:.25rem;background:#6c757d;color:#fff;
  font-size:85%}
.btn{display:inline-block;padding:.25rem .5rem;margin:.1rem;border:1px solid #0062cc;
  border-radius:.25rem;color:#0062cc;cursor:pointer}
.btn.active{background:#0062cc;color:#fff}
.btn input{position:absolute;clip:rect(0,0,0,0);pointer-events:none}
.text-success{color:#28a745}
.text-danger{color:#dc3545}
.fas{font-style:normal;font-weight:bold}
.fa-check-circle::before,.fa-check::before{content:"\2714"}
.fa-times::before,.fa-times-circle::before{content:"\2718"}
.fa-exclamation-triangle::before{content:"\26A0"}
.fa-question-circle::before{content:"?"}
.fa-info-circle::before{content:"\2139"}
/* without the script everything stays open */
.vidlab-js .collapse:not(.show){display:none}
@media (prefers-color-scheme:dark){body{background:#212529;color:#f1f1f1}a{color:#6ea8fe}
  .alert{background:#343a40;border-color:#495057}.bg-light{background:#343a40}
  .navbar-brand a img{visibility:visible;filter:invert(1) hue-rotate(180deg)}}
"""

_JS = """// vidlab: stand-ins for the jQuery and Bootstrap behaviour GX's Data Docs use, offline.
document.documentElement.classList.add("vidlab-js");

function vidlabShowSucceeded(show) {
  const display = show ? "" : "none";
  document.querySelectorAll(".hide-succeeded-validation-target-child")
    .forEach((cell) => { cell.parentElement.style.display = display; });
  document.querySelectorAll(".hide-succeeded-validation-target")
    .forEach((el) => { el.style.display = display; });
  document.querySelectorAll(".hide-succeeded-validations-column-section-target-child")
    .forEach((el) => {
      const section = el.parentElement.parentElement;
      section.style.display = display;
      document.querySelectorAll("a[href='#" + section.id + "']")
        .forEach((link) => { link.style.display = display; });
    });
}
function showAllValidations() { vidlabShowSucceeded(true); }
function hideSucceededValidations() { vidlabShowSucceeded(false); }

document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-toggle='collapse']");
  if (toggle) {
    event.preventDefault();
    const target = document.getElementById(toggle.getAttribute("href").slice(1));
    if (target) { target.classList.toggle("show"); }
  }
  const button = event.target.closest("[data-toggle='buttons'] .btn");
  if (button) {
    button.parentElement.querySelectorAll(".btn")
      .forEach((b) => { b.classList.toggle("active", b === button); });
  }
});
"""


def make_offline(docs: Path, results: dict, run_time: dt.datetime) -> None:
    """Make the GX site in ``docs`` work without a network; rewrite its index as a static page.

    Args:
        docs: the site GX built.
        results: suite name -> its GX validation result (for the index's pass/fail and counts).
        run_time: when the validation ran, shown on the index.
    """
    for name, text in ((OFFLINE_CSS, _CSS), (OFFLINE_JS, _JS)):
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    for page in docs.rglob("*.html"):
        root = Path(os.path.relpath(docs, page.parent)).as_posix()
        page.write_text(offline_html(page.read_text(encoding="utf-8"), root, docs),
                        encoding="utf-8")
    (docs / "index.html").write_text(site_index(docs, results, run_time), encoding="utf-8")


def offline_html(text: str, root: str, docs: Path) -> str:
    """One GX page without remote resources, linking the local stand-ins.

    Args:
        text: the page.
        root: the relative path from the page's folder to the site's root (``.``, ``../..``).
        docs: the site's folder (a remote image is replaced by GX's local copy if it has one).
    """

    def image(match: re.Match) -> str:  # GX's logo has a local copy; other remote images go
        tag, src = match.group(), _REMOTE_SRC.search(match.group())
        if src is None:
            return tag
        local = f"static/images/{src.group(1)}"
        return tag.replace(src.group(), f'src="{root}/{local}"') if (docs / local).is_file() else ""

    def inline(match: re.Match) -> str:  # jQuery-dependent scripts go; the stand-ins replace them
        return "" if "$(" in match.group(1) or "jQuery" in match.group(1) else match.group()

    text = _REMOTE_SCRIPT.sub("", _REMOTE_LINK.sub("", text))
    text = _IMG.sub(image, _REMOTE_CSS_URL.sub("none", text))
    text = _NEWSLETTER.sub("", _INLINE_SCRIPT.sub(inline, text))
    text = _STATIC_REF.sub(lambda m: f"{m.group(1)}{root}/{m.group(2)}", text)
    local = (f'<link rel="stylesheet" href="{root}/{OFFLINE_CSS}">\n'
             f'<script src="{root}/{OFFLINE_JS}"></script>\n')
    return text.replace("</head>", local + "</head>", 1)


def site_index(docs: Path, results: dict, run_time: dt.datetime) -> str:
    """The site's ``index.html``: a static table of every result page and every suite page."""
    rows = []
    for page in sorted(docs.glob("validations/**/*.html")):
        link = page.relative_to(docs).as_posix()
        suite = link.split("/")[1]
        result = results.get(suite)
        stats = result.statistics if result is not None else {}
        ok = result is not None and result.success
        rows.append(
            f"<tr class={'pass' if ok else 'fail'}><td>{escape(suite)}</td>"
            f"<td>{'passed' if ok else 'failed'}</td>"
            + "".join(f"<td>{stats.get(key, '')}</td>" for key in (
                "evaluated_expectations", "successful_expectations",
                "unsuccessful_expectations"))
            + f'<td><a href="{escape(link)}">{escape(link)}</a></td></tr>')
    suites = []
    for page in sorted(docs.glob("expectations/**/*.html")):
        link = page.relative_to(docs).as_posix()
        suite = link.removeprefix("expectations/").removesuffix(".html").replace("/", ".")
        result = results.get(suite)
        count = result.statistics.get("evaluated_expectations", "") if result is not None else ""
        suites.append(f'<tr><td><a href="{escape(link)}">{escape(suite)}</a></td>'
                      f"<td>{count}</td></tr>")
    when = run_time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data Docs: vidlab validation</title>
<link rel="icon" href="static/images/favicon.ico">
<style>{_STYLE}</style></head><body>
<h1>Data Docs: vidlab validation</h1>
<p>Validated at {when}, when the validate stage last ran. The pass/fail and quarantine summary
of that run: <a href="../index.html">../index.html</a>. A suite fails here when any of its
expectations fails, including warnings that do not stop the stage.</p>
<h2>Validation results</h2>
<table><tr><th>suite</th><th>result</th><th>expectations</th><th>passed</th><th>failed</th>
<th>page</th></tr>
{chr(10).join(rows)}
</table>
<h2>Expectation suites</h2>
<table><tr><th>suite</th><th>expectations</th></tr>
{chr(10).join(suites)}
</table></body></html>
"""


def offline_page(summary: dict, checks: list[dict]) -> str:
    """A plain HTML page of the results that needs no network: ``reports/validation/index.html``.
    It shows no time, so reruns on the same data write it byte for byte."""
    rows = "\n".join(
        f"<tr class={'pass' if c['success'] else c['severity']}><td>{escape(c['expectation'])}"
        f"</td><td>{c['severity']}</td><td>{c['scope']}</td>"
        f"<td>{'pass' if c['success'] else 'FAIL'}</td><td>{c['unexpected_count'] or ''}</td></tr>"
        for c in checks)
    verdict = "PASSED" if summary["passed"] else "STOPPED"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vidlab validation: {verdict}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}}.pass{{background:#eaf7ea}}
.blocking{{background:#fbe3e3}}.warning{{background:#fff4d6}}</style></head><body>
<h1>Validation {verdict}</h1>
<p>{summary['expectations'] - summary['expectations_failed']} of {summary['expectations']}
expectations passed. Quarantined: {summary['quarantined_by_ingest']} rows at ingest,
{summary['quarantined_by_validate']} by validation ({summary['quarantined_fraction']:.1%} of
{summary['rows_read']}; the limit is {summary['max_quarantine_fraction']:.0%}).
Blocking failures: {escape(', '.join(summary['blocking_failures']) or 'none')}.</p>
<p>Great Expectations Data Docs, with every expectation's details and when validation ran
(they work offline): <a href="docs/index.html">docs/index.html</a></p>
<table><tr><th>expectation</th><th>severity</th><th>scope</th><th>result</th>
<th>failing rows</th></tr>
{rows}
</table></body></html>
"""
