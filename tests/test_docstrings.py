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
