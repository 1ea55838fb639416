"""Number the exercises within each page, not across the whole book.

sphinx-exercise registers its exercise as an enumerable node of type "exercise", so Sphinx
numbers exercises like figures: one counter along the table of contents (or per chapter only
under a numbered toctree, which this book does not use). An assignment page then opened with
"Exercise 17". After Sphinx has assigned the numbers (its toctree collector, on
``env-get-updated``), this extension renumbers the exercises of every page from 1 in page order;
titles, "Solution to Exercise n" and ``{numref}`` all read these numbers. Under a numbered
toctree the section prefix would be kept and only the last part renumbered.
"""

from __future__ import annotations

from collections import Counter

FIGTYPE = "exercise"


def renumber(toc_fignumbers: dict) -> list[str]:
    """Renumber each page's exercises in place; return the pages whose numbers changed."""
    changed = []
    for docname, by_type in toc_fignumbers.items():
        numbers = by_type.get(FIGTYPE)
        if not numbers:
            continue
        counters: Counter = Counter()
        renumbered = {}
        for node_id, number in numbers.items():  # in page order, as Sphinx walked the page
            prefix = tuple(number[:-1])
            counters[prefix] += 1
            renumbered[node_id] = (*prefix, counters[prefix])
        if renumbered != numbers:
            by_type[FIGTYPE] = renumbered
            changed.append(docname)
    return changed


def _on_env_updated(app, env) -> list[str]:
    return renumber(env.toc_fignumbers)


def setup(app) -> dict:
    # after Sphinx's toctree collector (priority 500), which assigns the book-wide numbers
    app.connect("env-get-updated", _on_env_updated, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
