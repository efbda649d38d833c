"""A parameter count that depends on an input size nobody knows yet reads as unknown."""

from __future__ import annotations

from netbuilder.blocks import CATALOGUE
from netbuilder.graph.project import load_project
from netbuilder.graph.templates import template_path


def test_a_new_conv_or_linear_has_an_unknown_count_until_wired():
    conv = CATALOGUE["Conv2d"]
    params = conv.validate_params({"out_channels": 8, "kernel_size": 3})
    assert conv.param_count(params, []) is None  # not 8 (the bias alone)
    assert conv.param_count(params, [(3, 28, 28)]) == 8 * 3 * 9 + 8
    linear = CATALOGUE["Linear"]
    lp = linear.validate_params({"out_features": 10})
    assert linear.param_count(lp, []) is None  # not 10
    assert linear.param_count(lp, [(4,)]) == 50


def test_a_pinned_size_or_a_count_that_does_not_depend_on_it_is_known():
    conv = CATALOGUE["Conv2d"]
    assert conv.param_count(conv.validate_params({"in_channels": 2, "out_channels": 4}), []) == (
        4 * 2 * 9 + 4
    )
    bn = CATALOGUE["BatchNorm2d"]
    assert bn.param_count(bn.validate_params({"affine": False}), []) == 0
    relu = CATALOGUE["ReLU"]
    assert relu.param_count(relu.validate_params({}), []) == 0


def test_blocks_after_a_broken_one_are_unknown_not_undercounted():
    project = load_project(template_path("lenet"))
    graph = project.graph
    full = graph.total_params
    assert graph.unknown_counts == []
    conv2 = graph.node_by_name("conv2")
    graph.set_params(conv2.id, {**conv2.params, "kernel_size": 40})  # larger than its input
    assert graph.problems()
    # the blocks downstream wait on conv2's output size; the status bar reads "?"
    assert graph.node_by_name("fc1").param_count is None and "fc1" in graph.unknown_counts
    assert full > 0
