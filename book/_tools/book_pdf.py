"""The whole book as one PDF: a single-page HTML build, printed by headless Chromium.

Usage, from the repository root (the same environment as the book)::

    python book/_tools/book_pdf.py                       # -> _build/pdf/shallowlearn.pdf
    python book/_tools/book_pdf.py -W -n --keep-going    # strict, as CI runs it

Extra arguments go to ``jupyter-book build``. The script

1. builds the book with Sphinx's ``singlehtml`` builder (``_build/singlehtml/``). It reuses the
   execution cache of the HTML build (``_build/.jupyter_cache``), so after ``jupyter-book build .``
   no chapter runs again;
2. serves that page on 127.0.0.1 and opens it in headless Chromium with every other host
   unreachable (the book's JavaScript is served locally, see ``book/_ext/offline_assets.py``);
3. waits until MathJax has typeset every formula and every image has loaded, then prints the
   page to PDF (A4, page numbers in the footer) through the Chrome DevTools protocol. The
   explorers' sliders are left out (paper has no kernel, and the single page carries no widget
   state); the static figure beside each one makes the same point;
4. writes ``_build/pdf/shallowlearn.pdf`` (``--out`` to change) and, when the HTML book is built,
   copies it to ``_build/html/shallowlearn.pdf``, where the book's introduction links to it.

Chromium is ``chromium`` (or ``chromium-browser``/``google-chrome``) on the PATH, or
``SHALLOWLEARN_CHROMIUM``; on Debian ``apt-get install chromium``. Every wait has a time limit:
the script fails with a one-line message (exit status 1) instead of hanging.
"""

from __future__ import annotations

import argparse
import base64
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by path (tests)
from headless import HeadlessError, chromium, serve  # noqa: E402 (this folder, put on the path)

ROOT = Path(__file__).resolve().parents[2]  # the repository (book/_tools/ -> ..)
SINGLEHTML = ROOT / "_build" / "singlehtml"
HTML = ROOT / "_build" / "html"
PDF_NAME = "shallowlearn.pdf"
DEFAULT_OUT = ROOT / "_build" / "pdf" / PDF_NAME

LOAD_TIMEOUT = 120.0  # seconds for the page's load event, and for any one DevTools call
RENDER_TIMEOUT = 300.0  # for MathJax and the images
PRINT_TIMEOUT = 300.0  # for printing to PDF

# A4 in inches, with 15 mm margins; page number / page count in the footer
PRINT_OPTIONS = {
    "paperWidth": 8.27,
    "paperHeight": 11.69,
    "marginTop": 0.6,
    "marginBottom": 0.7,
    "marginLeft": 0.6,
    "marginRight": 0.6,
    "printBackground": True,
    "displayHeaderFooter": True,
    "headerTemplate": "<div></div>",
    "footerTemplate": (
        '<div style="width:100%;font-size:8pt;color:#555;text-align:center">'
        '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
    ),
    "transferMode": "ReturnAsStream",
}

# run in the page: resolves once the page is ready to print, or with what is still missing
READY = r"""
(async () => {
  const deadline = Date.now() + %(timeout)d;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const missing = [];
  if (document.querySelector('.math')) {
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline)
      await sleep(100);
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) missing.push('MathJax did not load');
    else await MathJax.startup.promise;
    const untypeset = [...document.querySelectorAll('.math')].filter((m) => !m.querySelector('mjx-container'));
    if (untypeset.length) missing.push(untypeset.length + ' formulas not typeset');
    const errors = document.querySelectorAll('mjx-merror').length;
    if (errors) missing.push(errors + ' MathJax errors');
  }
  const images = () => [...document.images].filter((img) => !(img.complete && img.naturalWidth > 0));
  while (images().length && Date.now() < deadline) await sleep(100);
  if (images().length) missing.push(images().length + ' images did not load: ' + images()[0].src);
  return missing;
})()
"""


class BookPdfError(HeadlessError):
    """Why the PDF could not be made (reported in one line)."""


def single_page(page_dir: Path) -> str:
    """The single page of a singlehtml build, relative to page_dir.

    Jupyter Book writes the page under the root document's name (``book/index.html``) and an
    ``index.html`` that only redirects to it (a meta refresh); follow that redirect here, so
    the browser never prints the redirecting page.
    """
    index = page_dir / "index.html"
    if not index.is_file():
        raise BookPdfError(f"no single-page book at {index}")
    match = re.search(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"',
                      index.read_text(encoding="utf-8"), re.I)
    page = match[1] if match else "index.html"
    if not (page_dir / page).is_file():
        raise BookPdfError(f"{index} redirects to {page}, which does not exist")
    return page


PRINT_PAGE = "print.html"


def write_print_page(page_dir: Path) -> str:
    """Write the single page as page_dir/print.html, ready to print; return its name.

    Sphinx writes the URLs of the single page relative to the build's root, although the page
    itself is ``book/index.html``: its stylesheets, scripts and images are ``_static/...`` and
    ``_images/...``, and its cross-references ``book/index.html#target``. At the root, with the
    references made same-page anchors (``#target``), everything resolves, and Chromium turns
    the references into links inside the PDF instead of links to the local server.
    """
    page = single_page(page_dir)
    html = (page_dir / page).read_text(encoding="utf-8")
    html = html.replace(f'href="{page}#', 'href="#').replace(f'href="{page}"', 'href="#"')
    (page_dir / PRINT_PAGE).write_text(html, encoding="utf-8")
    return PRINT_PAGE


def print_to_pdf(page_dir: Path, out: Path) -> int:
    """Print the single page of page_dir to out; return the PDF's size in bytes."""
    page = write_print_page(page_dir)
    with serve(page_dir) as base, chromium(timeout=LOAD_TIMEOUT) as tab:
        tab.send("Emulation.setEmulatedMedia", media="print")
        tab.open(base + page)
        missing = tab.evaluate(READY % {"timeout": RENDER_TIMEOUT * 1000}, RENDER_TIMEOUT)
        if missing:
            raise BookPdfError("the page is not ready to print: " + "; ".join(missing))
        result = tab.send("Page.printToPDF", timeout=PRINT_TIMEOUT, **PRINT_OPTIONS)
        pdf = tab.read_stream(result["stream"], PRINT_TIMEOUT) if "stream" in result else base64.b64decode(result["data"])
    if not pdf.startswith(b"%PDF"):
        raise BookPdfError("Chromium's output is not a PDF")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    return len(pdf)


def build_singlehtml(build_args: list[str]) -> int:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build",
               "--builder", "singlehtml", *build_args, str(ROOT)]
    return subprocess.call(command, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"the PDF to write (default: {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--no-build", action="store_true",
                        help="print the existing _build/singlehtml without building it again")
    args, build_args = parser.parse_known_args(argv)
    out = args.out.resolve()
    if out.suffix.lower() != ".pdf" or out.is_dir():
        print(f"book_pdf.py: error: --out {out} must name a .pdf file", file=sys.stderr)
        return 2
    if not args.no_build:
        status = build_singlehtml(build_args)
        if status != 0:
            print(f"book_pdf.py: error: the single-page build failed (status {status})", file=sys.stderr)
            return status
    start = time.monotonic()
    try:
        size = print_to_pdf(SINGLEHTML, out)
    except HeadlessError as error:
        print(f"book_pdf.py: error: {error}", file=sys.stderr)
        return 1
    print(f"book PDF: {out} ({size / 1e6:.1f} MB, printed in {time.monotonic() - start:.0f} s)")
    if (HTML / "index.html").is_file() and out != HTML / PDF_NAME:
        shutil.copy2(out, HTML / PDF_NAME)
        print(f"book PDF: copied to {HTML / PDF_NAME}, beside the HTML book")
    return 0


if __name__ == "__main__":
    sys.exit(main())
