"""The book as one PDF (``book/_tools/book_pdf.py``).

The script's own checks always run. The PDF is checked when ``SHALLOWLEARN_BOOK_PDF`` names it;
CI builds it after the HTML book::

    python book/_tools/book_pdf.py -W -n --keep-going
    SHALLOWLEARN_BOOK_PDF=_build/pdf/shallowlearn.pdf pytest tests/test_book_pdf.py
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "book" / "_tools" / "book_pdf.py"
PDF = os.environ.get("SHALLOWLEARN_BOOK_PDF", "")
needs_pdf = pytest.mark.skipif(not PDF, reason="set SHALLOWLEARN_BOOK_PDF to the built PDF "
                                               "(_build/pdf/shallowlearn.pdf) to run")

spec = importlib.util.spec_from_file_location("book_pdf", SCRIPT)
book_pdf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(book_pdf)


def test_print_page_follows_the_redirect_and_makes_references_local(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "index.html").write_text(
        '<meta http-equiv="Refresh" content="0; url=book/index.html" />', encoding="utf-8")
    (tmp_path / "book" / "index.html").write_text(
        '<link href="_static/a.css"><a href="book/index.html#eq-1">(1)</a>'
        '<a href="book/index.html">top</a><a href="https://example.org/">out</a>',
        encoding="utf-8")
    name = book_pdf.write_print_page(tmp_path)
    html = (tmp_path / name).read_text(encoding="utf-8")
    assert name == "print.html"
    assert '<a href="#eq-1">' in html and '<a href="#">top' in html
    assert 'href="_static/a.css"' in html and 'href="https://example.org/"' in html


def test_print_page_without_a_build_is_a_clear_error(tmp_path):
    with pytest.raises(book_pdf.BookPdfError, match="no single-page book"):
        book_pdf.write_print_page(tmp_path)
    (tmp_path / "index.html").write_text(
        '<meta http-equiv="refresh" content="0; url=gone.html" />', encoding="utf-8")
    with pytest.raises(book_pdf.BookPdfError, match="gone.html, which does not exist"):
        book_pdf.write_print_page(tmp_path)


def test_out_must_name_a_pdf(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--no-build", "--out", str(tmp_path / "x.txt")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"book_pdf.py: error: --out {tmp_path / 'x.txt'} must name a .pdf file"


def _toc_files() -> list[Path]:
    return [ROOT / f"{name}.md"
            for name in re.findall(r"(?:root|file):\s*(\S+)", (ROOT / "_toc.yml").read_text())]


def _title(page: Path) -> str:
    match = re.search(r"^# (.+)$", page.read_text(encoding="utf-8"), re.M)
    assert match, f"{page} has no title"
    return match[1].strip()


@pytest.fixture(scope="module")
def pdf():
    from pypdf import PdfReader

    reader = PdfReader(PDF)
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return reader, text


def _flat(text: str) -> str:
    """Whitespace runs as one space, ligatures ("ﬁ") as letters, typographic quotes as plain."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", " ", text).replace("\u2019", "'").replace("\u2018", "'")


@needs_pdf
def test_the_pdf_holds_the_whole_book(pdf):
    reader, text = pdf
    documents = _toc_files()
    assert len(documents) > 20
    # at least a page per document, and no runaway (a page per line would be thousands)
    assert len(documents) <= len(reader.pages) <= 1000, len(reader.pages)
    flat = _flat(text)
    missing = [_title(p) for p in documents if _flat(_title(p).replace("`", "")) not in flat]
    assert not missing, f"titles not in the PDF: {missing}"


@needs_pdf
def test_the_maths_is_typeset(pdf):
    _, text = pdf
    raw = [text[max(0, m.start() - 40):m.end() + 40] for m in re.finditer(r"\\[()\[\]]|\$\$", text)]
    assert not raw, f"raw TeX in the PDF's text: {raw[:5]}"


@needs_pdf
def test_figures_and_numbered_cross_references(pdf):
    reader, text = pdf
    images = sum(1 for page in reader.pages
                 for obj in (page.get("/Resources", {}).get("/XObject", {}) or {}).values()
                 if obj.get_object().get("/Subtype") == "/Image")
    assert images >= 20, images
    flat = _flat(text)
    for label in ("Fig. 1", "Fig. 2", "Exercise 1", "Solution to Exercise 1", "Eq. 1"):
        assert label in flat, label
    # a bibliography label as the text cites it (book/_ext/bib_labels.py)
    assert "[Soltanolkotabi et al., 2019]" in flat
    # cross-references are links inside the PDF, not to the server the page was printed from
    internal = external_local = 0
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            action = annot.get("/A") or {}
            if "/Dest" in annot or action.get("/S") == "/GoTo":
                internal += 1
            elif "127.0.0.1" in str(action.get("/URI", "")):
                external_local += 1
    assert internal >= 100, internal
    assert external_local == 0, f"{external_local} links point to the local print server"
