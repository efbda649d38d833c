"""Tensor is put together from the op modules' mixins: the pieces must fit as one class."""

import copy
import inspect
import pickle
import sys

import numpy as np

import engine


def test_each_method_is_defined_in_one_place():
    owners = {}
    for klass in engine.Tensor.__mro__[:-1]:
        for name in vars(klass):
            if name not in ("__module__", "__qualname__", "__doc__", "__slots__", "__dict__"):
                owners.setdefault(name, []).append(klass.__name__)
    assert {name: where for name, where in owners.items() if len(where) > 1} == {}


def test_tensors_stay_slot_only():
    t = engine.ones(2, requires_grad=True)
    assert not hasattr(t, "__dict__")
    assert not hasattr(engine.nn.Parameter(engine.ones(2)), "__dict__")


def test_methods_show_their_parameters():
    # the numpy-spelling wrappers and the ops bound as methods keep the real signature
    for name in ("sum", "mean", "max", "flatten", "gather", "clamp", "exp", "chunk", "scatter"):
        params = list(inspect.signature(getattr(engine.Tensor, name)).parameters)
        assert params[1:2] != ["args"] and "kwargs" not in params, (name, params)
    assert list(inspect.signature(engine.Tensor.sum).parameters)[1:] == ["dim", "keepdim", "dtype"]


def test_pickles_name_the_rebuild_function_they_always_named():
    # files pickled before keep loading: they refer to engine.tensor._rebuild
    t = engine.tensor([[1.0, 2.0]], requires_grad=True)
    rebuild = t.__reduce_ex__(2)[0]
    assert (rebuild.__module__, rebuild.__qualname__) == ("engine.tensor", "_rebuild")
    assert rebuild is sys.modules["engine.tensor"]._rebuild
    back = pickle.loads(pickle.dumps(t))
    assert type(back) is engine.Tensor and back.requires_grad
    np.testing.assert_array_equal(back.numpy(force=True), t.numpy(force=True))
    p = pickle.loads(pickle.dumps(engine.nn.Parameter(engine.ones(3))))
    assert type(p) is engine.nn.Parameter and p.requires_grad
    assert type(copy.deepcopy(t)) is engine.Tensor


def test_ops_wrap_results_in_the_tensor_class():
    a = engine.ones(3, requires_grad=True)
    results = (a + 1, a.sum(), a.view(3, 1), a[1:], a @ a, a.exp(), engine.cat([a, a]))
    assert all(type(r) is engine.Tensor for r in results)
