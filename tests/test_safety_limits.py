"""Project limits: what a file may hold, and reports that stay short on huge networks."""

import json
import sys
from pathlib import Path

import pytest

from netbuilder.cli import main
from netbuilder.graph import commands, limits
from netbuilder.graph.project import ProjectError, loads_project
from netbuilder.graph.templates import load_template

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_a_10000_block_loop_gives_a_short_report(capsys, tmp_path):
    path = tmp_path / "loop.json"
    path.write_text(json.dumps(hostile_corpus._chain(limits.MAX_BLOCKS, cycle=True)))
    status = main(["summary", str(path)])
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 22 and lines[-2] == "... and 9,980 more"
    loop_line = next(line for line in lines if "part of a loop" in line)
    assert "relu1 -> relu2 -> relu3" in loop_line and "... 9992 more -> relu1" in loop_line
    assert max(len(line) for line in lines) < 300
    assert out.count("\n") > limits.MAX_BLOCKS  # the table still lists every block


def test_a_network_at_the_block_limit_loads_and_one_past_it_is_refused():
    at = json.dumps(hostile_corpus._chain(limits.MAX_BLOCKS, cycle=False))
    project = loads_project(at)
    assert len(project.graph.nodes) == limits.MAX_BLOCKS and project.graph.is_valid
    past = json.dumps(hostile_corpus._chain(limits.MAX_BLOCKS + 1, cycle=False))
    with pytest.raises(ProjectError, match="10,001 blocks; a network may have up to 10,000"):
        loads_project(past, "big.json")


def test_a_wire_into_a_port_past_the_limit_is_refused_in_the_editor():
    graph = load_template("lenet").graph
    add = commands.AddNode("Concat", (0.0, 0.0))
    add.redo(graph)
    source = graph.node_by_name("input1").id
    assert graph.check_connection(source, add.node_id, limits.MAX_INPUT_PORT) is None
    reason = graph.check_connection(source, add.node_id, limits.MAX_INPUT_PORT + 1)
    assert reason == f"cat1 takes inputs on ports 0..{limits.MAX_INPUT_PORT}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("project-groups-0.json", "conv1: groups must be positive (got 0)"),
        ("project-huge-shape.json", "input1 gives 1e+18 values per sample, more than the"),
    ],
)
def test_too_large_or_impossible_blocks_load_with_a_problem(name, expected):
    content, _ = hostile_corpus.files()[name]
    messages = [m for _, m in loads_project(content).graph.problems()]
    assert any(m.startswith(expected) for m in messages), messages


def test_the_documented_limits_are_the_enforced_ones():
    text = " ".join((ROOT / "docs" / "CONTRACTS.md").read_text().split())
    assert f"{limits.MAX_BLOCKS:,} blocks" in text
    assert f"{limits.MAX_WIRES:,} wires" in text
    assert f"input ports 0-{limits.MAX_INPUT_PORT}" in text
    assert f"±{limits.MAX_INT:,}" in text
    assert f"±{limits.MAX_COORDINATE:,.0f}" in text
    assert f"up to {limits.MAX_NAME_LENGTH} characters" in text
