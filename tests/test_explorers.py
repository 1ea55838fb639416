"""Precomputed explorers: a frame per grid point, sliders linked to the frames in the browser,
live controls only outside the book build."""

import base64

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
from ipywidgets.widgets import widget_link  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from shallowlearn.explorers import STATIC_BUILD, frames_explorer  # noqa: E402


def draw(a, b="x"):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, a])
    ax.set_title(b)
    return fig


def _leaves(widget):
    if isinstance(widget, widgets.Stack):
        return [leaf for child in widget.children for leaf in _leaves(child)]
    return [widget]


def test_two_sliders_nested_stacks_and_links(monkeypatch):
    monkeypatch.setenv(STATIC_BUILD, "1")
    box = frames_explorer(draw, {"a": [1, 2, 3], "b": ["x", "y"]},
                          alt=lambda a, b: f"a line of slope {a}, titled {b}",
                          live={"a": (0.0, 3.0)})
    assert box.frames == 6 and "shallowlearn-explorer" in box._dom_classes
    controls, frames = box.children  # no live controls in the static build
    sliders = controls.children
    assert [s.description for s in sliders] == ["a", "b"]
    assert [label for label, _ in sliders[0].options] == ["1", "2", "3"]
    leaves = _leaves(frames)
    assert len(leaves) == 6
    images = {leaf.value for leaf in leaves}
    assert len(images) == 6  # every frame differs
    assert 'alt="a line of slope 2, titled y"' in leaves[3].value
    png = leaves[0].value.split("base64,")[1].split('"')[0]
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    # the links that work without a kernel: slider index -> stack selection
    links = [w for w in widgets.Widget.widgets.values() if isinstance(w, widget_link.Link)]
    pairs = {(l.source[0].model_id, l.target[0].model_id) for l in links}
    assert (sliders[0].model_id, frames.model_id) in pairs
    assert all((sliders[1].model_id, inner.model_id) in pairs for inner in frames.children)


def test_live_controls_outside_the_book_build(monkeypatch):
    monkeypatch.delenv(STATIC_BUILD, raising=False)
    box = frames_explorer(draw, {"a": [1, 2]}, live={"a": (0.0, 3.0)})
    assert len(box.children) == 4 and isinstance(box.children[3], widgets.interactive)
    assert len(frames_explorer(draw, {"a": [1, 2]}).children) == 2  # none asked for


@pytest.mark.parametrize("sliders, error", [({}, ValueError), ({"a": []}, ValueError),
                                            ([1, 2], ValueError)])
def test_bad_sliders(sliders, error):
    with pytest.raises(error, match="slider"):
        frames_explorer(draw, sliders)


def test_live_controls_drive_live_draw(monkeypatch):
    monkeypatch.delenv(STATIC_BUILD, raising=False)
    # the frames fix b; the live controls set both, through the full function
    box = frames_explorer(lambda a: draw(a, "fixed"), {"a": [1, 2]},
                          live={"a": (0.0, 3.0), "b": ["x", "y"]}, live_draw=draw)
    live = box.children[3]
    assert [c.description for c in live.children[:2]] == ["a", "b"]
    # a control that the driven function does not take is refused when the explorer is made
    with pytest.raises(ValueError, match=r"controls \['b'\] .* pass the full function"):
        frames_explorer(lambda a: draw(a, "fixed"), {"a": [1, 2]},
                        live={"a": (0.0, 3.0), "b": ["x", "y"]})
    with pytest.raises(TypeError, match="live_draw must be callable"):
        frames_explorer(draw, {"a": [1, 2]}, live={"a": (0.0, 3.0)}, live_draw=3)
