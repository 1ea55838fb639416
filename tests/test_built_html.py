"""The built HTML book, offline, in headless Chromium.

Skipped unless ``SHALLOWLEARN_BUILT_HTML`` names a built book (``_build/html``); CI runs it after
the strict build::

    SHALLOWLEARN_BUILT_HTML=_build/html pytest tests/test_built_html.py

It serves the folder on 127.0.0.1 and drives headless Chromium through the Chrome DevTools
protocol, with the book's tools (``book/_tools/headless.py``): every host name but 127.0.0.1
is unresolvable, so the pages see no internet even on a connected machine. Chromium is
``chromium`` (or ``chromium-browser``/``google-chrome``) on the PATH, or ``SHALLOWLEARN_CHROMIUM``.

For every HTML page of the book (every ``*.html`` outside ``_static/``, ``_sources/``, ``_images/``):

* no console error: no ``console.error``, no uncaught exception, no browser log entry of level
  error (a failed or refused request, a 404, a script error), and no request to any host but
  the local server;
* no raw TeX: once MathJax has finished, no text outside code (``pre``, ``code``, scripts) holds
  ``\\(``, ``\\)``, ``\\[``, ``\\]`` or ``$$``, every Sphinx math element was typeset, and MathJax
  reported no TeX error (``mjx-merror``);
* every widget is displayed and has its static twin: each ``widget-view+json`` output was
  replaced by a rendered widget area of non-zero size, and between that widget's cell and the
  next widget (and within the same section) the page shows a figure (``<figure>`` with an
  ``<img>`` that loaded), the static view of the same thing for readers without a kernel;
* every image of the content (figures, and the frames the explorers display) has alternative
  text: not empty, not the file name Sphinx puts there by default, a sentence of at least
  ``MIN_ALT_WORDS`` words, and not the figure's caption again;
* every internal link resolves: each same-site ``href`` names a file of the build, and its
  ``#fragment``, if any, an element ``id`` on the target page; Sphinx marked no reference as
  problematic.

Every explorer (``shallowlearn.explorers.frames_explorer``, class ``shallowlearn-explorer``)
works without a kernel: each of its sliders, moved by key presses that Chromium sends to the
focused noUiSlider handle (ArrowRight, as a keyboard user would), steps through all its
positions, and at each step the explorer displays a frame it has not shown before, with alt
text, and the page logs no console error. No HTML page is larger than ``PAGE_CAP`` bytes (the
explorers store their frames in the page). And the search page, asked for a word of the
chapters, lists results that link to a chapter.
"""

from __future__ import annotations

import functools
import importlib.util
import html.parser
import json
import os
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

BUILT = os.environ.get("SHALLOWLEARN_BUILT_HTML", "")
SEARCH_WORD = "activation"  # a word of book/model.md
PAGE_TIMEOUT = 30.0  # seconds: for a page's load event, and for any one DevTools call
RENDER_WAIT = 10.0  # seconds for MathJax to typeset a page and the widgets to be displayed
MIN_ALT_WORDS = 5  # an image's alternative text says what it shows: a sentence, not a label
# The largest HTML page allowed, in bytes. The explorers store every frame in their page; at
# commit 5089226 the heaviest page (model.html) had 0.87 MB and the nine pages with
# explorers 4.2 MB together.
PAGE_CAP = 2_000_000

pytestmark = pytest.mark.skipif(
    not BUILT, reason="set SHALLOWLEARN_BUILT_HTML to a built book (_build/html) to run"
)

NOT_PAGES = {"_static", "_sources", "_images", "reports"}


def book_root() -> Path:
    root = Path(BUILT).resolve()
    assert (root / "index.html").is_file(), f"SHALLOWLEARN_BUILT_HTML={BUILT}: no index.html there"
    return root


def book_pages(root: Path) -> list[str]:
    pages = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.html")
        if not NOT_PAGES.intersection(p.relative_to(root).parts[:-1])
    )
    assert pages, f"no HTML pages in {root}"
    return pages


# ---------------------------------------------------------------------------------------------
# the local server and the browser: book/_tools/headless.py, loaded by path (pytest's
# importlib import mode puts no folder on sys.path)

_spec = importlib.util.spec_from_file_location(
    "headless", Path(__file__).resolve().parents[1] / "book" / "_tools" / "headless.py")
headless = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(headless)
serve = headless.serve
# every page's console messages, log entries and requests are kept (Log, Network)
chromium = functools.partial(headless.chromium, timeout=PAGE_TIMEOUT, window="1280,1000",
                             domains=("Page", "Runtime", "Log", "Network"), no_cache=True)


@pytest.fixture(scope="module")
def site():
    """(the built book's folder, the base URL it is served at on 127.0.0.1)"""
    root = book_root()
    with serve(root) as base:
        yield root, base


@pytest.fixture(scope="module")
def browser():
    with chromium() as tab:
        yield tab


# ---------------------------------------------------------------------------------------------
# what one page is checked for (run in the page once it has loaded)

PAGE_CHECKS = r"""
(async () => {
  const deadline = Date.now() + %(timeout)d;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const out = {problems: [], widgets: 0, math: 0};

  // MathJax: wait for its first typesetting pass
  const math = document.querySelectorAll('.math');
  out.math = math.length;
  if (math.length) {
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline)
      await sleep(50);
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise))
      out.problems.push('MathJax did not load');
    else
      await MathJax.startup.promise;
    math.forEach((el) => {
      if (!el.querySelector('mjx-container'))
        out.problems.push('math not typeset: ' + el.textContent.trim().slice(0, 80));
    });
    document.querySelectorAll('mjx-merror').forEach((el) =>
      out.problems.push('MathJax error: ' + (el.getAttribute('data-mjx-error') || el.textContent)));
  }

  // widgets: the embed manager replaces each view script by a rendered widget area before it
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  out.widgets = views.length;
  const rendered = (v) => {
    const area = v.previousElementSibling;
    return area && area.classList.contains('widget-subarea') &&
      area.querySelector('.jupyter-widgets') && area.getBoundingClientRect().height > 0;
  };
  while (!views.every(rendered) && Date.now() < deadline) await sleep(100);
  const cellOf = (el) => el.closest('div.cell') || el;
  views.forEach((v, i) => {
    const cell = cellOf(v);
    const label = `widget ${i + 1} (model ${JSON.parse(v.textContent).model_id})`;
    if (!rendered(v)) out.problems.push(label + ' was not displayed');
    // its static twin: a figure with a loaded image after the widget's cell, before the next
    // widget, inside the same section
    const section = cell.closest('section');
    const next = views.slice(i + 1).map(cellOf).find((c) => c !== cell);
    const after = (a, b) => a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING;
    const twin = [...(section || document).querySelectorAll('figure img')].find((img) =>
      after(cell, img) && !cell.contains(img) && (!next || after(img, next)));
    if (!twin) out.problems.push(label + ' has no static figure after it in its section');
    else if (!(twin.complete && twin.naturalWidth > 0))
      out.problems.push(label + ': its static figure did not load: ' + twin.src);
  });

  // images of the content (widget frames included, now displayed) and their alternative
  // text; the figures' captions are read from the page's source, before MathJax typeset them
  const source = new DOMParser().parseFromString(
    await (await fetch(location.href, {cache: 'no-store'})).text(), 'text/html');
  const captions = {};
  source.querySelectorAll('figure').forEach((fig) => {
    const img = fig.querySelector('img');
    const caption = fig.querySelector('figcaption .caption-text') || fig.querySelector('figcaption');
    if (img && caption) captions[img.getAttribute('src')] = caption.textContent;
  });
  // (the module index's expand/collapse icons, img.toggler, are controls that Sphinx labels)
  const content = document.querySelector('article.bd-article') || document.body;
  out.images = [...content.querySelectorAll('img:not(.toggler)')].map((img) => ({
    alt: img.getAttribute('alt'),
    src: (img.getAttribute('src') || '').startsWith('data:') ? 'data:' : img.getAttribute('src') || '',
    caption: captions[img.getAttribute('src')] || null,
    explorer: !!img.closest('.shallowlearn-explorer'),
  }));
  out.explorers = document.querySelectorAll('.shallowlearn-explorer').length;

  // raw TeX left in the text (outside code, scripts and MathJax's own output)
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .widget-subarea';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    if (node.parentElement.closest(skip)) continue;
    const text = node.textContent;
    const m = text.match(/\\\(|\\\)|\\\[|\\\]|\$\$/);
    if (m) out.problems.push('raw TeX: ...' + text.slice(Math.max(0, m.index - 40), m.index + 40) + '...');
  }

  document.querySelectorAll('.problematic').forEach((el) =>
    out.problems.push('problematic reference: ' + el.textContent.trim().slice(0, 80)));

  // links and ids, checked in Python once every page has been seen
  out.links = [...document.querySelectorAll('a[href]')].map((a) => a.href);
  out.ids = [...document.querySelectorAll('[id]')].map((el) => el.id)
    .concat([...document.querySelectorAll('a[name]')].map((a) => a.name));
  out.url = location.href;
  return out;
})()
"""

LOG_EVENTS = ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")


def console_errors(events: list[dict], base: str) -> list[str]:
    # The browser asks for /favicon.ico on its own; the book declares no icon, so that 404
    # is not an error of the page.
    favicon = base + "favicon.ico"
    errors = []
    for e in events:
        p = e["params"]
        if e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            errors.append("console." + p["type"] + ": " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif e["method"] == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            errors.append("uncaught: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif (e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error"
              and p["entry"].get("url") != favicon):
            errors.append(f"{p['entry']['source']}: {p['entry']['text']} {p['entry'].get('url', '')}")
    return errors


def foreign_requests(events: list[dict], base: str) -> list[str]:
    urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    return [u for u in urls if not (u.startswith(base) or u.startswith(("data:", "blob:", "about:")))]


@pytest.fixture(scope="module")
def visited(site, browser):
    """Open every page once; returns {page: result of PAGE_CHECKS plus console and network}."""
    root, base = site
    results = {}
    for page in book_pages(root):
        # Jupyter Book's top-level index.html only redirects (meta refresh) to the root chapter
        redirects = int("http-equiv=\"refresh\"" in (root / page).read_text(encoding="utf-8").lower())
        browser.open(base + page, redirects)
        result = browser.evaluate(PAGE_CHECKS % {"timeout": RENDER_WAIT * 1000})
        time.sleep(0.2)  # let late console messages arrive
        browser.evaluate("1")
        result["console"] = console_errors(browser.events, base)
        result["foreign"] = foreign_requests(browser.events, base)
        results[page] = result
    return results


def _report(bad: dict[str, list[str]], most: int = 12) -> str:
    lines = []
    for page, problems in bad.items():
        lines.append(f"{page}:")
        lines += [f"  {p}" for p in problems[:most]]
        if len(problems) > most:
            lines.append(f"  ... and {len(problems) - most} more")
    return "\n".join(lines)


def test_every_page_loads_without_console_errors(visited):
    bad = {p: r["console"] + [f"request to {u}" for u in r["foreign"]]
           for p, r in visited.items() if r["console"] or r["foreign"]}
    assert not bad, _report(bad)


def test_math_typeset_and_widgets_with_static_twins(visited):
    bad = {p: r["problems"] for p, r in visited.items() if r["problems"]}
    assert not bad, _report(bad)
    # the book has math and widgets: the checks above did look at something
    assert sum(r["math"] for r in visited.values()) > 0
    assert sum(r["widgets"] for r in visited.values()) > 0


def _words(text: str) -> str:
    """The text's lower-case words and numbers, without TeX delimiters, symbols and spacing."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_every_image_has_alternative_text(visited):
    bad = {}
    for page, r in visited.items():
        problems = []
        for img in r["images"]:
            alt, src = (img["alt"] or "").strip(), img["src"]
            where = "an explorer frame" if img["explorer"] else src
            if not alt:
                problems.append(f"{where}: no alt text")
            elif src != "data:" and src.rsplit("/", 1)[-1] in alt:
                problems.append(f"{where}: the alt text is the file name ({alt})")
            elif len(_words(alt).split()) < MIN_ALT_WORDS:
                problems.append(f"{where}: the alt text is too short to say what it shows ({alt})")
            elif img["caption"] is not None and _words(alt) == _words(img["caption"]):
                problems.append(f"{where}: the alt text repeats the caption ({alt[:60]}...)")
        if problems:
            bad[page] = problems
    assert not bad, _report(bad)
    # the book has figures, and explorers whose frames were displayed: something was checked
    assert sum(img["caption"] is not None for r in visited.values() for img in r["images"]) > 0
    assert sum(img["explorer"] for r in visited.values() for img in r["images"]) > 0


# one explorer, in the page: its sliders (noUiSlider handles) and the frames it shows; a
# frame is named by a hash of its src (the data: URIs of PNGs share their last bytes)
EXPLORER_STATE = r"""
window.__explorer = (i) => {
  const box = document.querySelectorAll('.shallowlearn-explorer')[i];
  const hash = (s) => {
    let h = 2166136261;
    for (let c = 0; c < s.length; c++) { h ^= s.charCodeAt(c); h = Math.imul(h, 16777619); }
    return (h >>> 0).toString(16) + '/' + s.length;
  };
  const shown = [...box.querySelectorAll('img')].filter((img) =>
    img.getBoundingClientRect().height > 0 && img.complete && img.naturalWidth > 0);
  const handles = [...box.querySelectorAll('.noUi-handle')];
  return {
    frames: shown.map((img) => hash(img.src)),
    alts: shown.map((img) => img.alt),
    positions: handles.map((h) => Number(h.getAttribute('aria-valuenow'))),
    last: handles.map((h) => Number(h.getAttribute('aria-valuemax'))),
    readouts: [...box.querySelectorAll('.widget-readout')].map((el) => el.textContent.trim()),
  };
};
window.__explorerAfter = async (i, before, timeout) => {
  const deadline = Date.now() + timeout;
  let state = window.__explorer(i);
  while ((state.frames.length !== 1 || state.frames[0] === before) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    state = window.__explorer(i);
  }
  return state;
};
document.querySelectorAll('.shallowlearn-explorer').length
"""


def _press(browser: "headless.DevTools", key: str, code: int) -> None:
    """A key press sent by the browser (a trusted event, as from a keyboard) to the focus."""
    for kind in ("keyDown", "keyUp"):
        browser.send("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                     windowsVirtualKeyCode=code, nativeVirtualKeyCode=code)


def test_explorer_sliders_change_the_frame(site, browser, visited):
    """Every slider of every explorer, moved from the keyboard through all its positions,
    shows a new frame at each step (and each frame its alt text), with no console error."""
    root, base = site
    pages = [page for page, r in visited.items() if r["explorers"]]
    assert pages, "no page of the book has an explorer"
    bad, moves = {}, 0
    for page in pages:
        problems = []
        browser.open(base + page)
        browser.evaluate(PAGE_CHECKS % {"timeout": RENDER_WAIT * 1000})  # rendered, typeset
        count = browser.evaluate(EXPLORER_STATE)
        for i in range(count):
            state = browser.evaluate(f"window.__explorerAfter({i}, null, {RENDER_WAIT * 1000})")
            if len(state["frames"]) != 1:
                problems.append(f"explorer {i + 1} shows {len(state['frames'])} frames, not one")
                continue
            seen = set(state["frames"])
            for j, last in enumerate(state["last"]):
                for position in range(state["positions"][j] + 1, last + 1):
                    before = state["frames"][0]
                    browser.evaluate(f"document.querySelectorAll('.shallowlearn-explorer')[{i}]"
                                     f".querySelectorAll('.noUi-handle')[{j}].focus()")
                    _press(browser, "ArrowRight", 39)
                    state = browser.evaluate(
                        f"window.__explorerAfter({i}, {json.dumps(before)}, {RENDER_WAIT * 1000})")
                    moves += 1
                    where = f"explorer {i + 1}, slider {j + 1} at position {position}"
                    if state["positions"][j] != position:
                        problems.append(f"{where}: the slider is at {state['positions'][j]}")
                    if len(state["frames"]) != 1 or state["frames"][0] == before:
                        problems.append(f"{where}: the displayed frame did not change")
                    elif state["frames"][0] in seen:
                        problems.append(f"{where}: shows a frame shown before")
                    elif not state["alts"][0].strip():
                        problems.append(f"{where}: the frame has no alt text")
                    seen.update(state["frames"])
        time.sleep(0.2)
        browser.evaluate("1")
        problems += console_errors(browser.events, base)
        if problems:
            bad[page] = problems
    assert not bad, _report(bad)
    assert moves > 0


def test_page_weight(site):
    """No page is heavier than PAGE_CAP bytes of HTML (explorer frames are stored in it)."""
    root, _ = site
    sizes = {page: (root / page).stat().st_size for page in book_pages(root)}
    heavy = {page: size for page, size in sizes.items() if size > PAGE_CAP}
    assert not heavy, f"pages over {PAGE_CAP / 1e6:.1f} MB: {heavy}"
    with_explorers = [page for page in sizes
                      if "shallowlearn-explorer" in (root / page).read_text(encoding="utf-8")]
    assert with_explorers, "no page has an explorer"


def test_internal_links_resolve(site, visited):
    root, base = site
    ids = {urllib.parse.urlsplit(r["url"]).path: set(r["ids"]) for r in visited.values()}
    broken = set()
    for page, r in visited.items():
        for href in r["links"]:
            if not href.startswith(base):
                continue
            parts = urllib.parse.urlsplit(href)
            path = urllib.parse.unquote(parts.path)
            target = root / path.lstrip("/")
            if target.is_dir():
                target = target / "index.html"
                path = path.rstrip("/") + "/index.html"
            if not target.is_file():
                broken.add(f"{page}: {href} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                frag = urllib.parse.unquote(parts.fragment)
                page_ids = ids.get(path)
                if page_ids is None:  # a page that was not visited (not expected)
                    page_ids = _static_ids(target)
                if frag not in page_ids:
                    broken.add(f"{page}: {href} (no id {frag!r} there)")
    assert not broken, "\n".join(sorted(broken))


class _IdParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value or "")


def _static_ids(path: Path) -> set[str]:
    parser = _IdParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.ids


def test_search_finds_a_chapter_word(site, browser):
    _, base = site
    browser.open(f"{base}search.html?q={SEARCH_WORD}")
    found = browser.evaluate(r"""
    (async () => {
      const deadline = Date.now() + %d;
      const links = () => [...document.querySelectorAll('#search-results li a')].map((a) => a.href);
      while (!links().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      return {links: links(), status: (document.querySelector('#search-results p') || {}).textContent};
    })()""" % (RENDER_WAIT * 1000))
    assert found["links"], f"searching {SEARCH_WORD!r} found nothing: {found['status']}"
    assert any("/book/" in u for u in found["links"]), found
    assert not console_errors(browser.events, base)
