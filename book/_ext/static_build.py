"""Mark the book build for the chapters' explorers.

Sets ``SHALLOWLEARN_STATIC_BUILD`` in the build's environment, which the kernels that execute
the chapters inherit: :func:`shallowlearn.explorers.frames_explorer` then leaves out its live
controls, which would do nothing in a page without a kernel, and keeps the precomputed frames
that the sliders choose in the browser.
"""

import os

from shallowlearn.explorers import STATIC_BUILD


def setup(app):
    os.environ[STATIC_BUILD] = "1"
    return {"parallel_read_safe": True, "parallel_write_safe": True}
