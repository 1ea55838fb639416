"""Drop repeated inline scripts from the HTML pages, so that no page starts with a console error.

Sphinx 7.4 puts every inline script that an extension registers once the builder exists
(``app.add_js_file(None, body=...)``) twice into each page: once as given, and once more from its
registry with the file name ``''`` instead of ``None``, which it does not see as the same script
(``StandaloneHTMLBuilder.prepare_writing``). sphinx-thebe registers ``const THEBE_JS_URL = ...``
that way, and the second copy is "SyntaxError: Identifier 'THEBE_JS_URL' has already been
declared" on every page. This keeps the first of several inline scripts with equal attributes and
body on a page. ``tests/test_built_html.py`` fails on any console error.
"""

from __future__ import annotations

import json

from sphinx.application import Sphinx


def _drop_repeated_inline_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen = set()
    kept = []
    for js in scripts:
        attributes = getattr(js, "attributes", None)
        if attributes is not None and not getattr(js, "filename", None):  # inline: None or ""
            key = (getattr(js, "priority", None), json.dumps(attributes, sort_keys=True, default=str))
            if key in seen:
                continue
            seen.add(key)
        kept.append(js)
    scripts[:] = kept


def setup(app: Sphinx) -> dict:
    # after the handlers that add page scripts (myst-nb, sphinx.ext.mathjax: priority 500)
    app.connect("html-page-context", _drop_repeated_inline_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
