"""The settings form is the schema's: every value the schema accepts is shown and kept exactly
(no clamping), and survives form -> project file -> command line -> exported script."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netbuilder.export import export_script
from netbuilder.graph import commands as C
from netbuilder.graph.project import dumps_project, loads_project
from netbuilder.graph.templates import load_template
from netbuilder.training import TrainSettings, recipe
from netbuilder.training.schema import INT_MAX, SETTINGS, TINY, SettingsError
from netbuilder.ui.training.settings_form import SettingsForm


@pytest.fixture
def form(qtbot):
    widget = SettingsForm()
    qtbot.addWidget(widget)
    return widget


def test_values_the_schema_accepts_are_not_clamped(form):
    values = {
        "grad_every": 0,
        "val_split": 0.7,
        "gamma": 2.0,
        "lr": 1e-9,
        "momentum": 0.99999,
        "eps": 1e-12,
        "weight_decay": 12.5,
        "batch_size": 100_000,
        "epochs": 50_000,
        "t_max": 0,
        "seed": INT_MAX,
        "betas": [0.5, 0.999999],
    }
    form.load(values)
    assert form.load_problems == []
    shown = form.values()
    for key, value in values.items():
        assert shown[key] == value, key


def test_rows_follow_the_chosen_optimizer_and_schedule(form):
    def visible(name):
        return form.widgets[name].isVisibleTo(form)

    form.load({"optimizer": "adam", "schedule": "plateau"})
    assert visible("betas") and visible("amsgrad") and visible("eps")
    assert not visible("momentum") and not visible("nesterov") and not visible("alpha")
    assert visible("gamma") and visible("patience") and not visible("milestones")
    form.load({"optimizer": "rmsprop", "schedule": "cosine"})
    assert visible("rmsprop_momentum") and visible("alpha") and visible("centered")
    assert visible("t_max") and not visible("gamma")


def test_an_edit_reports_the_setting_and_its_value(form, qtbot):
    seen = []
    form.changed.connect(lambda key, value: seen.append((key, value)))
    form.widgets["gamma"].setValue(2.5)
    form.beta2.setValue(0.95)
    form.widgets["amsgrad"].setChecked(True)
    assert ("gamma", 2.5) in seen and ("amsgrad", True) in seen
    assert ("betas", [0.9, 0.95]) in seen


def _strategy(setting):
    kind = setting.kind
    if kind == "choice":
        return st.sampled_from(setting.keys)
    if kind == "bool":
        return st.booleans()
    if kind == "text":
        return st.sampled_from(["sample", "mnist", "/data/set.npz"])
    if kind == "int":
        low = int(setting.low) if setting.low is not None else -INT_MAX
        return st.integers(low, INT_MAX if setting.high is None else int(setting.high))

    def number():
        return st.floats(
            min_value=setting.low,
            max_value=setting.high,
            exclude_min=setting.low_open,
            exclude_max=setting.high_open,
            allow_nan=False,
            allow_infinity=False,
        ).filter(lambda v: v == 0 or abs(v) >= TINY)

    if kind == "float":
        return number()
    if kind == "pair":
        return st.lists(number(), min_size=2, max_size=2)
    if kind == "ints":
        return st.lists(st.integers(1, INT_MAX), max_size=4).map(sorted)
    raise AssertionError(kind)


def _valid(values):
    """Valid in the schema and trainable (what the schedule needs)."""
    try:
        recipe.check(TrainSettings.from_dict(values))
    except SettingsError:
        return False
    return True


SETTINGS_VALUES = st.fixed_dictionaries({s.name: _strategy(s) for s in SETTINGS}).filter(_valid)


def _log_softmax_mlp():
    graph = load_template("mlp").graph
    add = C.AddNode("LogSoftmax", (2000.0, 0.0))
    add.redo(graph)
    C.Connect(graph.node_by_name("fc3").id, add.node_id, 0).redo(graph)
    assert not graph.problems()
    return graph


LOG_SOFTMAX_MLP = _log_softmax_mlp()


def _argv(values):
    """The command line that sets every value (momentum is routed by the optimizer, so the
    project carries it)."""
    argv = []
    for s in SETTINGS:
        value = values[s.name]
        if s.name == "momentum" or (s.kind == "ints" and not value):
            continue
        if s.kind == "bool":
            argv.append(s.option if value else "--no-" + s.option[2:])
        elif s.kind == "pair":
            argv += [s.option, *map(repr, value)]
        elif s.kind == "ints":
            argv += [s.option, ",".join(map(str, value))]
        elif s.kind == "float":
            argv += [s.option, repr(value)]
        else:
            argv += [s.option, str(value)]
    return argv


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=SETTINGS_VALUES)
def test_a_valid_value_survives_form_project_file_cli_and_script(form, values):
    expected = TrainSettings.from_dict(values).to_dict()
    # form
    form.load(values)
    assert form.load_problems == []
    shown = form.values()
    assert shown == expected
    # project file
    project = load_template("mlp")
    project.training = shown
    stored = loads_project(dumps_project(project)).training
    assert stored == expected
    # command line, over a project holding only the momentum
    from netbuilder.cli import build_parser, train_settings

    args = build_parser().parse_args(["train", "p.nbproj", *_argv(stored)])
    from_cli = train_settings({"momentum": stored["momentum"]}, args, "p.nbproj")
    assert from_cli.to_dict() == expected
    # the exported script's defaults (a network ending in log-probabilities suits every loss)
    text = export_script(LOG_SOFTMAX_MLP, "engine", training=stored)
    namespace = {}
    exec(compile(text, "exported.py", "exec"), namespace)  # noqa: S102 - our generated code
    script_args = namespace["parse_args"](["--data", "d"])
    for s in SETTINGS:
        if s.script:
            value = getattr(script_args, s.name)
            value = list(value) if isinstance(value, tuple) else value
            want = expected[s.name]
            assert value == want and (not isinstance(want, float) or math.isfinite(value)), s.name
