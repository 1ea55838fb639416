"""Long lines in the built book stay within the page (book/_ext/long_lines.py).

Skipped unless ``SHALLOWLEARN_BUILT_HTML`` names a built book; CI runs it after the strict build::

    SHALLOWLEARN_BUILT_HTML=_build/html pytest tests/test_built_layout.py

Every page is opened in headless Chromium at a desktop width (1280 px) and laid out for the
screen and for print. On screen no cell output (a printed table, a repr, a
traceback) may be wider than its box, and a code block wider than its box must scroll
(``overflow-x`` auto or scroll), never clip. Printed, no code block or output may be wider than
its box at all: nothing scrolls on paper.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# the browser and the server of tests/test_built_html.py, loaded by path (pytest's importlib
# import mode puts no test folder on sys.path)
_spec = importlib.util.spec_from_file_location(
    "shallowlearn_test_built_html", Path(__file__).with_name("test_built_html.py"))
_built_html = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_built_html)
BUILT, book_pages, book_root = _built_html.BUILT, _built_html.book_pages, _built_html.book_root
chromium, serve = _built_html.chromium, _built_html.serve

pytestmark = pytest.mark.skipif(
    not BUILT, reason="set SHALLOWLEARN_BUILT_HTML to a built book (_build/html) to run"
)

OVERFLOWS = r"""
(() => {
  const out = [];
  document.querySelectorAll('pre').forEach((pre) => {
    if (pre.scrollWidth <= pre.clientWidth + 1 || !pre.getClientRects().length) return;
    const inOutput = !!pre.closest('div.cell_output');
    const line = pre.textContent.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
    out.push({output: inOutput, overflowX: getComputedStyle(pre).overflowX,
              line: line.trim().slice(0, 70)});
  });
  return out;
})()
"""


WIDTH = 1280  # px, a desktop window: the content column is about 690 px wide


@pytest.fixture(scope="module")
def overflows():
    """{media: {page: [overflowing pre elements]}} over every page of the book."""
    root = book_root()
    pages = [p for p in book_pages(root)
             if 'http-equiv="refresh"' not in (root / p).read_text(encoding="utf-8").lower()]
    found = {"screen": {}, "print": {}}
    with serve(root) as base, chromium() as tab:
        tab.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=1000,
                 deviceScaleFactor=1, mobile=False)
        for page in pages:
            tab.send("Emulation.setEmulatedMedia", media="screen")
            tab.open(base + page)
            for media in ("screen", "print"):  # the same page, laid out for each medium
                tab.send("Emulation.setEmulatedMedia", media=media)
                found[media][page] = tab.evaluate(OVERFLOWS)
    return found


def _report(bad: dict) -> str:
    return "\n".join(f"{page}: {item}" for page, items in bad.items() for item in items[:5])


def test_cell_outputs_wrap_on_screen(overflows):
    bad = {page: [o for o in items if o["output"]] for page, items in overflows["screen"].items()}
    bad = {page: items for page, items in bad.items() if items}
    assert not bad, "cell outputs wider than their box:\n" + _report(bad)


def test_wide_code_scrolls_on_screen(overflows):
    bad = {page: [o for o in items if o["overflowX"] not in ("auto", "scroll")]
           for page, items in overflows["screen"].items()}
    bad = {page: items for page, items in bad.items() if items}
    assert not bad, "code wider than its box that does not scroll:\n" + _report(bad)
    # the book has such code: the check above looked at something
    assert any(overflows["screen"].values())


def test_nothing_is_cut_off_in_print(overflows):
    bad = {page: items for page, items in overflows["print"].items() if items}
    assert not bad, "printed lines wider than their box:\n" + _report(bad)
