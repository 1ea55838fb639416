"""Let the single-page build (``--builder singlehtml``, for the book's PDF) write every node.

Sphinx looks up how to write an extension's node by builder name, and falls back to the
builder's format ("html") only when no extension registered anything for that name. Some of
the book's extensions register their nodes for ``html`` only (myst-nb's folded code cells,
sphinx-proof's theorems), while sphinx-exercise registers ``singlehtml`` handlers, which turns
the fallback off: the single-page build then failed with "unknown node type". The single page
is written by the same HTML translator, so it gets the ``html`` handlers of every node that has
no ``singlehtml`` handler of its own.
"""

from __future__ import annotations


def _share_html_handlers(app) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node_name, visit_depart in handlers.get("html", {}).items():
        single.setdefault(node_name, visit_depart)


def setup(app) -> dict:
    app.connect("builder-inited", _share_html_handlers)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
