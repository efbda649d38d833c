"""Composite blocks in the editor, driven through the real window (pytest-qt, offscreen):
group with Ctrl+G, enter by double-click, the breadcrumb back, ungroup, undo, My blocks."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QToolButton
from test_ui_editor import boxes, make_window  # noqa: F401

from netbuilder.graph import commands as cmds
from netbuilder.graph.library import user_definitions


def ids(w, *names):
    return [w.scene.graph.node_by_name(n).id for n in names]


def double_click(qtbot, w, node_id):
    item = w.scene.node_items[node_id]
    w.canvas.centerOn(item)
    QApplication.processEvents()
    point = w.canvas.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseDClick(w.canvas.viewport(), Qt.LeftButton, pos=point)
    QApplication.processEvents()


def test_group_enter_breadcrumb_ungroup_and_undo(qtbot, make_window):
    w = make_window("lenet")
    before = w.graph.to_dict()
    w.scene.select_nodes(ids(w, "conv1", "relu1", "pool1"))
    qtbot.keyClick(w.canvas, Qt.Key_G, Qt.ControlModifier)
    composites = [n for n in w.graph.nodes.values() if n.type == "Composite"]
    assert len(composites) == 1
    inst = composites[0]
    assert inst.out_shape == (6, 14, 14) and inst.param_count == 156
    assert w.scene.selected_node_ids() == [inst.id]
    assert w.graph.problems() == []

    double_click(qtbot, w, inst.id)
    ui = w.composites
    assert [p[0] for p in ui.path] == ["Block"]
    assert w.scene.graph is inst.definition.body and w.runner.scope == "Block"
    assert w.scene.graph.node_by_name("conv1").out_shape == (6, 28, 28)
    assert ui.crumbs.isVisible()
    crumbs = ui.crumbs.findChildren(QToolButton, "crumb0")
    here = ui.crumbs.findChildren(QLabel, "crumb1")
    assert crumbs and crumbs[0].text() == w.graph.name and "block1 (Block)" in here[0].text()

    # an edit inside reaches the instance outside, and undoes from inside
    conv = w.scene.graph.node_by_name("conv1")
    assert w.runner.push(cmds.SetParams(conv.id, {"out_channels": 8}))
    assert inst.out_shape == (8, 14, 14)
    w.runner.undo()
    assert inst.out_shape == (6, 14, 14)

    crumbs[0].click()
    QApplication.processEvents()
    assert ui.path == [] and w.scene.graph is w.graph and w.runner.scope is None
    assert not ui.crumbs.isVisible()
    assert w.scene.selected_node_ids() == [inst.id]

    qtbot.keyClick(w.canvas, Qt.Key_G, Qt.ControlModifier | Qt.ShiftModifier)
    assert not any(n.type == "Composite" for n in w.graph.nodes.values())
    assert {n.name for n in w.graph.nodes.values()} == {n["name"] for n in before["nodes"]}
    w.runner.undo()  # ungroup
    w.runner.undo()  # group
    assert w.graph.to_dict() == before


def test_a_refused_group_says_why_in_the_status_bar(qtbot, make_window):
    w = make_window("lenet")
    w.scene.select_nodes(ids(w, "input1", "conv1"))
    qtbot.keyClick(w.canvas, Qt.Key_G, Qt.ControlModifier)
    assert "stays outside a group" in w.statusBar().currentMessage()
    assert not any(n.type == "Composite" for n in w.graph.nodes.values())


def test_undo_of_the_group_while_inside_goes_back_out(qtbot, make_window):
    w = make_window("lenet")
    w.scene.select_nodes(ids(w, "fc1", "relu3"))
    qtbot.keyClick(w.canvas, Qt.Key_G, Qt.ControlModifier)
    inst = next(n for n in w.graph.nodes.values() if n.type == "Composite")
    w.composites.enter(inst.id)
    w.runner.undo()
    QApplication.processEvents()
    assert w.composites.path == [] and w.scene.graph is w.graph
    assert w.graph.node_by_name("fc1") is not None


def test_templates_open_with_composites_and_palette_lists_them(qtbot, make_window):
    w = make_window("resnet8")
    assert w.graph.problems() == []
    layer2 = w.graph.node_by_name("layer2")
    assert layer2.definition.name == "BasicBlock" and layer2.out_shape == (32, 16, 16)
    keys = w.palette.visible_types()
    assert "composite:shipped:ConvBNReLU" in keys and "composite:shipped:Inception" in keys
    w.composites.enter(layer2.id)
    down = w.scene.graph.node_by_name("downsample")
    assert down.out_shape == (32, 16, 16) and down.param_count == 16 * 32 + 64
    w.composites.leave()
    assert w.scene.graph is w.graph


def test_palette_adds_a_shipped_composite_and_my_blocks_keeps_one(qtbot, make_window):
    w = make_window("lenet")
    assert w.canvas.add_block("composite:shipped:Inception", w.canvas.center_scene_pos())
    inst = next(n for n in w.graph.nodes.values() if n.type == "Composite")
    assert "Inception" in w.graph.definitions and inst.definition.name == "Inception"
    w.scene.select_nodes([inst.id])
    w.composites.save_to_library()
    mine, errors = user_definitions()
    assert "Inception" in [d.name for d in mine] and errors == []
    assert "composite:user:Inception" in w.palette.visible_types()
    w.runner.undo()
    assert "Inception" not in w.graph.definitions
    # quick-add finds composites too
    w.quick_add._fill("basicblock")
    keys = [w.quick_add.list.item(i).data(Qt.UserRole + 1) for i in range(w.quick_add.list.count())]
    assert keys[0] == "composite:shipped:BasicBlock"
    w.quick_add._choose(w.quick_add.list.item(0))
    assert any(
        n.definition is not None and n.definition.name == "BasicBlock"
        for n in w.graph.nodes.values()
    )


def test_the_shortcuts_list_names_the_composite_keys(make_window):
    w = make_window("lenet")
    rows = w.shortcut_rows()
    commands = {(menu, text): keys for menu, text, keys in rows}
    assert commands[("Edit", "Group Blocks")] == "Ctrl+G"
    assert commands[("Edit", "Ungroup")] == "Ctrl+Shift+G"
    assert any("composite" in keys.lower() for menu, _, keys in rows if menu == "Canvas")


def test_ctrl_down_enters_and_ctrl_up_leaves(qtbot, make_window):
    w = make_window("resnet8")
    layer1 = w.graph.node_by_name("layer1")
    w.scene.select_nodes([layer1.id])
    qtbot.keyClick(w.canvas, Qt.Key_Down, Qt.ControlModifier)
    assert [p[1] for p in w.composites.path] == ["layer1"]
    conv1 = w.scene.graph.node_by_name("conv1")
    pos = conv1.pos
    w.scene.select_nodes([conv1.id])
    qtbot.keyClick(w.canvas, Qt.Key_Up, Qt.ControlModifier)
    assert w.composites.path == [] and w.scene.graph is w.graph
    assert layer1.definition.body.nodes[conv1.id].pos == pos  # not nudged on the way out
    assert w.scene.selected_node_ids() == [layer1.id]


def test_a_composite_inside_a_composite_opens_with_its_instance_values(make_window):
    w = make_window("vgg")
    ui = w.composites
    ui.enter(w.graph.node_by_name("stage3").id)
    assert w.scene.graph.node_by_name("conv2").out_shape == (64, 8, 8)
    ui.enter(w.scene.graph.node_by_name("conv2").id)
    assert [p[1] for p in ui.path] == ["stage3", "conv2"]
    conv = w.scene.graph.node_by_name("conv")
    assert conv.out_shape == (64, 8, 8) and conv.resolved["in_channels"] == 64
    ui.leave_to(1)
    assert [p[1] for p in ui.path] == ["stage3"]
    ui.leave_to(0)
    assert ui.path == [] and w.scene.graph is w.graph
