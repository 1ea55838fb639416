"""Let a plain ``pytest`` validate the book's chapters with nbval.

Every MyST-markdown chapter in this folder that declares a kernelspec is read with jupytext
and handed to nbval, which runs it cell by cell in a fresh kernel. Each cell is a test item, so
a failing ``assert`` in a chapter fails the run. No converted files are written, and the kernel
runs in this folder, as it does during the book build.
"""

from unittest import mock

import jupytext
import nbformat
from nbval.plugin import IPyNbFile


def _is_chapter(file_path) -> bool:
    if file_path.suffix != ".md":
        return False
    with open(file_path, encoding="utf-8") as fh:
        head = fh.read(2000)
    return head.startswith("---") and "\nkernelspec:" in head


class MystNotebook(IPyNbFile):
    """nbval's notebook collector, reading the MyST source through jupytext."""

    def collect(self):
        with mock.patch.object(nbformat, "read", lambda path, as_version: jupytext.read(path)):
            yield from super().collect()


def pytest_collect_file(file_path, parent):
    if _is_chapter(file_path):
        return MystNotebook.from_parent(parent, path=file_path)
