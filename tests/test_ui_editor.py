"""The canvas editor driven through its real widgets (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from netbuilder.graph import commands as cmds
from netbuilder.ui.canvas.items import NODE_HEIGHT, NODE_WIDTH
from netbuilder.ui.mainwindow import MainWindow


@pytest.fixture
def boxes(monkeypatch):
    """Every message box answers at once (its default) and is recorded."""
    calls = []

    def fake(kind, default):
        def box(parent, title, text, *args, **kwargs):
            calls.append((kind, title, text))
            return default

        return box

    monkeypatch.setattr(QMessageBox, "critical", fake("critical", QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "warning", fake("warning", QMessageBox.Discard))
    monkeypatch.setattr(QMessageBox, "information", fake("information", QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "question", fake("question", QMessageBox.Yes))
    return calls


@pytest.fixture
def make_window(qtbot, tmp_path, boxes):
    from PySide6.QtCore import QSettings

    def make(template: str | None = "lenet", **kwargs):
        kwargs.setdefault("install_training", False)
        w = MainWindow(
            settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
            recovery_dir=tmp_path / "recovery",
            **kwargs,
        )
        qtbot.addWidget(w)
        w.resize(1440, 900)  # the offscreen screen is 800x800: size it like a desktop
        if template:
            w.load_template(template)
        w.show()
        qtbot.waitExposed(w)
        w.activateWindow()
        w.canvas.setFocus()
        w.canvas.fit()
        QApplication.processEvents()
        return w

    return make


@pytest.fixture
def window(make_window):
    return make_window("lenet")


@pytest.fixture
def blank(make_window):
    """An empty project with input -> relu (unwired) and a Linear, placed by commands."""
    w = make_window(None)
    for type_, pos in (("Input", (0, 0)), ("ReLU", (260, 0)), ("Linear", (520, 0))):
        w.runner.push(cmds.AddNode(type_, pos))
    w.canvas.fit()
    QApplication.processEvents()
    return w


def node(w, name):
    n = w.graph.node_by_name(name)
    assert n is not None, name
    return n


def snapshot(w):
    return w.graph.to_dict()


def view_pos(w, scene_point: QPointF) -> QPoint:
    return w.canvas.mapFromScene(scene_point)


def out_port(w, name):
    return w.scene.node_items[node(w, name).id].out_port.scenePos()


def in_port(w, name, index=0):
    return w.scene.node_items[node(w, name).id].in_ports[index].scenePos()


def drag(qtbot, w, a: QPointF, b: QPointF, steps=6, button=Qt.LeftButton, modifier=Qt.NoModifier):
    vp = w.canvas.viewport()
    qtbot.mousePress(vp, button, modifier, view_pos(w, a))
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        qtbot.mouseMove(vp, view_pos(w, p))
    qtbot.mouseRelease(vp, button, modifier, view_pos(w, b))


def drop_block(w, type_name: str, scene_point: QPointF) -> None:
    """Offscreen a real QDrag drops nothing: send the events a drop would (QT_TESTING.md)."""
    mime: QMimeData = w.palette.tree.mimeData([w.palette.item_for(type_name)])
    vp = w.canvas.viewport()
    pos = QPointF(view_pos(w, scene_point))
    for cls in (QDragEnterEvent, QDragMoveEvent):
        ev = cls(pos.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(vp, ev)
        assert ev.isAccepted()
    drop = QDropEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(vp, drop)
    assert drop.isAccepted()


def key(qtbot, w, k, mod=Qt.NoModifier):
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, k, mod)


# -- window basics -----------------------------------------------------------------------


def test_lenet_window_title_status_and_faces(window):
    assert window.windowTitle() == "lenet[*]" and not window.isWindowModified()
    assert "61,706 parameters" in window.params_label.text()
    assert "valid" in window.valid_label.text()
    assert "batch 64" in window.memory_label.text()
    conv1 = window.scene.node_items[node(window, "conv1").id]
    assert (conv1.name, conv1.summary, conv1.out_shape, conv1.param_count) == (
        "conv1",
        "6@5x5",
        (6, 28, 28),
        156,
    )
    pool2_to_flatten = next(
        item for e, item in window.scene.edge_items.items() if e.src == node(window, "pool2").id
    )
    assert pool2_to_flatten.label == "16x5x5"
    assert window.problem_rows() == []
    assert "No problems" in window.problems.item(0).text()


def test_palette_drop_places_block_at_drop_point(window):
    target = window.canvas.mapToScene(window.canvas.viewport().rect().bottomLeft()) + QPointF(
        200, -80
    )
    before = set(window.graph.nodes)
    drop_block(window, "Dropout", target)
    (new_id,) = set(window.graph.nodes) - before
    n = window.graph.nodes[new_id]
    assert n.type == "Dropout"
    assert abs(n.pos[0] + NODE_WIDTH / 2 - target.x()) < 2
    assert abs(n.pos[1] + NODE_HEIGHT / 2 - target.y()) < 2
    assert window.scene.selected_node_ids() == [new_id]
    assert window.runner.stack.undoText() == "Add Dropout"


def test_palette_search_and_double_click_adds_at_view_centre(qtbot, window):
    window.palette.search.setText("batchnorm 2d")
    # the block itself first; composites that hold one (ConvBNReLU) are listed after it
    assert window.palette.visible_types()[0] == "BatchNorm2d"
    assert all(t.startswith("composite:") for t in window.palette.visible_types()[1:])
    window.palette.search.clear()
    window.canvas.centerOn(QPointF(3000, 3000))  # an empty part of the canvas
    tree = window.palette.tree
    item = window.palette.item_for("Tanh")
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    for _ in range(2):
        qtbot.mouseClick(tree.viewport(), Qt.LeftButton, pos=rect.center())
        qtbot.mouseDClick(tree.viewport(), Qt.LeftButton, pos=rect.center())
    added = [n for n in window.graph.nodes.values() if n.type == "Tanh"]
    assert len(added) == 2
    centre = window.canvas.center_scene_pos()
    assert abs(added[0].pos[0] + NODE_WIDTH / 2 - centre.x()) < 2
    assert abs(added[0].pos[1] + NODE_HEIGHT / 2 - centre.y()) < 2
    # a second one at the same spot fans out instead of hiding the first
    assert (added[1].pos[0] - added[0].pos[0], added[1].pos[1] - added[0].pos[1]) == (30, 30)


def test_tab_opens_quick_add_at_cursor(qtbot, window):
    key(qtbot, window, Qt.Key_Tab)
    popup = window.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.edit, "leaky")
    assert popup.list.count() == 1
    qtbot.keyClick(popup.edit, Qt.Key_Return)
    assert not popup.isVisible()
    assert any(n.type == "LeakyReLU" for n in window.graph.nodes.values())


def test_space_quick_add_places_block_under_the_cursor(qtbot, window):
    from PySide6.QtGui import QCursor

    vp = window.canvas.viewport()
    spot = QPoint(vp.width() - 120, vp.height() - 60)
    QCursor.setPos(vp.mapToGlobal(spot))
    key(qtbot, window, Qt.Key_Space)
    popup = window.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.edit, "softmax")  # Softmax, then LogSoftmax
    assert popup.list.currentRow() == 0
    qtbot.keyClick(popup.edit, Qt.Key_Down)  # arrows move in the list while typing
    assert popup.list.currentRow() == min(1, popup.list.count() - 1)
    qtbot.keyClick(popup.edit, Qt.Key_Up)
    qtbot.keyClick(popup.edit, Qt.Key_Return)
    (soft,) = [n for n in window.graph.nodes.values() if n.type == "Softmax"]
    if QCursor.pos() == vp.mapToGlobal(spot):  # platforms that let us move the cursor
        expected = window.canvas.mapToScene(spot)
        assert abs(soft.pos[0] + NODE_WIDTH / 2 - expected.x()) < 2
    key(qtbot, window, Qt.Key_Tab)
    qtbot.keyClick(popup.edit, Qt.Key_Escape)
    assert not popup.isVisible()
    assert sum(n.type == "Softmax" for n in window.graph.nodes.values()) == 1


def _body_colour(item):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionGraphicsItem

    img = QImage(int(NODE_WIDTH), int(NODE_HEIGHT), QImage.Format_ARGB32)
    img.fill(0)
    p = QPainter(img)
    item.paint(p, QStyleOptionGraphicsItem(), None)
    p.end()
    return img.pixelColor(int(NODE_WIDTH) - 20, int(NODE_HEIGHT) - 8)


def test_dark_palette_switch_recolours_canvas(window):
    from netbuilder.ui import theme

    app = QApplication.instance()
    saved = (app.palette(), app.styleSheet(), app.font(), theme.current())
    item = window.scene.node_items[node(window, "fc3").id]
    try:
        theme.apply(app, dark=False)
        light = _body_colour(item)
        theme.apply(app, dark=True)
        window.retheme()
        dark = _body_colour(item)
        assert app.palette().window().color() == theme.DARK.window
        assert dark.lightness() < 80 < light.lightness()
        theme.apply(app, dark=False)
        assert _body_colour(item) == light
    finally:  # leave the shared QApplication as the other tests expect it
        app.setPalette(saved[0])
        app.setStyleSheet(saved[1])
        app.setFont(saved[2])
        theme._current = saved[3]


# -- wiring -------------------------------------------------------------------------------


def test_connect_two_ports_by_mouse_drag(qtbot, blank):
    w = blank
    drag(qtbot, w, out_port(w, "input1"), in_port(w, "relu1"))
    assert [(e.src, e.dst) for e in w.graph.edges] == [(node(w, "input1").id, node(w, "relu1").id)]
    assert w.runner.stack.undoText().startswith("Connect")
    assert node(w, "relu1").out_shape == (1, 28, 28)
    # drag backwards: from an input port to an output port
    drag(qtbot, w, in_port(w, "fc1"), out_port(w, "relu1"))
    assert len(w.graph.edges) == 2


def test_invalid_connection_refused_visibly(qtbot, blank):
    w = blank
    drag(qtbot, w, out_port(w, "input1"), in_port(w, "relu1"))
    # relu1 -> relu1 itself is a loop: hover shows red and the reason; release refuses
    vp = w.canvas.viewport()
    a, b = out_port(w, "relu1"), in_port(w, "relu1")
    qtbot.mousePress(vp, Qt.LeftButton, pos=view_pos(w, a))
    qtbot.mouseMove(vp, view_pos(w, a + QPointF(40, 60)))
    qtbot.mouseMove(vp, view_pos(w, b))
    port_item = w.scene.node_items[node(w, "relu1").id].in_ports[0]
    assert port_item.state == "bad"
    assert "cannot feed itself" in w.statusBar().currentMessage()
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=view_pos(w, b))
    assert len(w.graph.edges) == 1
    assert port_item.state is None
    assert "refused" in w.statusBar().currentMessage()


def test_hovering_a_port_tells_what_flows_through_it(qtbot, window):
    vp = window.canvas.viewport()
    port = window.scene.node_items[node(window, "conv1").id].in_ports[0]
    qtbot.mouseMove(vp, view_pos(window, port.scenePos() + QPointF(60, 80)))
    qtbot.mouseMove(vp, view_pos(window, port.scenePos()))
    assert port.toolTip() == "conv1 input 0: 1x32x32 from input1 (drag away to disconnect)"
    assert window.scene.node_items[node(window, "conv1").id].hovered


def test_escape_cancels_a_wire_being_dragged(qtbot, blank):
    w = blank
    vp = w.canvas.viewport()
    a, b = out_port(w, "input1"), in_port(w, "relu1")
    qtbot.mousePress(vp, Qt.LeftButton, pos=view_pos(w, a))
    qtbot.mouseMove(vp, view_pos(w, (a + b) / 2))
    qtbot.mouseMove(vp, view_pos(w, b))
    key(qtbot, w, Qt.Key_Escape)
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=view_pos(w, b))
    assert w.graph.edges == [] and w.runner.stack.count() == 3  # only the three AddNodes


def test_drag_edge_end_away_disconnects(qtbot, window):
    relu1 = node(window, "relu1")
    edge = window.graph.edges_into(relu1.id)[0]
    start = in_port(window, "relu1")
    drag(qtbot, window, start, start + QPointF(0, 150))
    assert edge not in window.graph.edges
    assert relu1.problems  # an unconnected block is a problem now
    assert window.runner.stack.undoText() == "Disconnect"
    key(qtbot, window, Qt.Key_Z, Qt.ControlModifier)
    assert edge in window.graph.edges


def test_drop_block_on_edge_inserts_it(window):
    fc1, relu3 = node(window, "fc1"), node(window, "relu3")
    edge = next(e for e in window.graph.edges if e.src == fc1.id and e.dst == relu3.id)
    item = window.scene.edge_items[edge]
    mid = item.path().pointAtPercent(0.5)
    drop_block(window, "Dropout", mid)
    assert edge not in window.graph.edges
    dropout = next(n for n in window.graph.nodes.values() if n.type == "Dropout")
    assert [e.src for e in window.graph.edges_into(dropout.id)] == [fc1.id]
    assert [e.dst for e in window.graph.edges_from(dropout.id)] == [relu3.id]
    assert window.graph.is_valid
    assert window.runner.stack.undoText() == "Insert Dropout"


def test_input_dropped_on_a_wire_is_added_beside_it_not_inserted(window):
    fc1 = node(window, "fc1")
    edge = window.graph.edges_from(fc1.id)[0]
    mid = window.scene.edge_items[edge].path().pointAtPercent(0.5)
    drop_block(window, "Input", mid)
    assert edge in window.graph.edges
    assert sum(n.type == "Input" for n in window.graph.nodes.values()) == 2


def test_click_a_wire_and_delete_it(qtbot, window):
    relu3 = node(window, "relu3")
    edge = window.graph.edges_into(relu3.id)[0]
    item = window.scene.edge_items[edge]
    p = item.path().pointAtPercent(0.25)
    qtbot.mouseClick(window.canvas.viewport(), Qt.LeftButton, pos=view_pos(window, p))
    assert window.scene.selected_edges() == [edge]
    key(qtbot, window, Qt.Key_Delete)
    assert edge not in window.graph.edges
    assert window.runner.stack.undoText() == "Delete Wire"


def test_paste_lands_in_view_when_the_originals_are_not(qtbot, window):
    window.scene.select_nodes([node(window, "conv1").id])
    key(qtbot, window, Qt.Key_C, Qt.ControlModifier)
    window.canvas.centerOn(QPointF(4000, -3000))
    key(qtbot, window, Qt.Key_V, Qt.ControlModifier)
    (new_id,) = window.scene.selected_node_ids()
    item = window.scene.node_items[new_id]
    assert window.canvas.visible_scene_rect().contains(item.sceneBoundingRect())


# -- selection and keys -------------------------------------------------------------------


def test_rubber_band_and_ctrl_click_selection(qtbot, window):
    items = window.scene.node_items
    r1 = items[node(window, "input1").id].sceneBoundingRect()
    r2 = items[node(window, "conv1").id].sceneBoundingRect()
    drag(qtbot, window, r1.topLeft() - QPointF(20, 10), r2.bottomRight() + QPointF(10, 5))
    assert set(window.scene.selected_node_ids()) == {
        node(window, "input1").id,
        node(window, "conv1").id,
    }
    fc3 = items[node(window, "fc3").id].sceneBoundingRect().center()
    qtbot.mouseClick(
        window.canvas.viewport(), Qt.LeftButton, Qt.ControlModifier, view_pos(window, fc3)
    )
    assert len(window.scene.selected_node_ids()) == 3
    key(qtbot, window, Qt.Key_A, Qt.ControlModifier)
    assert len(window.scene.selected_node_ids()) == len(window.graph.nodes)


def test_arrow_keys_nudge_selection_in_one_undo_step(qtbot, window):
    ids = [node(window, "conv1").id, node(window, "relu1").id]
    before = {i: window.graph.nodes[i].pos for i in ids}
    window.scene.select_nodes(ids)
    for k in (Qt.Key_Right, Qt.Key_Right, Qt.Key_Down):
        key(qtbot, window, k)
    key(qtbot, window, Qt.Key_Right, Qt.ShiftModifier)
    for i in ids:
        assert window.graph.nodes[i].pos == (before[i][0] + 72, before[i][1] + 12)
        assert window.scene.node_items[i].pos().x() == before[i][0] + 72
    assert window.runner.stack.count() == 1 and window.act_undo.text() == "&Undo Nudge"
    key(qtbot, window, Qt.Key_Z, Qt.ControlModifier)
    assert {i: window.graph.nodes[i].pos for i in ids} == before


def test_wheel_zoom_middle_pan_and_fit(qtbot, window):
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    canvas = window.canvas
    z0 = canvas.zoom()
    centre = canvas.viewport().rect().center()
    ev = QWheelEvent(
        QPointF(centre),
        QPointF(canvas.viewport().mapToGlobal(centre)),
        P(0, 0),
        P(0, 240),
        Qt.NoButton,
        Qt.NoModifier,
        Qt.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), ev)
    assert canvas.zoom() > z0 * 1.3
    before = canvas.center_scene_pos()
    vp = canvas.viewport()
    qtbot.mousePress(vp, Qt.MiddleButton, pos=centre)
    qtbot.mouseMove(vp, centre + P(120, 40))
    qtbot.mouseRelease(vp, Qt.MiddleButton, pos=centre + P(120, 40))
    moved = canvas.center_scene_pos() - before
    assert moved.x() < -50 and moved.y() < -10
    key(qtbot, window, Qt.Key_0, Qt.ControlModifier)
    assert canvas.zoom() == 1.0
    key(qtbot, window, Qt.Key_F)
    visible = canvas.visible_scene_rect()
    for item in window.scene.node_items.values():
        assert visible.contains(item.sceneBoundingRect())


# -- undo / redo of every edit kind -----------------------------------------------------------


def _undo_redo_roundtrip(qtbot, w, before, expected_text):
    after = snapshot(w)
    assert after != before
    assert w.act_undo.text().replace("&", "") == f"Undo {expected_text}"
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert snapshot(w) == before
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert snapshot(w) == after
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    key(qtbot, w, Qt.Key_Y, Qt.ControlModifier)
    assert snapshot(w) == after


def test_undo_redo_add_delete_connect_disconnect(qtbot, blank):
    w = blank
    before = snapshot(w)
    drop_block(w, "Sigmoid", w.canvas.center_scene_pos() + QPointF(0, 150))
    _undo_redo_roundtrip(qtbot, w, before, "Add Sigmoid")

    before = snapshot(w)
    drag(qtbot, w, out_port(w, "input1"), in_port(w, "relu1"))
    _undo_redo_roundtrip(qtbot, w, before, "Connect input1 to relu1")

    before = snapshot(w)
    drag(qtbot, w, in_port(w, "relu1"), in_port(w, "relu1") + QPointF(0, 200))
    _undo_redo_roundtrip(qtbot, w, before, "Disconnect")

    before = snapshot(w)
    w.scene.select_nodes([node(w, "fc1").id])
    key(qtbot, w, Qt.Key_Delete)
    assert w.graph.node_by_name("fc1") is None
    _undo_redo_roundtrip(qtbot, w, before, "Delete Block")


def _selected_names(w):
    return sorted(w.graph.nodes[nid].name for nid in w.scene.selected_node_ids())


def test_undo_and_redo_select_what_they_touched(qtbot, window):
    w = window
    undo = lambda: key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)  # noqa: E731
    redo = lambda: key(qtbot, w, Qt.Key_Y, Qt.ControlModifier)  # noqa: E731
    # a parameter edit, then the user selects something else: undo shows the edited block
    w.scene.select_nodes([node(w, "fc2").id])
    w.runner.push(cmds.SetParams(node(w, "fc2").id, {"out_features": 50}))
    w.scene.select_nodes([node(w, "conv1").id])
    undo()
    assert _selected_names(w) == ["fc2"]
    assert w.inspector.node_id == node(w, "fc2").id
    assert w.statusBar().currentMessage() == "Undone: Change fc2 out_features"
    w.scene.clearSelection()
    redo()
    assert _selected_names(w) == ["fc2"]
    assert w.statusBar().currentMessage() == "Redone: Change fc2 out_features"

    # a deletion: undo selects the restored blocks, redo leaves nothing selected
    w.scene.select_nodes([node(w, "relu3").id, node(w, "fc3").id])
    key(qtbot, w, Qt.Key_Delete)
    undo()
    assert _selected_names(w) == ["fc3", "relu3"]
    redo()
    assert w.scene.selectedItems() == []
    undo()

    # a connection: redo selects the new wire; undo the blocks it joined
    w.runner.push(cmds.Disconnect(w.graph.edges_into(node(w, "fc3").id)[0]))
    src, dst = node(w, "relu4").id, node(w, "fc3").id
    w.runner.push(cmds.Connect(src, dst, 0))
    w.scene.clearSelection()
    undo()
    assert _selected_names(w) == ["fc3", "relu4"]
    redo()
    assert w.scene.selected_edges() == [w.graph.edges_into(dst)[0]]
    assert w.scene.selected_node_ids() == []

    # a move far away: undo selects the block and scrolls it into view
    conv1 = node(w, "conv1").id
    w.runner.push(cmds.MoveNodes({conv1: (9000.0, 9000.0)}))
    w.canvas.centerOn(QPointF(-5000, -5000))
    w.scene.clearSelection()
    redo_pos = w.scene.node_items[conv1]
    undo()
    assert _selected_names(w) == ["conv1"]
    visible = w.canvas.mapToScene(w.canvas.viewport().rect()).boundingRect()
    assert visible.intersects(redo_pos.sceneBoundingRect())

    # auto layout moves everything: the selection is left as it was
    w.scene.select_nodes([node(w, "pool1").id])
    key(qtbot, w, Qt.Key_L)
    undo()
    assert _selected_names(w) == ["pool1"]


def test_undo_redo_move_params_paste_layout_rename(qtbot, window):
    w = window
    # move by dragging a node's header
    before = snapshot(w)
    conv1 = w.scene.node_items[node(w, "conv1").id]
    grab = conv1.sceneBoundingRect().topLeft() + QPointF(60, 12)
    drag(qtbot, w, grab, grab + QPointF(40, 90))
    assert node(w, "conv1").pos[1] > before["nodes"][1]["pos"][1] + 80
    _undo_redo_roundtrip(qtbot, w, before, "Move Block")

    # parameter change through the inspector
    w.scene.select_nodes([node(w, "fc2").id])
    before = snapshot(w)
    spin = w.inspector.fields["out_features"].widget
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "64")
    qtbot.keyClick(spin, Qt.Key_Return)
    assert node(w, "fc2").params["out_features"] == 64
    _undo_redo_roundtrip(qtbot, w, before, "Change fc2 out_features")

    # copy + paste (and Ctrl+D duplicate)
    w.scene.select_nodes([node(w, "conv1").id, node(w, "relu1").id])
    before = snapshot(w)
    key(qtbot, w, Qt.Key_C, Qt.ControlModifier)
    key(qtbot, w, Qt.Key_V, Qt.ControlModifier)
    assert len(w.graph.nodes) == len(before["nodes"]) + 2
    assert len(w.scene.selected_node_ids()) == 2  # the pasted copies
    _undo_redo_roundtrip(qtbot, w, before, "Paste 2 Blocks")
    w.scene.select_nodes([node(w, "conv1").id, node(w, "relu1").id])
    before = snapshot(w)
    key(qtbot, w, Qt.Key_D, Qt.ControlModifier)
    _undo_redo_roundtrip(qtbot, w, before, "Paste 2 Blocks")

    # cut removes and can be pasted back
    w.scene.select_nodes([node(w, "fc3").id])
    before = snapshot(w)
    key(qtbot, w, Qt.Key_X, Qt.ControlModifier)
    assert w.graph.node_by_name("fc3") is None
    _undo_redo_roundtrip(qtbot, w, before, "Cut Block")

    # auto layout
    w.scene.clearSelection()
    w.runner.push(cmds.MoveNodes({node(w, "fc1").id: (5000, 5000)}))
    before = snapshot(w)
    key(qtbot, w, Qt.Key_L)
    # the core's AutoLayout, wrapped to this canvas: the same positions, one undo step
    size = w.canvas.viewport().size()
    expected = cmds.layout_positions(
        w.graph, (size.width(), size.height()), (NODE_WIDTH, NODE_HEIGHT)
    )
    assert {nid: n.pos for nid, n in w.graph.nodes.items()} == expected
    assert len({y for _, y in expected.values()}) > 1  # wrapped into rows
    assert isinstance(
        w.runner.stack.command(w.runner.stack.index() - 1).commands[0], cmds.AutoLayout
    )
    _undo_redo_roundtrip(qtbot, w, before, "Auto Layout")

    # rename through the inspector's name field
    w.scene.select_nodes([node(w, "relu4").id])
    before = snapshot(w)
    w.inspector.name_edit.setFocus()
    w.inspector.name_edit.selectAll()
    qtbot.keyClicks(w.inspector.name_edit, "act4")
    qtbot.keyClick(w.inspector.name_edit, Qt.Key_Return)
    assert w.graph.node_by_name("act4") is not None
    w.canvas.setFocus()
    _undo_redo_roundtrip(qtbot, w, before, "Rename to act4")


def test_spin_steps_merge_into_one_undo_step(qtbot, window):
    window.scene.select_nodes([node(window, "fc1").id])
    spin = window.inspector.fields["out_features"].widget
    for _ in range(3):
        spin.stepUp()
    assert node(window, "fc1").params["out_features"] == 123
    assert window.runner.stack.count() == 1
    window.runner.undo()
    assert node(window, "fc1").params["out_features"] == 120


# -- inspector and problems ----------------------------------------------------------------


def test_inspector_edit_changes_downstream_shapes_and_counts(qtbot, window):
    w = window
    conv2 = node(w, "conv2")
    w.scene.select_nodes([conv2.id])
    assert w.inspector.node_id == conv2.id
    spin = w.inspector.fields["out_channels"].widget
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "20")
    qtbot.keyClick(spin, Qt.Key_Return)
    assert node(w, "conv2").out_shape == (20, 10, 10)
    assert node(w, "flatten1").out_shape == (500,)
    fc1 = node(w, "fc1")
    assert fc1.param_count == 500 * 120 + 120
    assert w.scene.node_items[fc1.id].param_count == 60_120
    label = next(i.label for e, i in w.scene.edge_items.items() if e.src == node(w, "pool2").id)
    assert label == "20x5x5"
    total = w.graph.total_params
    assert f"{total:,} parameters" in w.params_label.text()
    assert "2,000" not in w.inspector.output.text()
    assert "20x10x10" in w.inspector.output.text()


def test_auto_param_shows_value_and_can_be_pinned(qtbot, window):
    w = window
    w.scene.select_nodes([node(w, "conv2").id])
    w.inspector.fields["kernel_size"].pair[0].setFocus()
    assert "Kernel size" in w.inspector.field_help.text()
    field = w.inspector.fields["in_channels"]
    assert field.auto_box.isChecked() and field.auto_box.text() == "auto (= 6)"
    assert not field.widget.isEnabled()
    field.auto_box.click()
    assert node(w, "conv2").params["in_channels"] == 6
    assert field.widget.isEnabled()
    field.auto_box.click()
    assert node(w, "conv2").params["in_channels"] is None


def test_problem_shows_on_node_and_clears_when_fixed(qtbot, window):
    w = window
    fc1 = node(w, "fc1")
    w.scene.select_nodes([fc1.id])
    field = w.inspector.fields["in_features"]
    field.auto_box.click()  # pin to 400
    spin = field.widget
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "256")
    qtbot.keyClick(spin, Qt.Key_Return)
    item = w.scene.node_items[fc1.id]
    assert item.problems and "400" in item.problems[0]
    assert "400" in item.toolTip()
    assert w.problem_rows() == [(fc1.id, w.problems.item(0).text())]
    assert w.problems.item(0).text().startswith("fc1")
    assert "1 problem" in w.valid_label.text()
    # clicking the problem selects its node
    w.scene.clearSelection()
    rect = w.problems.visualItemRect(w.problems.item(0))
    qtbot.mouseClick(w.problems.viewport(), Qt.LeftButton, pos=rect.center())
    assert w.scene.selected_node_ids() == [fc1.id]
    # fix it: follow the input again
    w.inspector.fields["in_features"].auto_box.click()
    assert not item.problems and w.problem_rows() == []
    assert "valid" in w.valid_label.text()


def test_inspector_refuses_invalid_value_with_reason(qtbot, window):
    w = window
    inp = node(w, "input1")
    w.scene.select_nodes([inp.id])
    before = snapshot(w)
    edit = w.inspector.fields["shape"].widget
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "1x0x32")
    qtbot.keyClick(edit, Qt.Key_Return)
    assert snapshot(w) == before
    assert "Refused" in w.inspector.error.text()
    assert "shape" in w.inspector.error.text()
    assert edit.text() == "1x32x32"
    edit.selectAll()
    qtbot.keyClicks(edit, "1x28x28")
    qtbot.keyClick(edit, Qt.Key_Return)
    assert node(w, "conv1").out_shape == (6, 24, 24)
    assert w.inspector.error.text() == ""
    # names must be Python identifiers: refused with the reason, the old name stays
    w.inspector.name_edit.setFocus()
    w.inspector.name_edit.selectAll()
    qtbot.keyClicks(w.inspector.name_edit, "2nd input")
    qtbot.keyClick(w.inspector.name_edit, Qt.Key_Return)
    assert node(w, "input1") is not None
    assert "not a valid name" in w.inspector.error.text()
    assert w.inspector.name_edit.text() == "input1"


def test_inspector_builds_a_faithful_form_for_every_block_type(blank):
    from netbuilder.blocks import CATALOGUE

    w = blank
    for type_name, block in CATALOGUE.items():
        command = cmds.AddNode(type_name, (0, 900))
        assert w.runner.push(command)
        w.scene.select_nodes([command.node_id])
        assert w.inspector.node_id == command.node_id
        assert list(w.inspector.fields) == [p.name for p in block.params], type_name
        n = w.graph.nodes[command.node_id]
        for spec in block.params:
            field = w.inspector.fields[spec.name]
            if n.params[spec.name] is None:
                assert field.auto_box is not None and field.auto_box.isChecked(), spec.name
            else:  # the widget shows exactly the model's value
                assert field.value() == n.params[spec.name], (type_name, spec.name)
            assert field.widget.toolTip() == spec.help


def _wire_labels_match_the_model(w):
    from netbuilder.ui.canvas.items import format_shape

    for edge, item in w.scene.edge_items.items():
        assert item.label == format_shape(w.graph.nodes[edge.src].out_shape), edge
        ends = item.endpoints()
        path = item.path()
        assert (path.pointAtPercent(0.0) - ends[0]).manhattanLength() < 1
        assert (path.pointAtPercent(1.0) - ends[1]).manhattanLength() < 1


def test_wires_stay_true_to_the_model_through_edits_moves_and_undo(qtbot, window):
    """The canvas skips work when nothing it shows changed; it must never show stale data."""
    w = window
    conv1 = node(w, "conv1").id
    w.runner.push(cmds.SetParams(conv1, {"out_channels": 10}))
    _wire_labels_match_the_model(w)
    w.runner.push(cmds.SetParams(node(w, "input1").id, {"shape": (1, 28, 28)}))
    _wire_labels_match_the_model(w)
    w.runner.push(cmds.MoveNodes({conv1: (40.0, 600.0)}))
    _wire_labels_match_the_model(w)
    for _ in range(3):
        w.runner.undo()
        _wire_labels_match_the_model(w)
    # hovering a wire names its ends and the shape it carries
    item = next(i for e, i in w.scene.edge_items.items() if e.src == conv1)
    vp = w.canvas.viewport()
    qtbot.mouseMove(vp, view_pos(w, item.path().pointAtPercent(0.5)))
    assert item.toolTip() == f"conv1 → relu1: {item.label}"


def test_concat_grows_a_port_per_connection(qtbot, blank):
    w = blank
    cat = cmds.AddNode("Concat", (520, 200))
    w.runner.push(cat)
    item = w.scene.node_items[cat.node_id]
    assert len(item.in_ports) == 2
    drag(qtbot, w, out_port(w, "input1"), item.in_ports[0].scenePos())
    drag(qtbot, w, out_port(w, "relu1"), item.in_ports[1].scenePos())
    assert len(item.in_ports) == 3  # always one free port past the last wire
    drag(qtbot, w, out_port(w, "fc1"), item.in_ports[2].scenePos())
    assert [e.dst_port for e in w.graph.edges_into(cat.node_id)] == [0, 1, 2]
    assert len(item.in_ports) == 4
    for e in w.graph.edges_into(cat.node_id):  # every wire ends on its port
        path = w.scene.edge_items[e].path()
        assert (
            path.pointAtPercent(1.0) - item.in_ports[e.dst_port].scenePos()
        ).manhattanLength() < 1


# -- the dashboard's hooks into the editor ------------------------------------------------------


def test_dashboard_seam(qtbot, window):
    w = window
    seen = []
    w.selectionChangedTo.connect(seen.append)
    conv1 = node(w, "conv1")
    w.scene.select_nodes([conv1.id])
    w.scene.select_nodes([conv1.id, node(w, "relu1").id])
    assert seen == [conv1.id, None]
    w.canvas.set_node_overlay(conv1.id, QColor(255, 0, 0, 90), "grad norm 0.12")
    item = w.scene.node_items[conv1.id]
    assert item.overlay_color is not None and "grad norm 0.12" in item.toolTip()
    w.canvas.set_node_overlay(conv1.id, None, None)
    assert item.overlay_color is None

    w.set_structure_locked(True, "Training is running")
    n_before = len(w.graph.nodes)
    drop_block(w, "ReLU", w.canvas.center_scene_pos())
    w.scene.select_nodes([conv1.id])
    key(qtbot, w, Qt.Key_Delete)
    assert len(w.graph.nodes) == n_before
    assert "Training is running" in w.statusBar().currentMessage()
    assert not w.inspector.form_host.isEnabled()
    w.set_structure_locked(False, "")
    key(qtbot, w, Qt.Key_Delete)
    assert len(w.graph.nodes) == n_before - 1

    w.runner.stack.setClean()
    assert not w.isWindowModified()
    w.mark_dirty()
    assert w.isWindowModified()
    assert w.train_menu.title() == "&Train"


def test_dashboard_installs_into_window(make_window):
    w = make_window("lenet", install_training=True)
    areas = {w.dockWidgetArea(d) for d in w.findChildren(type(w.palette_dock))}
    assert Qt.BottomDockWidgetArea in areas
    assert w.train_menu.actions()
    assert w.canvas.height() > 350  # the dashboard leaves the canvas room
