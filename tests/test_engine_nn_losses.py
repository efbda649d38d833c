"""Losses and the functional API against PyTorch: every reduction and option."""

import numpy as np
import pytest
from engine_parity import check_op

import engine
import engine.nn.functional as F

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(0, 2, (5, 4)).astype(np.float32)
CLASSES = np.array([1, 0, 3, 3, 2])
PROBS = RNG.uniform(0.05, 0.95, (5, 4)).astype(np.float32)
IMAGE_LOGITS = RNG.normal(0, 1, (2, 3, 4, 4)).astype(np.float32)
IMAGE_CLASSES = RNG.integers(0, 3, (2, 4, 4))

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_l1_smooth_l1(reduction):
    check_op(lambda m, a, b: m.F.mse_loss(a, b, reduction=reduction), [(3, 4), (3, 4)])
    check_op(lambda m, a, b: m.nn.L1Loss(reduction=reduction)(a, b), [(3, 4), (3, 4)])
    check_op(
        lambda m, a, b: m.F.smooth_l1_loss(a, b, reduction=reduction, beta=0.5), [(3, 4), (3, 4)]
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy(reduction, smoothing):
    check_op(
        lambda m, x, y: m.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)(x, y),
        values=[LOGITS, CLASSES],
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_weight_and_ignore_index(smoothing):
    w = np.array([0.5, 1.0, 2.0, 1.5], np.float32)
    y = np.array([1, -100, 3, 3, 2])
    check_op(
        lambda m, x, t, w: m.F.cross_entropy(
            x, t, weight=w, ignore_index=-100, label_smoothing=smoothing
        ),
        values=[LOGITS, y, w],
        no_grad_inputs=(2,),
    )


def test_cross_entropy_on_images_and_class_probabilities():
    check_op(lambda m, x, y: m.F.cross_entropy(x, y), values=[IMAGE_LOGITS, IMAGE_CLASSES])
    soft = RNG.dirichlet(np.ones(4), 5).astype(np.float32)
    check_op(lambda m, x, y: m.F.cross_entropy(x, y), values=[LOGITS, soft])
    check_op(lambda m, x, y: m.F.cross_entropy(x, y, label_smoothing=0.3), values=[LOGITS, soft])


def test_cross_entropy_unbatched():
    check_op(lambda m, x, y: m.F.cross_entropy(x, y), values=[LOGITS[0], np.array(2)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    check_op(
        lambda m, x, y: m.nn.NLLLoss(reduction=reduction)(x.log_softmax(1), y),
        values=[LOGITS, CLASSES],
    )
    check_op(
        lambda m, x, y: m.F.nll_loss(x, y, reduction=reduction),
        values=[IMAGE_LOGITS, IMAGE_CLASSES],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_losses(reduction):
    target = (RNG.uniform(size=(5, 4)) > 0.5).astype(np.float32)
    check_op(lambda m, p, t: m.nn.BCELoss(reduction=reduction)(p, t), values=[PROBS, target])
    check_op(
        lambda m, x, t: m.nn.BCEWithLogitsLoss(reduction=reduction)(x, t), values=[LOGITS, target]
    )


def test_bce_weight_pos_weight_and_extremes():
    target = (RNG.uniform(size=(5, 4)) > 0.5).astype(np.float32)
    w = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
    check_op(
        lambda m, p, t, w: m.F.binary_cross_entropy(p, t, weight=w),
        values=[PROBS, target, w],
        no_grad_inputs=(2,),
    )
    check_op(
        lambda m, x, t, pw: m.F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
        values=[LOGITS * 20, target, w],
        no_grad_inputs=(2,),
    )
    # log clamped at -100 like PyTorch: p exactly 0 or 1 stays finite
    check_op(
        lambda m, p, t: m.F.binary_cross_entropy(p, t),
        values=[np.array([0.0, 1.0, 0.5], np.float32), np.array([1.0, 0.0, 1.0], np.float32)],
        grad=False,
    )


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_functional_extras():
    check_op(lambda m, a: m.F.pad(a, (1, 2)), [(2, 3)])
    check_op(lambda m, a: m.F.pad(a, (1, 1, 2, 0), value=3.0), [(1, 2, 3, 3)])
    check_op(lambda m, a: m.F.pad(a, (2, 1, 1, 1), mode="reflect"), [(1, 2, 4, 4)])
    check_op(lambda m, a: m.F.pad(a, (1, 2, 2, 1), mode="replicate"), [(1, 2, 3, 3)])
    check_op(lambda m, a: m.F.pad(a, (-1, 1)), [(2, 4)])
    check_op(lambda m, i: m.F.one_hot(i, 5), values=[np.array([0, 3, 1])])
    check_op(lambda m, i: m.F.one_hot(i), values=[np.array([[0, 2], [1, 1]])])
    check_op(lambda m, a: m.F.normalize(a), [(3, 4)])
    check_op(lambda m, a, w: m.F.conv2d(a, w, stride=2, padding=1), [(2, 3, 7, 7), (4, 3, 3, 3)])
    check_op(lambda m, a, w: m.F.conv2d(a, w, padding="same"), [(1, 2, 6, 6), (2, 2, 2, 2)])
    check_op(lambda m, a: m.F.avg_pool2d(a, 3, stride=1), [(1, 2, 5, 5)])
    check_op(
        lambda m, a, b: m.F.kl_div(a.log_softmax(1), b.softmax(1), reduction="batchmean"),
        [(3, 4), (3, 4)],
    )


def test_class_target_out_of_range_says_which():
    with pytest.raises(IndexError, match=r"Target 7 is out of bounds.*4 classes"):
        F.cross_entropy(engine.zeros(2, 4), engine.tensor([1, 7]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        F.nll_loss(engine.zeros(2, 4), engine.tensor([-1, 0]))
    with pytest.raises(
        ValueError, match=r"Expected input batch_size \(2\) to match target batch_size \(3\)"
    ):
        F.cross_entropy(engine.zeros(2, 4), engine.tensor([1, 0, 2]))
    with pytest.raises(RuntimeError, match="expected scalar type Long"):
        F.nll_loss(engine.zeros(2, 4), engine.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(engine.zeros(2), engine.zeros(2), reduction="average")


def test_mse_shape_mismatch_warns_like_torch():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(engine.zeros(3, 1), engine.zeros(3))
