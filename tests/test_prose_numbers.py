"""No hand-typed results in the book's prose.

A number in a chapter's text that is a result must come from a cell (a ``{glue:text}`` role);
a number quoted from the paper or the literature is cited. This test scans the prose of every
chapter, outside maths, code, glue and other roles, for numerals, and fails on any numeral
that is neither part of a reference (Theorem 2.1, Figure 3a, eq. (6.4), a year after an
author's name, ...) nor listed in :data:`QUOTED` below, with the reason it may stand there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(
    p for p in BOOK.rglob("*.md")
    if "_build" not in p.parts and not p.name.startswith(".")
    and p.parent.name != "api" and "_ext" not in p.parts and "_tools" not in p.parts
)

# Numerals allowed in the prose of each chapter, with why each may stand there. Every entry is
# matched as a whole token (``11.4`` does not allow ``11``).
QUOTED: dict[str, dict[str, str]] = {
    "*": {
        "50": "the 50% point of a logistic fit of success rates: the paper's measure of a "
              "phase transition",
    },
    # a page of instructions, not a notebook: the package's documented defaults, each checked
    # against the package by test_documented_defaults_match_the_package below
    "assignments/index.md": {
        "10": "shallowlearn.checks.DEFAULT_TIME_LIMIT, seconds per call of student code",
        "300": "shallowlearn.grading.DEFAULT_TIMEOUT, seconds for a notebook's cells",
        "120": "shallowlearn.grading.DEFAULT_CHECK_TIMEOUT, seconds for the checks",
        "2": "the exit status of a user error on the command line",
        "30": "nbconvert's ExecutePreprocessor.timeout default, in seconds, which nbgrader "
              "uses (jupyter/nbconvert issue #791)",
    },
}

_DEFAULTS = {
    "shallowlearn.checks.DEFAULT_TIME_LIMIT": 10,
    "shallowlearn.grading.DEFAULT_TIMEOUT": 300,
    "shallowlearn.grading.DEFAULT_CHECK_TIMEOUT": 120,
}

# References by number: a numeral that follows one of these words is part of the name.
_REFERENCE = re.compile(
    r"(Theorems?|Lemmas?|Propositions?|Corollary|Corollaries|Remarks?|Examples?|Assumptions?|"
    r"Figures?|Fig\.|Sections?|§|Algorithms?|Chapters?|Part|eqs?\.|equations?|Eq\.|Table|"
    r"Appendix|arXiv:|v|part|question|step|item)\s*\(?$"
)
_NUMERAL = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)(?![\w])")
# more references after the first: "Figures 2 and 3", "Theorems 2.1, 2.2 and 2.5"
_MORE = re.compile(
    r"(Theorems|Lemmas|Propositions|Figures|Sections|Examples|Remarks)\s+[\d.a-z]+"
    r"(\s*(,|and|or|–|-)\s*[\d.a-z]+)*\s*(,|and|or|–|-)\s*$"
)


def prose(text: str) -> str:
    """The chapter's text without front matter, code, maths, roles, directives' options,
    labels, comments and links' targets: what a reader reads as sentences."""
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # front matter
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    # fenced blocks: code cells, code, math and other directives whose body is not prose
    text = re.sub(r"^(`{3,}|~{3,})\{(code-cell|math|code-block|code)\}.*?^\1\s*$", "", text,
                  flags=re.S | re.M)
    text = re.sub(r"^(`{3,}|~{3,})(?!\{).*?^\1\s*$", "", text, flags=re.S | re.M)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", "", text, flags=re.S)
    text = re.sub(r"(?<!\\)\$(?:[^$\n]|\n(?!\s*\n))+?(?<!\\)\$", "", text)  # inline maths
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", "", text)  # roles: {glue:text}`…`, {cite}`…`, {eq}`…`
    text = re.sub(r"``[^`]+``|`[^`\n]+`", "", text)  # inline code
    text = re.sub(r"^\s*:[\w-]+:.*$", "", text, flags=re.M)  # directive options
    text = re.sub(r"^\s*\(([\w-]+)\)=\s*$", "", text, flags=re.M)  # labels
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r"^(`{3,}|:{3,})\{[\w:-]+\}.*$", "", text, flags=re.M)  # directive lines
    return text


def offending(path: Path) -> list[str]:
    """The numerals of a chapter's prose that are not references or listed quotations."""
    allowed = {**QUOTED["*"], **QUOTED.get(path.relative_to(BOOK).as_posix(), {})}
    found = []
    for line in prose(path.read_text(encoding="utf-8")).splitlines():
        for match in _NUMERAL.finditer(line):
            number = match.group(1)
            before = line[: match.start()]
            if number in allowed or _REFERENCE.search(before.rstrip()) or _MORE.search(before):
                continue
            if re.fullmatch(r"\s*(#+\s*)?", before) and line[match.end():].startswith(". "):
                continue  # the number of an item of a numbered list
            if re.search(r"(et al\.|&\s*\w+|[A-Z][\w-]+)[\s,(]*$", before) and re.fullmatch(
                    r"(19|20)\d\d[a-z]?", number):
                continue  # a year after an author's name: a citation
            found.append(f"{number!r} in: {line.strip()[:120]}")
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.relative_to(BOOK).as_posix() for p in CHAPTERS])
def test_no_hand_typed_numbers_in_the_prose(path):
    problems = offending(path)
    assert not problems, (
        f"{len(problems)} numerals in the prose of {path.name} are neither glued, nor "
        "references, nor listed in tests/test_prose_numbers.py QUOTED:\n  " + "\n  ".join(problems)
    )


def test_the_scanner_sees_what_it_must():
    text = (
        "---\nkernelspec: x\n---\nWe found k = 9 here, {glue:text}`k-star:.0f` there, "
        "$d = 20$ and Theorem 2.1 (Lee et al. 2016).\n```{code-cell}\nx = 17\n```\n"
    )
    found = [m.group(1) for m in _NUMERAL.finditer(prose(text))]
    assert found == ["9", "2.1", "2016"]  # not the 20 of the maths nor the 17 of the code


def test_documented_defaults_match_the_package():
    import importlib

    for name, value in _DEFAULTS.items():
        module, attribute = name.rsplit(".", 1)
        assert getattr(importlib.import_module(module), attribute) == value, name
        assert any(name in reason for reason in QUOTED["assignments/index.md"].values())
