"""What a walk through the editor under Xvfb showed: texts that fit, an empty canvas that says
what to do, a status bar whose messages can be read, help that lists every shortcut."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication
from test_ui_editor import blank, boxes, drop_block, make_window, node, window  # noqa: F401

from netbuilder.blocks import CATALOGUE
from netbuilder.graph import commands as cmds
from netbuilder.ui.canvas.items import NODE_WIDTH


def test_every_block_type_shows_its_full_type_name(make_window):
    """A long type ("AdaptiveAvgPool2d") beside a short name used to read "AdaptiveAv…"."""
    w = make_window(None)
    for i, type_name in enumerate(CATALOGUE):
        cmd = cmds.AddNode(type_name, (0, i * 100))
        w.runner.push(cmd)
        item = w.scene.node_items[cmd.node_id]
        texts = item._texts()
        label = CATALOGUE[type_name].label
        assert label in (texts.type_label, texts.count), (type_name, texts)
        assert "…" not in texts.name + texts.type_label + texts.count, texts
    gap = w.graph.node_by_name("adaptiveavgpool1") or next(
        n for n in w.graph.nodes.values() if n.type == "AdaptiveAvgPool2d"
    )
    # pooling has no parameters: its type takes the count's place on the second line
    assert w.scene.node_items[gap.id]._texts().count == "AdaptiveAvgPool2d"


def test_a_wire_label_with_no_room_between_blocks_is_hidden_not_clipped(blank):
    w = blank
    ids = {n.name: n.id for n in w.graph.nodes.values()}
    w.runner.push(cmds.Connect(ids["input1"], ids["relu1"], 0))
    edge = w.graph.edges[0]
    item = w.scene.edge_items[edge]
    assert item.label == "1x28x28" and item.label_shown  # 100 px apart: room enough
    w.runner.push(cmds.MoveNodes({ids["relu1"]: (NODE_WIDTH + 40, 0.0)}))
    assert not item.label_shown  # 40 px apart: the label would sit under the blocks
    assert not item.shape().contains(item._label_rect.center())
    w.runner.undo()
    assert item.label_shown


def test_empty_canvas_says_how_to_start_and_the_hint_goes_with_the_first_block(blank):
    w = blank
    assert w.canvas.empty_hint() == ""
    w.new_blank()
    assert "Drag blocks here" in w.canvas.empty_hint() and "Tab" in w.canvas.empty_hint()
    assert w.problem_rows() == []
    assert "Empty network" in w.problems.item(0).text()  # not "✔ No problems"
    drop_block(w, "Input", w.canvas.center_scene_pos())
    assert w.canvas.empty_hint() == ""
    w.canvas.viewport().grab()  # paints with and without the hint without error
    # an Input alone has a problem; wired to nothing further it is "not ready", never "✔"
    assert w.problem_rows()


def test_status_bar_labels_are_short_and_explained_by_tooltips(blank):
    w = blank
    w.new_blank()
    from netbuilder.graph.templates import load_template

    w.replace_project(load_template("lenet"), None)
    assert w.params_label.text() == "61,706 parameters"
    assert w.memory_label.text().startswith("memory ≈ ") and "(batch 64)" in w.memory_label.text()
    assert "batch 1" in w.memory_label.toolTip() and "61.7k" in w.params_label.toolTip()
    # room for a refusal message: the permanent labels take well under half the bar
    widths = sum(lbl.sizeHint().width() for lbl in (w.params_label, w.memory_label))
    assert widths < w.statusBar().width() / 2


def test_help_lists_every_menu_shortcut_and_the_canvas_gestures(qtbot, make_window):
    w = make_window("lenet", install_training=True)
    rows = w.shortcut_rows()
    listed = {(menu, keys) for menu, _, keys in rows}
    for menu_action in w.menuBar().actions():
        for action in menu_action.menu().actions():
            for key in action.shortcuts():
                native = key.toString(QKeySequence.NativeText)
                assert any(native in keys for m, keys in listed), (action.text(), native)
    commands = {cmd for _, cmd, _ in rows}
    assert {"Undo", "Redo", "Save As", "Export", "Auto Layout", "Keyboard Shortcuts"} <= commands
    assert any("Tab" in keys for _, _, keys in rows)
    # F1 opens it; the filter narrows the table
    w.act_shortcuts.trigger()
    dialog = w._shortcuts_dialog
    qtbot.waitExposed(dialog)
    dialog.filter.setText("layout")
    shown = [
        dialog.table.item(r, 1).text()
        for r in range(dialog.table.rowCount())
        if not dialog.table.isRowHidden(r)
    ]
    assert shown == ["Auto Layout"]
    dialog.close()
    assert "Add Block…\tTab" == w.act_add.text().replace("&", "")


def test_about_names_the_version_and_the_libraries(make_window):
    w = make_window(None)
    text = w.about_text()
    for part in ("NetBuilder", "Qt ", "PySide6 ", "numpy ", "Python ", "block types"):
        assert part in text


def test_export_of_an_invalid_network_names_and_shows_the_first_problem(make_window, boxes):
    w = make_window("lenet")
    fc1 = node(w, "fc1")
    w.runner.push(cmds.SetParams(fc1.id, {"in_features": 100}))
    w.scene.clearSelection()
    w.act_export.trigger()
    kind, title, text = boxes[-1]
    assert kind == "critical" and "fc1: in_features is 100" in text
    assert w.scene.selected_node_ids() == [fc1.id]
    QApplication.processEvents()
    visible = w.canvas.mapToScene(w.canvas.viewport().rect()).boundingRect()
    assert visible.contains(w.scene.node_items[fc1.id].sceneBoundingRect().center())


def test_a_problem_on_a_block_face_reads_without_repeating_the_name(make_window):
    w = make_window(None)
    cmd = cmds.AddNode("Dropout", (0, 0))
    w.runner.push(cmd)
    item = w.scene.node_items[cmd.node_id]
    assert w.graph.nodes[cmd.node_id].problems[0].startswith("dropout1 is not connected")
    assert item._texts().line3.startswith("⚠ Not connected")
    full = item.toolTip()
    assert "dropout1 is not connected" in full  # the tooltip keeps the whole sentence


def test_after_a_palette_drop_the_keys_act_on_the_new_block(qtbot, blank):
    w = blank
    w.palette.tree.setFocus()
    assert w.palette.tree.hasFocus()
    drop_block(w, "Sigmoid", w.canvas.center_scene_pos())
    assert w.canvas.hasFocus()
    sigmoid = next(n.id for n in w.graph.nodes.values() if n.type == "Sigmoid")
    assert w.scene.selected_node_ids() == [sigmoid]
    qtbot.keyClick(w.canvas, Qt.Key_Delete)
    assert sigmoid not in w.graph.nodes


def test_toolbar_tooltips_name_the_shortcut(window):
    w = window
    assert w.act_fit.toolTip() == "Fit to View (F)"
    assert w.act_layout.toolTip() == "Auto Layout (L)"
    assert w.act_save.toolTip() == "Save (Ctrl+S)"
    toolbar = [a for a in w.toolbar.actions() if not a.isSeparator()]
    assert toolbar and all(not a.icon().isNull() for a in toolbar)  # Export had none
    w.runner.push(cmds.SetParams(node(w, "fc2").id, {"out_features": 50}))
    assert w.act_undo.toolTip() == "Undo Change fc2 out_features (Ctrl+Z)"


def test_problem_texts_keep_parameter_names_and_do_not_repeat_block_names(make_window):
    w = make_window("lenet")
    fc1 = node(w, "fc1")
    w.runner.push(cmds.SetParams(fc1.id, {"in_features": 256}))
    assert w.scene.node_items[fc1.id]._texts().line3.startswith("⚠ in_features is 256")
    cmd = cmds.AddNode("ReLU", (0, 900))
    w.runner.push(cmd)
    rows = dict(w.problem_rows())
    assert rows[cmd.node_id].startswith("relu5 is not connected")  # not "relu5: relu5 is ..."
    assert rows[fc1.id].startswith("fc1: in_features is 256")


def test_several_selected_blocks_are_summarised_in_the_inspector(window):
    w = window
    w.scene.select_nodes([node(w, "conv1").id, node(w, "relu1").id])
    assert w.inspector.title.text() == "2 blocks selected"
    text = w.inspector.description.text()
    assert text.startswith("conv1, relu1\n156 parameters in all.") and "Delete" in text


def test_node_tooltip_keeps_its_short_lines_whole(window):
    tip = window.scene.node_items[node(window, "fc1").id].toolTip()
    assert "<nobr>output 120, 48,120 parameters</nobr>" in tip


def test_recent_menu_disables_missing_files_and_can_be_cleared(make_window, tmp_path):
    w = make_window(None)
    gone = tmp_path / "gone.nbproj"
    w.settings.setValue("recentFiles", [str(gone)])
    w.recent_menu.aboutToShow.emit()
    entry = next(a for a in w.recent_menu.actions() if a.data())
    assert not entry.isEnabled() and "no longer there" in entry.toolTip()
    clear = next(a for a in w.recent_menu.actions() if a.text() == "Clear Menu")
    clear.trigger()
    assert w.recent_files() == []
    w.recent_menu.aboutToShow.emit()
    assert [a.text() for a in w.recent_menu.actions()] == ["(no recent files)"]


def test_cached_canvas_background_follows_a_theme_switch(window):
    """The grid is cached by the view; switching light/dark must not leave the old one."""
    from netbuilder.ui import theme

    app = QApplication.instance()
    saved = (app.palette(), app.styleSheet(), app.font(), theme.current())
    vp = window.canvas.viewport()

    def corner_lightness():
        window.canvas.centerOn(-15000, -15000)  # far from every block: background only
        image = vp.grab().toImage()
        return image.pixelColor(image.width() // 2 + 7, image.height() // 2 + 7).lightness()

    try:
        theme.apply(app, dark=False)
        window.retheme()
        light = corner_lightness()
        theme.apply(app, dark=True)
        window.retheme()
        dark = corner_lightness()
        assert dark < 80 < light
    finally:
        app.setPalette(saved[0])
        app.setStyleSheet(saved[1])
        app.setFont(saved[2])
        theme._current = saved[3]
        window.retheme()
