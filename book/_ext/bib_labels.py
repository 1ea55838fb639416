"""Author-year labels for the bibliography, matching the author-year citations in the text.

With ``bibtex_reference_style: author_year`` the chapters cite as "[Soltanolkotabi et al.,
2019]", but sphinxcontrib-bibtex's default bibliography style ("alpha") labels the list with
alpha keys such as "[SJL19]", built from squeezed surnames ("[GKizildaugZ19]"). This extension
registers a pybtex formatting style, ``author_year``, whose labels are written the way the
citations are: the surname of a single author, "A and B" for two, "A et al." for three or more,
then ", year". Entries that would share a label get "a", "b", ... after the year. The list is
sorted by author, year and title. Select it with ``bibtex_default_style: author_year``.
"""

from __future__ import annotations

from collections import Counter
from string import ascii_lowercase

import pybtex.plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

NAME = "author_year"


def _plain(latex: str) -> str:
    """Text of a BibTeX field, LaTeX accents and braces resolved: "Zdeborov{\\'a}" -> "Zdeborová"."""
    return Text.from_latex(latex).render_as("text")


def _surname(person) -> str:
    return _plain(" ".join(person.prelast_names + person.last_names))


def _year(entry) -> str:
    return entry.fields.get("year", "n.d.")


def author_year_label(entry) -> str:
    """The label of one entry, before any "a"/"b" that tells equal labels apart."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    if not persons:
        who = _plain(entry.fields.get("key") or entry.fields.get("title", entry.key))
    elif len(persons) == 1:
        who = _surname(persons[0])
    elif len(persons) == 2:
        who = f"{_surname(persons[0])} and {_surname(persons[1])}"
    else:
        who = f"{_surname(persons[0])} et al."
    return f"{who}, {_year(entry)}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year_label(entry) for entry in sorted_entries]
        count = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if count[label] == 1:
                yield label
                continue
            suffix = ascii_lowercase[seen[label]] if seen[label] < 26 else str(seen[label])
            seen[label] += 1
            yield label + suffix


class AuthorYearStyle(UnsrtStyle):
    default_label_style = NAME
    default_sorting_style = "author_year_title"


def register() -> None:
    for group, plugin in (("pybtex.style.labels", AuthorYearLabelStyle),
                          ("pybtex.style.formatting", AuthorYearStyle)):
        try:
            pybtex.plugin.register_plugin(group, NAME, plugin)
        except pybtex.plugin.PluginNameClashError:
            pass  # registered already (the extension set up twice in one process)


def setup(app) -> dict:
    register()
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
