"""Explorers that work in a static web page: precomputed frames chosen by sliders in the browser.

An ipywidgets ``interact`` needs a running kernel: in the built book its sliders move but
nothing changes. :func:`frames_explorer` instead draws the figure at every point of a small
grid of slider values while the notebook runs, and lays the frames out as an ipywidgets
``Stack`` (one nested ``Stack`` per slider) whose visible child is linked to the sliders by
``jslink``. Links made with ``jslink`` live in the browser, so the widget state that the book
stores with the page is enough: the sliders choose among the frames with no kernel, offline.

With a running kernel (a local Jupyter or Binder, not the book build) the explorer also offers
the live computation: the same drawing function under ``interact``, with finer controls.
The book build sets the environment variable ``SHALLOWLEARN_STATIC_BUILD`` (see
``book/_ext/static_build.py``), which leaves the live controls out of the page.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import os
from typing import Callable

import numpy as np

__all__ = ["STATIC_BUILD", "frames_explorer", "static_build"]

#: The environment variable that marks the book build (no live controls in the page).
STATIC_BUILD = "SHALLOWLEARN_STATIC_BUILD"


def static_build() -> bool:
    """Whether the code runs inside the book build (``SHALLOWLEARN_STATIC_BUILD`` is set).

    Examples
    --------
    >>> from shallowlearn.explorers import static_build
    >>> isinstance(static_build(), bool)
    True
    """
    return bool(os.environ.get(STATIC_BUILD))


def _png(figure, dpi: int) -> str:
    """The figure as a base64 PNG, and the figure closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def frames_explorer(draw: Callable, sliders: dict, *, labels: dict | None = None,
                    alt: Callable | None = None, live: dict | None = None,
                    live_draw: Callable | None = None, dpi: int = 72):
    """An explorer whose sliders pick precomputed frames, so that it works without a kernel.

    Parameters
    ----------
    draw : callable
        ``draw(**values)`` returns a matplotlib figure for one choice of the slider values
        (one keyword per slider); it is called once per point of the grid, and the figure is
        closed after it is rendered.
    sliders : dict
        Slider name to the sequence of its values (at most three sliders; the grid is their
        product, so keep it small: every frame is stored in the page). The names are
        ``draw``'s keywords.
    labels : dict, optional
        Slider name to the label shown next to it (default: the name).
    alt : callable, optional
        ``alt(**values)`` gives each frame's alternative text (what it shows, for readers
        who do not see it); by default the slider values.
    live : dict, optional
        Widgets (or ``interact`` abbreviations) for the live path: with a running kernel
        outside the book build, ``draw`` is also offered under ``ipywidgets.interact`` with
        these controls.
    live_draw : callable, optional
        What the live controls drive, when it is not ``draw`` (for example the full function
        of which ``draw`` fixes some arguments); every key of ``live`` must be one of its
        keywords.
    dpi : int
        Resolution of the frames.

    Returns
    -------
    ipywidgets.VBox
        The sliders above the frames (and the live controls below them, when offered). Its
        ``frames`` attribute holds the number of precomputed frames.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from shallowlearn.explorers import frames_explorer
    >>> def draw(a):
    ...     fig, ax = plt.subplots(figsize=(2, 1.5))
    ...     ax.plot([0, 1], [0, a])
    ...     return fig
    >>> box = frames_explorer(draw, {"a": [1, 2, 3]})
    >>> box.frames
    3
    """
    import ipywidgets as widgets

    if not isinstance(sliders, dict) or not 1 <= len(sliders) <= 3:
        raise ValueError(f"sliders must be a dict of one to three sliders; got {sliders!r}")
    names = list(sliders)
    grids = []
    for name in names:
        values = list(sliders[name])
        if not values:
            raise ValueError(f"slider {name!r} must have at least one value")
        grids.append(values)
    if not callable(draw):
        raise TypeError(f"draw must be callable; got {type(draw).__name__}")
    live_draw = draw if live_draw is None else live_draw
    if live is not None:
        _check_keywords(live_draw, live)

    def frame(values: tuple):
        chosen = dict(zip(names, values))
        text = alt(**chosen) if alt is not None else ", ".join(
            f"{n} = {_text(v)}" for n, v in chosen.items())
        image = _png(draw(**chosen), dpi)
        return widgets.HTML(
            f'<img src="data:image/png;base64,{image}" alt="{html.escape(text, quote=True)}" '
            'style="max-width:100%">')

    controls = [
        widgets.SelectionSlider(options=[(_text(v), i) for i, v in enumerate(values)],
                                value=0, description=(labels or {}).get(name, name),
                                continuous_update=True, style={"description_width": "initial"},
                                layout=widgets.Layout(width="420px"))
        for name, values in zip(names, grids)
    ]

    def stack(depth: int, prefix: tuple):
        if depth == len(names):
            return frame(prefix)
        children = [stack(depth + 1, prefix + (value,)) for value in grids[depth]]
        node = widgets.Stack(children, selected_index=0)
        widgets.jslink((controls[depth], "index"), (node, "selected_index"))
        return node

    frames = stack(0, ())
    parts = [widgets.VBox(controls), frames]
    if live is not None and not static_build():
        output = widgets.interactive(lambda **values: _show(live_draw(**values)), **live)
        parts += [widgets.HTML("<b>Live</b> (computed by the running kernel):"), output]
    box = widgets.VBox(parts)
    box.add_class("shallowlearn-explorer")
    box.frames = int(np.prod([len(values) for values in grids]))
    return box


def _check_keywords(function: Callable, live: dict) -> None:
    """Refuse live controls that ``function`` has no keyword for (found when the explorer is
    made, not when a reader first moves a control)."""
    if not callable(function):
        raise TypeError(f"live_draw must be callable; got {type(function).__name__}")
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(live) - set(parameters))
    if unknown:
        raise ValueError(
            f"live has controls {unknown} that the function they drive does not take (its "
            f"keywords: {sorted(parameters)}); pass the full function as live_draw")


def _show(figure) -> None:
    """Display a figure in the live output and release it."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(figure)
    plt.close(figure)
