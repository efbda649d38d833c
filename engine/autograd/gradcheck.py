"""Finite-difference check of analytical gradients (use float64 inputs)."""

import numpy as np

from engine.autograd.grad_mode import no_grad


class GradcheckError(RuntimeError):
    pass


def _outputs(func, inputs):
    out = func(*inputs)
    return out if isinstance(out, tuple) else (out,)


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_):
    """Compare each input's analytical Jacobian (from backward) with central differences."""
    from engine.autograd import grad as autograd_grad
    from engine.tensor import Tensor

    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff_inputs = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not diff_inputs:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for t in diff_inputs:
        if t._data.dtype != np.float64:
            import warnings

            warnings.warn(
                "Input to gradcheck is not a double precision floating point tensor; the check "
                "will likely fail",
                stacklevel=2,
            )
    outputs = [o for o in _outputs(func, inputs) if isinstance(o, Tensor) and o.requires_grad]
    for oi, out in enumerate(outputs):
        n_out = out._data.size
        analytical = [np.zeros((t._data.size, n_out)) for t in diff_inputs]
        for j in range(n_out):
            seed = np.zeros(out._data.size, dtype=out._data.dtype)
            seed[j] = 1
            grads = autograd_grad(
                [out],
                diff_inputs,
                [Tensor._wrap(seed.reshape(out._data.shape))],
                retain_graph=True,
                allow_unused=True,
            )
            for k, g in enumerate(grads):
                if g is not None:
                    analytical[k][:, j] = g._data.reshape(-1)
        for k, t in enumerate(diff_inputs):
            flat = t._data.reshape(-1)  # a view: we perturb in place
            if not np.shares_memory(flat, t._data):
                raise RuntimeError("gradcheck needs contiguous inputs")
            numerical = np.zeros((flat.size, n_out))
            for i in range(flat.size):
                orig = flat[i]
                with no_grad():
                    # copies: a view op's output shares the input's memory
                    flat[i] = orig + eps
                    op = [o for o in _outputs(func, inputs) if isinstance(o, Tensor)][oi]
                    op = op._data.copy()
                    flat[i] = orig - eps
                    om = [o for o in _outputs(func, inputs) if isinstance(o, Tensor)][oi]
                    om = om._data.copy()
                    flat[i] = orig
                numerical[i] = ((op - om) / (2 * eps)).reshape(-1)
            if not np.allclose(analytical[k], numerical, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {oi} with respect to input {k},\n"
                    f"numerical:{numerical}\nanalytical:{analytical[k]}\n"
                )
    return True
