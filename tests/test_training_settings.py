"""TrainSettings: the classic recipe by default, project round trips, clear errors."""

import json

import pytest

from netbuilder.graph.templates import load_template
from netbuilder.training import SettingsError, TrainSettings


def test_defaults_are_the_classic_recipe():
    s = TrainSettings()
    assert (s.dataset, s.loss, s.optimizer, s.lr, s.momentum, s.batch_size) == (
        "sample",
        "cross_entropy",
        "sgd",
        0.01,
        0.9,
        64,
    )
    assert (s.epochs, s.seed, s.schedule, s.grad_every) == (1, 0, "none", 20)


def test_round_trip_through_json():
    s = TrainSettings(
        optimizer="adamw",
        lr=3e-4,
        betas=(0.8, 0.99),
        schedule="multistep",
        milestones=(5, 2),
        gamma=0.5,
        epochs=6,
        val_split=0.1,
    )
    d = json.loads(json.dumps(s.to_dict()))
    back = TrainSettings.from_dict(d)
    assert back == s.validated()
    assert back.betas == (0.8, 0.99) and back.milestones == (2, 5)


def test_from_dict_fills_defaults_and_ignores_unknown_keys():
    s = TrainSettings.from_dict({"lr": 0.1, "from_a_newer_version": True})
    assert s.lr == 0.1 and s.optimizer == "sgd"
    assert TrainSettings.from_dict(None) == TrainSettings()
    assert TrainSettings.from_dict({"epochs": 3.0}).epochs == 3  # JSON may write 3.0


def test_every_template_has_valid_settings():
    for name in ("lenet", "mlp", "bn_cnn", "resnet"):
        TrainSettings.from_dict(load_template(name).training)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lr": -1}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"lr": "fast"}, "lr"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"loss": "hinge"}, "loss"),
        ({"schedule": "warmup"}, "schedule"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"epochs": True}, "epochs"),
        ({"momentum": 1.0}, "momentum"),
        ({"rmsprop_momentum": -0.1}, "rmsprop_momentum"),
        ({"betas": [0.9]}, "betas"),
        ({"betas": [0.9, 1.5]}, "betas[1]"),
        ({"val_split": 1.0}, "val_split"),
        ({"milestones": "3,4"}, "milestones"),
        ({"nesterov": True, "momentum": 0.0}, "nesterov"),
        ({"dataset": ""}, "dataset"),
    ],
)
def test_bad_values_name_the_setting(changes, field):
    with pytest.raises(SettingsError) as info:
        TrainSettings.from_dict(changes)
    assert str(info.value).startswith(field)


def test_replace_skips_unset_values_and_validates():
    s = TrainSettings().replace(lr=None, epochs=3)
    assert (s.lr, s.epochs) == (0.01, 3)
    with pytest.raises(SettingsError, match="epochs"):
        TrainSettings().replace(epochs=0)


def test_each_optimizer_has_its_own_momentum():
    s = TrainSettings()
    assert (s.momentum_for("sgd"), s.momentum_for("rmsprop"), s.momentum_for("adam")) == (
        0.9,
        0.0,  # torch.optim.RMSprop's default, not SGD's 0.9
        None,
    )
    s = TrainSettings.from_dict({"optimizer": "rmsprop", "rmsprop_momentum": 0.5})
    assert s.momentum_for() == 0.5 and TrainSettings.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("training", "expected"),
    [
        ('{"lr": 1e999}', "p.nbproj: training.lr: must be a finite number, got inf"),
        ('{"lr": -1}', "p.nbproj: training.lr: must be above 0, got -1"),
        ('{"epochs": 0}', "p.nbproj: training.epochs: must be at least 1, got 0"),
        ('{"betas": [0.9, 2]}', "p.nbproj: training.betas[1]: must be below 1, got 2"),
        ('{"optimizer": "lbfgs"}', "p.nbproj: training.optimizer: 'lbfgs' is unknown"),
    ],
)
def test_a_project_file_is_checked_once_at_load(training, expected):
    from netbuilder.graph.project import ProjectError, loads_project

    text = json.dumps({"format": "netbuilder-project", "version": 1, "graph": {}})
    text = text[:-1] + f', "training": {training}}}'
    graph = load_template("mlp").graph.to_dict()
    text = text.replace('"graph": {}', f'"graph": {json.dumps(graph)}')
    with pytest.raises(ProjectError) as info:
        loads_project(text, "p.nbproj")
    assert str(info.value).startswith(expected)


def test_a_loaded_project_keeps_unknown_keys_and_normalises_known_ones():
    from netbuilder.graph.project import dumps_project, loads_project

    project = load_template("mlp")
    project.training = {"epochs": 3.0, "milestones": [4, 2], "from_a_newer_version": 1}
    back = loads_project(dumps_project(project))
    assert back.training == {"epochs": 3, "milestones": [2, 4], "from_a_newer_version": 1}
