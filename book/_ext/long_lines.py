"""Keep long code and output lines within the page: adds ``static/css/long-lines.css``.

Without it, lines wider than a cell (the reproduction tables, a ``SolverResult`` repr, long
prints) ran past the cell's right edge: hidden behind a scroll bar that some browsers show only
while scrolling, and cut off on paper. See the stylesheet for what wraps where.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
CSS = "css/long-lines.css"


def _add_static(app) -> None:
    if str(STATIC) not in map(str, app.config.html_static_path):
        app.config.html_static_path.append(str(STATIC))


def setup(app) -> dict:
    app.connect("builder-inited", _add_static)
    app.add_css_file(CSS)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
