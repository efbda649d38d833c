"""The plots' tools: smoothing, x axis, zoom and reset, hover readout, legends off the data,
saving plots and metrics; and the synthetic-run demo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netbuilder.ui.training.demo import SyntheticRun
from netbuilder.ui.training.plot_theme import Theme
from netbuilder.ui.training.tools import EmaCache, ema, metrics_csv, write_metrics_csv, x_values


@pytest.fixture
def board(qtbot):
    from netbuilder.ui.training.board import PlotBoard

    b = PlotBoard(Theme())
    qtbot.addWidget(b)
    b.resize(1100, 640)
    b.show()
    qtbot.waitExposed(b)
    return b


def fed(board, steps=400):
    feed = SyntheticRun(steps_per_epoch=100, epochs=4)
    feed.advance(steps)
    board.grad_plot.set_layers(feed.run.layer_names)
    board.show_run(feed.run, None)
    return feed


def test_ema_is_tensorboards_debiased_average():
    y = np.array([1.0, 2.0, math.nan, 4.0])
    out = ema(y, 0.5)
    assert out[0] == pytest.approx(1.0)  # debiased: the first point is itself
    assert out[1] == pytest.approx((0.25 * 1 + 0.5 * 2) / 0.75)
    assert out[2] == pytest.approx(out[1])  # NaN keeps the last value
    assert np.allclose(ema(y[[0, 1, 3]], 0.0), [1, 2, 4])  # 0: the raw curve
    cache, owner = EmaCache(), object()
    long = np.random.default_rng(0).random(500)
    cache.smoothed(owner, long[:200], 0.9)
    assert np.allclose(cache.smoothed(owner, long, 0.9), ema(long, 0.9))


def test_x_by_epoch_and_wall_time():
    feed = SyntheticRun(steps_per_epoch=100, epochs=2)
    feed.advance(200)
    assert x_values(feed.run, [50, 200], "epoch").tolist() == [0.5, 2.0]
    assert x_values(feed.run, [100], "time")[0] == pytest.approx(1.2)


def test_smoothing_slider_redraws_the_smoothed_loss(board):
    feed = fed(board)
    before = board.loss_plot.smoothed.yData.copy()
    board.tools.slider.setValue(95)
    after = board.loss_plot.smoothed.yData
    assert not np.allclose(before, after)
    assert np.allclose(after, ema(feed.run.loss.y, 0.95))
    assert len(board.loss_plot.raw.xData) == 400  # the raw curve stays


def test_x_axis_choice_rescales_loss_and_gradients(board):
    fed(board)
    board.tools.x_mode.setCurrentIndex(1)  # epoch
    board.loss_plot.show_steps(board.run)
    board.grad_plot.show_run(board.run)
    assert board.loss_plot.raw.xData.max() == pytest.approx(4.0)
    assert board.grad_plot.curves["conv1"].xData.max() <= 4.0
    assert board.loss_plot.getPlotItem().getAxis("bottom").labelText == "epoch"


def test_mouse_zoom_stands_until_reset(board):
    feed = fed(board, 200)
    vb = board.loss_plot.getPlotItem().getViewBox()
    vb.scaleBy((0.3, 1.0))
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
    zoomed = vb.viewRange()[0]
    feed.advance(100)
    board.loss_plot.show_steps(feed.run)
    assert vb.viewRange()[0] == pytest.approx(zoomed)  # the run does not move the person's view
    board.tools.reset.click()
    assert not board.loss_plot.user_view
    assert vb.viewRange()[0][1] > zoomed[1]  # back to the whole run


def test_hover_reads_every_curve(board):
    fed(board)
    board.grad_plot.readout.show_at(205.0)
    lines = board.grad_plot.readout.lines
    assert lines[0].startswith("step") and len(lines) == 1 + 5
    assert all(name in " ".join(lines) for name in ("conv1", "fc2"))
    board.loss_plot.readout.show_at(200.0)
    assert any(line.startswith("smoothed:") for line in board.loss_plot.readout.lines)


def test_legends_sit_off_the_data(board):
    fed(board)
    for plot in (board.loss_plot, board.accuracy_plot, board.grad_plot):
        item = plot.getPlotItem()
        legend, vb = item.legend.sceneBoundingRect(), item.getViewBox().sceneBoundingRect()
        if item.legend.isVisible() and item.legend.items:
            assert not legend.intersects(vb.adjusted(0, 1, 0, 0)), type(plot).__name__


def test_save_plot_png_svg_and_metrics_csv(board, tmp_path):
    feed = fed(board)
    png = board.save_plot_to("loss", tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = board.save_plot_to("gradients", tmp_path / "g.svg")
    assert "<svg" in svg.read_text()
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    text = metrics_csv(feed.run)
    header, *rows = text.strip().split("\n")
    assert header.startswith("step,epoch,seconds,loss,loss_smoothed,test_loss,test_accuracy")
    assert "grad_norm.conv1" in header and len(rows) == 400
    end_of_epoch = rows[99].split(",")
    assert end_of_epoch[0] == "100" and end_of_epoch[1] == "1" and end_of_epoch[6] != ""
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        write_metrics_csv(feed.run, tmp_path / "dir.csv")


def test_demo_renders_a_synthetic_run(tmp_path, qtbot):
    from netbuilder.ui.training.demo import main

    out = tmp_path / "demo.png"
    assert main(["--epochs", "2", "--save", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def _diagnosed_run(update=1e-3, dead=0.1, vanish=False):
    feed = SyntheticRun(steps_per_epoch=100, epochs=2)
    feed.advance(100)
    feed.run.update_ratio, feed.run.dead_fraction, feed.run.quantiles = {}, {}, {}
    for step in range(10, 101, 10):
        ratios = {name: update for name in feed.run.layer_names}
        quant = {name: np.array([-0.2, -0.1, 0.0, 0.1, 0.2]) for name in feed.run.layer_names}
        feed.run.add_diagnostics(step, ratios, {"relu1": dead}, quant, quant)
        if vanish:
            feed.run.add_grad_norms(step, {"conv1": 1e-9})
    return feed.run


def test_warnings_name_the_block_in_plain_words():
    from netbuilder.ui.training.diagnosis import diagnose

    assert diagnose(_diagnosed_run()) == []
    kinds = {(w.block, w.kind) for w in diagnose(_diagnosed_run(update=0.3, dead=0.8))}
    assert ("conv1", "update-high") in kinds and ("relu1", "dead") in kinds
    vanishing = [w for w in diagnose(_diagnosed_run(vanish=True)) if w.kind == "vanishing"]
    assert vanishing and vanishing[0].block == "conv1"
    assert vanishing[0].text.startswith("conv1: its gradient is vanishing")
    low = diagnose(_diagnosed_run(update=1e-8))
    assert all(w.kind == "update-low" for w in low) and "too low" in low[0].text


def test_diagnostic_views_draw_ratio_band_dead_units_and_quantiles(board):
    run = _diagnosed_run(update=2e-3, dead=0.25)
    board.grad_plot.set_layers(run.layer_names)
    board.show_run(run, None)
    curve = board.update_plot.curves["conv1"]
    assert len(curve.xData) == 10 and np.allclose(curve.yData, 2e-3)
    lo, hi = board.update_plot.band.getRegion()
    assert (lo, hi) == pytest.approx((-4, -2))  # the healthy band, log10 units
    board.views.setCurrentWidget(board.dead_plot)
    board.dead_plot.show_run(run)
    assert np.allclose(board.dead_plot.curves["relu1"].yData, 25.0)
    board.views.setCurrentWidget(board.distributions)
    board.distributions.show_layer(run, "fc1")
    _w, lines, median = board.distributions.plots["weight"]
    assert np.allclose(median.yData, 0.0) and np.allclose(lines[0].yData, -0.2)
    assert "fc1" in _w.getPlotItem().titleLabel.text


def test_header_warning_links_select_the_block(qtbot):
    from PySide6.QtGui import QAction

    from netbuilder.ui.training.header import TrainingHeader

    acts = [QAction(t) for t in ("T", "P", "S", "W", "E")]
    header = TrainingHeader(*acts)
    qtbot.addWidget(header)
    header.show_warnings(
        [("conv1", "conv1: its gradient is vanishing (norm 1e-09).")], {"conv1": "n2"}
    )
    assert "href='n2'" in header.warning_label.text() and not header.warning_label.isHidden()
    with qtbot.waitSignal(header.blockChosen) as sig:
        header.warning_label.linkActivated.emit("n2")
    assert sig.args == ["n2"]
    header.show_warnings([], {})
    assert header.warning_label.isHidden()



def test_the_gradient_legend_fits_its_plot_or_gives_way(board, qtbot):
    from netbuilder.ui.training.runs import RunCurves

    plot = board.grad_plot
    run = RunCurves()
    few = ["conv1", "conv2", "fc1", "fc2", "fc3"]
    run.layer_names = few
    run.add_grad_norms(10, dict.fromkeys(few, 1.0))
    plot.show_run(run)
    legend = plot.getPlotItem().legend
    assert legend.isVisible() and legend.columnCount >= 2  # LeNet's five layers are listed
    # a deep network's names would fill the plot: the legend gives way to the curves
    many = [f"layer{i // 6}.block{i % 6}.conv" for i in range(21)]
    run.layer_names = many
    run.add_grad_norms(20, dict.fromkeys(many, 1.0))
    plot.show_run(run)
    assert not legend.isVisible() and legend.maximumHeight() == 0
