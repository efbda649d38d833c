"""The gradient tint and the layer views for composite blocks, through the real window:
a resnet8 run (scripted trainer) tints each composite by its inner layers combined, and the
blocks inside an entered composite by that instance's own layers."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

import math

import pytest
from test_ui_composites import double_click, ids
from test_ui_editor import boxes, make_window  # noqa: F401
from test_ui_training_scripted import ScriptedFactory

from netbuilder.ui.training.tint import gradient_tint

# the compiled layer names of the resnet8 template, as the real trainer reports them
RESNET8_LAYERS = (
    "stem.conv", "stem.bn",
    "layer1.conv1", "layer1.bn1", "layer1.conv2", "layer1.bn2",
    "layer2.conv1", "layer2.bn1", "layer2.conv2", "layer2.bn2",
    "layer2.downsample.0", "layer2.downsample.1",
    "layer3.conv1", "layer3.bn1", "layer3.conv2", "layer3.bn2",
    "layer3.downsample.0", "layer3.downsample.1",
    "fc",
)  # fmt: skip


@pytest.fixture
def trained(make_window, qtbot):
    w = make_window("resnet8", install_training=True)
    d = w.training
    d._trainer_factory = ScriptedFactory(steps_per_epoch=10, step_s=0.001, layers=RESNET8_LAYERS)
    try:
        assert d.start()
        assert d.wait(20)
        qtbot.waitUntil(lambda: "layer2" in _tips(w), timeout=5000)
        yield w
    finally:
        d.shutdown()


def _tips(w) -> dict[str, str]:
    """Block name -> its tint tooltip, for the graph the canvas shows."""
    return {
        w.scene.graph.nodes[nid].name: item.overlay_tooltip
        for nid, item in w.scene.node_items.items()
        if item.overlay_color is not None
    }


def _norms(w) -> dict[str, float]:
    from netbuilder.ui.training.tint import recent

    return {k: recent(s.y) for k, s in w.training.run.grad_norms.items()}


def _centre(norms) -> float:
    return math.exp(sum(math.log(v) for v in norms.values()) / len(norms))


def test_a_composite_is_tinted_by_its_inner_layers_combined(trained):
    w = trained
    norms = _norms(w)
    tips = _tips(w)
    assert {"stem", "layer1", "layer2", "layer3", "fc"} <= set(tips)
    inner = {k: v for k, v in norms.items() if k.startswith("layer2.")}
    assert len(inner) == 6
    expected = math.sqrt(sum(v * v for v in inner.values()))
    tip = tips["layer2"]
    assert "combined gradient L2 norm" in tip and f"{expected:.3g}" in tip
    assert "6 inner layers" in tip
    largest = max(inner, key=inner.get).removeprefix("layer2.")
    assert f"Largest: {largest}" in tip  # the largest inner layer named first
    assert "Double-click" in tip
    # coloured by the per-layer RMS against the network's layers, not by the sum
    rms = expected / math.sqrt(6)
    assert f"Per layer (RMS) {rms:.3g}" in tip
    colour, _ = gradient_tint(rms, _centre(norms))
    assert w.scene.node_items[ids(w, "layer2")[0]].overlay_color == colour
    assert "combined" not in tips["fc"]  # a plain layer keeps its own norm


def test_entering_a_composite_tints_its_blocks_by_that_instance(trained, qtbot):
    w = trained
    norms = _norms(w)
    double_click(qtbot, w, ids(w, "layer2")[0])
    assert w.composites.path and w.composites.path[-1][1] == "layer2"
    tips = _tips(w)
    assert f"{norms['layer2.conv1']:.3g}" in tips["conv1"]
    assert tips["conv1"].startswith("layer2.conv1:")
    # the Shortcut holds numbered layers: combined, without the double-click hint
    assert tips["downsample"].startswith("layer2.downsample: combined")
    assert "Double-click" not in tips["downsample"]
    assert "relu1" not in tips  # no parameters, no tint
    # inside, a selected block shows its own layer; feature maps say where they are shown
    d = w.training
    d._selection_changed(ids(w, "conv2")[0])
    assert d._selected_layer == "layer2.conv2"
    assert "top-level" in d.features.hint
    w.composites.leave()
    assert "combined" in _tips(w)["layer2"]  # back out: the composite is tinted again


def test_selecting_a_composite_shows_its_first_inner_layer(trained):
    w = trained
    d = w.training
    w.scene.select_nodes(ids(w, "layer3"))
    d._selection_changed(ids(w, "layer3")[0])
    assert d._selected_layer == "layer3.conv1"
