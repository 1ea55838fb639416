"""Every public docstring of the package is valid numpydoc and reStructuredText.

Each docstring is converted by Sphinx's napoleon (numpy style, as the API reference is built)
and parsed by docutils; any warning or error fails the test, naming the object and the
message. Sphinx's Python roles (:func:, :class:, ...) are registered as plain roles, so that
what is checked is the markup, not the cross-references (the strict book build checks those).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import io
import pkgutil
import re

import docutils.core
import docutils.utils
import pytest
from docutils.parsers.rst import directives, roles
from docutils.parsers.rst.directives.admonitions import Note
from sphinx.ext.napoleon import Config
from sphinx.ext.napoleon.docstring import NumpyDocstring

import shallowlearn

_CONFIG = Config(napoleon_google_docstring=False, napoleon_numpy_docstring=True,
                 napoleon_use_param=False, napoleon_use_rtype=False,
                 napoleon_custom_sections=[("Attributes", "params_style")])
for _role in ("func", "class", "meth", "attr", "data", "mod", "obj", "exc", "ref", "math"):
    roles.register_generic_role(_role, docutils.nodes.literal)
directives.register_directive("seealso", Note)  # Sphinx's, as napoleon writes See Also
for _role in ("py:func", "py:class", "py:meth", "py:attr", "py:data", "py:mod"):
    roles.register_generic_role(_role, docutils.nodes.literal)


def _public_objects():
    """(qualified name, object) of every public module, class, function, method and property."""
    seen = set()
    modules = [shallowlearn] + [
        importlib.import_module(f"shallowlearn.{info.name}")
        for info in pkgutil.iter_modules(shallowlearn.__path__) if not info.name.startswith("_")
    ]
    for module in modules:
        yield module.__name__, module
        names = getattr(module, "__all__", [])
        for name in names:
            obj = getattr(module, name)
            if id(obj) in seen or not (inspect.isclass(obj) or callable(obj)):
                continue
            seen.add(id(obj))
            yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, (property, functools.cached_property)):
                        yield f"{module.__name__}.{name}.{attr}", member
                    elif callable(member):
                        yield f"{module.__name__}.{name}.{attr}", member


def _kind(obj) -> str:
    """What autodoc would call the object, which decides how napoleon reads its docstring."""
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if isinstance(obj, (property, functools.cached_property)):
        return "property"
    return "function"


def _problems(doc: str, what: str, name: str) -> list[str]:
    text = str(NumpyDocstring(inspect.cleandoc(doc), _CONFIG, what=what, name=name))
    stream = io.StringIO()
    docutils.core.publish_doctree(
        text, settings_overrides={"warning_stream": stream, "report_level": 2, "halt_level": 5})
    problems = [line for line in stream.getvalue().splitlines() if line.strip()]
    if what == "property" and ":type:" in text:  # napoleon read "words: more words" as a type
        problems.append(f"the first line reads as 'type: description': {doc.splitlines()[0]!r}")
    return problems


OBJECTS = sorted({name: obj for name, obj in _public_objects()}.items())


@pytest.mark.parametrize("name, obj", OBJECTS, ids=[name for name, _ in OBJECTS])
def test_docstring_parses_cleanly(name, obj):
    doc = obj.__doc__
    assert doc, f"{name} has no docstring"
    problems = _problems(doc, _kind(obj), name)
    assert not problems, f"{name}: " + " | ".join(problems)


def _public_data():
    """(qualified name, comment lines) of each public module constant documented by ``#:``."""
    from sphinx.pycode import ModuleAnalyzer

    for info in pkgutil.iter_modules(shallowlearn.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"shallowlearn.{info.name}")
        comments = ModuleAnalyzer.for_module(module.__name__).find_attr_docs()
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or callable(obj) or inspect.ismodule(obj):
                continue
            yield f"{module.__name__}.{name}", comments.get(("", name))


DATA = sorted(_public_data())


@pytest.mark.parametrize("name, lines", DATA, ids=[name for name, _ in DATA])
def test_constant_comment_parses_cleanly(name, lines):
    assert lines, f"{name} is public but has no '#:' comment for the API reference"
    doc = "\n".join(lines)
    problems = _problems(doc, "data", name)
    if ":type:" in str(NumpyDocstring(doc, _CONFIG, what="data", name=name)):
        problems.append(f"the first line reads as 'type: description': {lines[0]!r}")
    assert not problems, f"{name}: " + " | ".join(problems)


# Characters that are mathematics when they appear in prose: Greek letters, super- and
# subscripts, and operators. The API reference renders maths only inside :math: roles and
# ``.. math::`` blocks, so these may appear only there, in ``literals`` and in examples.
_MATH_CHARS = re.compile("[\u0391-\u03a9\u03b1-\u03c9\u03d5\u2070-\u209c\u1d40\u1d62\u2c7c"
                         "\u2113\u2016\u2207\u221a\u2211\u2264\u2265\u2208\u2248\u221e\u2202"
                         "\u2299\u2297\u27e8\u27e9\u2218\u2212\u00b2\u00b3\u00b9]")
_RENDERED = re.compile(r":math:`[^`]*`|``[^`]*``|`[^`]*`")


def _unrendered_maths(doc: str) -> list[str]:
    """The lines of ``doc`` with a maths character outside maths markup, literals and examples."""
    found, in_block, in_example = [], None, False
    for line in inspect.cleandoc(doc).splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_block is not None:
            if not stripped or indent > in_block:
                continue
            in_block = None
        if stripped.startswith(">>>"):
            in_example = True
            continue
        if in_example:
            if stripped:
                continue
            in_example = False
        if stripped.startswith(".. math::") or stripped.endswith("::"):
            in_block = indent
            if stripped.startswith(".. math::"):
                continue
        if _MATH_CHARS.search(_RENDERED.sub("", line)):
            found.append(stripped)
    return found


DOCUMENTED = [(name, obj.__doc__ or "") for name, obj in OBJECTS] + [
    (name, "\n".join(lines or [])) for name, lines in DATA]


@pytest.mark.parametrize("name, doc", DOCUMENTED, ids=[name for name, _ in DOCUMENTED])
def test_docstring_maths_is_markup(name, doc):
    """Maths in the API reference is TeX, typeset by MathJax as in the chapters."""
    lines = _unrendered_maths(doc)
    assert not lines, f"{name}: maths outside :math: roles: " + " | ".join(lines[:5])
