"""Layer diagnostics on the steps that measure gradients: update-to-weight ratio, dead ReLU
units and weight/gradient quantiles, checked against what they mean."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_training_trainer import SMALL_CNN, _chain, _run, _subset  # noqa: I001 - beside this file

from netbuilder.data import load_dataset
from netbuilder.training import LayerDiagnostics, StepEnd, Trainer, TrainSettings
from netbuilder.training.events import QUANTILES


@pytest.fixture(scope="module")
def tiny():
    return _subset(load_dataset("sample"), 256, 32)


def test_diagnostics_follow_each_measured_step(tiny):
    graph = _chain(SMALL_CNN)
    trainer = Trainer(
        graph,
        TrainSettings(epochs=1, batch_size=32, grad_every=2, lr=0.1, momentum=0.0, optimizer="sgd"),
        data=tiny,
    )
    events, expected = [], {}

    def listen(event):
        events.append(event)
        if isinstance(event, LayerDiagnostics):  # plain SGD: w_before = w_after + lr * grad
            moved, size = {}, {}
            for name, p in trainer.model.named_parameters():
                layer = name.split(".")[0]
                step = 0.1 * p.grad.numpy()
                before = p.detach().numpy() + step
                moved[layer] = moved.get(layer, 0.0) + float((step**2).sum())
                size[layer] = size.get(layer, 0.0) + float((before**2).sum())
            expected[event.step] = {k: math.sqrt(moved[k] / size[k]) for k in moved}

    trainer.subscribe(listen)
    trainer.run()
    measured = [e for e in events if isinstance(e, StepEnd) and e.grad_norms]
    diags = [e for e in events if isinstance(e, LayerDiagnostics)]
    assert [d.step for d in diags] == [s.step for s in measured] == [2, 4, 6, 8]
    for step_end, d in zip(measured, diags):
        assert events.index(d) == events.index(step_end) + 1  # right after its StepEnd
        assert set(d.update_ratio) == {"conv1", "fc1"}
        for layer in ("conv1", "fc1"):
            assert d.update_ratio[layer] == pytest.approx(expected[d.step][layer], rel=1e-4)
            q = d.weight_quantiles[layer]
            assert q.shape == (len(QUANTILES),) and np.all(np.diff(q) >= 0)
            assert np.all(np.diff(d.grad_quantiles[layer]) >= 0)
            w = np.concatenate(
                [
                    p.detach().numpy().ravel()
                    for n, p in trainer.model.named_parameters()
                    if n.startswith(layer)
                ]
            )
            assert q[0] >= w.min() - 1 and q[-1] <= w.max() + 1
        assert set(d.dead_fraction) == {"relu1"} and 0.0 <= d.dead_fraction["relu1"] <= 1.0
    # no hooks are left on the model after the run
    assert not any(m._forward_hooks for m in trainer.model.modules())


def test_a_layer_killed_by_a_huge_negative_bias_reads_as_dead(tiny):
    graph = _chain(SMALL_CNN)
    trainer, _events, _ = _run(graph, tiny, epochs=1, batch_size=32, grad_every=0)
    conv = dict(trainer.model.named_parameters())["conv1.bias"]
    conv.data.numpy()[...] = -1e6  # every pre-activation negative: relu1 outputs zeros
    events = []
    trainer.subscribe(events.append)
    trainer.settings = trainer.settings.replace(grad_every=1, epochs=1)
    trainer.run()
    diags = [e for e in events if isinstance(e, LayerDiagnostics)]
    assert diags and all(d.dead_fraction["relu1"] == 1.0 for d in diags)
    assert all(d.update_ratio["fc1"] == 0.0 or math.isfinite(d.update_ratio["fc1"]) for d in diags)
