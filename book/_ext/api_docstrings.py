"""Let the package's plain-text numpydoc docstrings build strictly in the API reference.

The docstrings of ``shallowlearn`` are written to be read in a terminal (``help()``), with
Unicode mathematics such as ``|λ_min|`` and ``‖H‖₂``. Read as reStructuredText by
``sphinx.ext.autodoc`` and ``sphinx.ext.napoleon``, three habits of that style would warn under
``-W -n``; this extension handles them without changing the package:

* ``|x|`` (an absolute value) is reStructuredText's substitution syntax ("Undefined substitution
  referenced"): every ``|`` outside literals, code and doctest blocks is escaped;
* an inline literal followed directly by a letter or digit, as in ````grad_rtol````\\ ``²``, is not
  closed ("Inline literal start-string without end-string"): an escaped space is put after it;
* the first line of a property's or constant's docstring, "The swept quantity: ...", is read
  by napoleon as "type: description", which makes "The swept quantity" a type to cross-reference:
  such a docstring starts with an empty comment (``..``), so the whole docstring stays the
  description (the type comes from the annotation).

It also resolves references that the Python domain cannot: names re-exported by the package
(``shallowlearn.get_activation``), names imported into the referencing module
(``Objective.hessian`` in ``shallowlearn.spectrum``), and dataclass fields, which the docstrings'
*Attributes* sections describe inside their class (``BatchResult.history``: a link to the class),
as are private methods, which the reference leaves out (``Objective._value_and_grad``).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

from sphinx.application import Sphinx

PACKAGE = "shallowlearn"

# ``literal`` or :role:`text` (kept as they are)
_PROTECTED = re.compile(r"(``.+?``|:[\w:+-]+:`[^`]*`)")
# a letter or digit (Unicode superscripts and subscripts included)
_WORD_START = re.compile(r"[^\W_]")


def _escape_line(line: str) -> str:
    parts = _PROTECTED.split(line)
    for i in range(0, len(parts), 2):  # even items are outside literals and roles
        parts[i] = re.sub(r"(?<!\\)\|", r"\\|", parts[i])
        # a literal directly followed by a letter or digit (``x``²) is not closed in RST
        if i > 0 and parts[i - 1].startswith("``") and _WORD_START.match(parts[i]):
            parts[i] = "\\ " + parts[i]
    return "".join(parts)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _escape_docstring(lines: list[str]) -> list[str]:
    out = []
    literal_indent = None  # inside an indented literal block (after "::") or a code directive
    doctest = False
    previous = ""
    for line in lines:
        stripped = line.strip()
        if literal_indent is not None:
            if stripped and _indent(line) <= literal_indent:
                literal_indent = None
            else:
                out.append(line)
                previous = line
                continue
        if doctest:
            if not stripped:
                doctest = False
            out.append(line)
            previous = line
            continue
        if stripped.startswith(">>>"):
            doctest = True
            out.append(line)
            previous = line
            continue
        if stripped.startswith(".. ") and (stripped.endswith("::") or "::" in stripped.split()[1]):
            literal_indent = _indent(line)  # a directive's body (code-block, math, ...)
            out.append(line)
            previous = line
            continue
        out.append(_escape_line(line))
        if stripped.endswith("::"):
            literal_indent = _indent(line)
        previous = line
    del previous
    return out


def _process_docstring(app: Sphinx, what: str, name: str, obj, options, lines: list[str]) -> None:
    if not name.startswith(PACKAGE):
        return
    lines[:] = _escape_docstring(lines)
    if what in ("attribute", "data", "property") and lines and lines[0].strip():
        lines[:0] = ["..", ""]  # an empty comment: napoleon finds no "type:" in it


def _locate(dotted: str):
    """The object named ``dotted`` (``module.attr.attr``), its parent, and its last name."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        parent = None
        for attr in parts[cut:]:
            parent = obj
            if dataclasses.is_dataclass(obj) and inspect.isclass(obj) and attr in {
                f.name for f in dataclasses.fields(obj)
            }:
                return obj, None, attr  # a field: documented in its class's Attributes section
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                return None
        return obj, parent, parts[-1]
    return None


def _canonical(found) -> tuple[str, str] | None:
    """The documented name and object type of what ``_locate`` found."""
    obj, parent, attr = found
    if parent is None and inspect.isclass(obj) and dataclasses.is_dataclass(obj) and attr:
        if attr in {f.name for f in dataclasses.fields(obj)}:
            return f"{obj.__module__}.{obj.__qualname__}", "class"
    if inspect.isclass(parent) and parent.__module__.startswith(PACKAGE) and attr.startswith("_"):
        return f"{parent.__module__}.{parent.__qualname__}", "class"  # private: link to its class
    if inspect.ismodule(obj):
        return obj.__name__, "mod"
    if inspect.isclass(obj) or inspect.isfunction(obj):
        if getattr(obj, "__module__", "").startswith(PACKAGE) and "<" not in obj.__qualname__:
            return f"{obj.__module__}.{obj.__qualname__}", "obj"
    if inspect.isclass(parent) and parent.__module__.startswith(PACKAGE):
        return f"{parent.__module__}.{parent.__qualname__}.{attr}", "obj"
    return None


def _missing_reference(app: Sphinx, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    candidates = [target]
    module = node.get("py:module")
    if module and not target.startswith(PACKAGE):
        candidates.insert(0, f"{module}.{target}")
    domain = env.get_domain("py")
    for candidate in candidates:
        if not candidate.startswith(PACKAGE + ".") and candidate != PACKAGE:
            continue
        found = _locate(candidate)
        if found is None:
            continue
        resolved = _canonical(found)
        if resolved is None or resolved[0] == target:
            continue
        name, reftype = resolved
        hit = domain.resolve_xref(env, node["refdoc"], app.builder, reftype, name, node, contnode)
        if hit is not None:
            return hit
    return None


def setup(app: Sphinx) -> dict:
    # before napoleon (priority 500), which must see the empty comment heading attributes
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
    app.connect("missing-reference", _missing_reference)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
