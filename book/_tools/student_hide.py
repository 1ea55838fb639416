"""Sphinx extension of the student edition: drop what lies between two markers.

``book/_tools/student_edition.py`` puts the code cells of each removed solution between the
directives ``{student-hidden-start}`` and ``{student-hidden-end}``. The cells still run during the
build (a later cell may need what they define), and this extension removes them, with their
outputs, from the page once it is parsed (``doctree-read``). Markers rather than a
``remove-cell`` tag keep every code cell's metadata as it is, so jupyter-cache, which keys a
notebook on its code cells' source and metadata, finds the normal build's executions.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


class hidden_start(nodes.Element):
    pass


class hidden_end(nodes.Element):
    pass


class HiddenStart(SphinxDirective):
    def run(self):
        return [hidden_start()]


class HiddenEnd(SphinxDirective):
    def run(self):
        return [hidden_end()]


def _drop_hidden(app: Sphinx, doctree: nodes.document) -> None:
    for start in list(doctree.findall(hidden_start)):
        parent = start.parent
        index = parent.index(start)
        for end_index in range(index + 1, len(parent.children)):
            if isinstance(parent.children[end_index], hidden_end):
                break
        else:
            logger.warning("student-hidden-start without a student-hidden-end beside it",
                           location=start)
            continue
        del parent.children[index : end_index + 1]
    for stray in list(doctree.findall(hidden_end)):
        logger.warning("student-hidden-end without a student-hidden-start", location=stray)
        stray.parent.remove(stray)


def setup(app: Sphinx) -> dict:
    app.add_node(hidden_start)
    app.add_node(hidden_end)
    app.add_directive("student-hidden-start", HiddenStart)
    app.add_directive("student-hidden-end", HiddenEnd)
    app.connect("doctree-read", _drop_hidden)
    # for ``{only} not student_edition`` blocks, such as the introduction's link to the book's
    # PDF, which has the solutions
    app.tags.add("student_edition")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
