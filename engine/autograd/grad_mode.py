"""Grad mode: a per-thread switch, as in PyTorch (the trainer runs on its own thread)."""

import functools
import threading


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled():
    return _state.enabled


class _GradModeContext:
    """Base of the context managers; each also works as a decorator."""

    _mode = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class _FixedGradMode(_GradModeContext):
    """A context with a fixed mode that also decorates without the call: ``@no_grad``."""

    def __new__(cls, orig_func=None):
        if orig_func is not None and callable(orig_func):
            return cls()(orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func=None):
        pass


class no_grad(_FixedGradMode):  # noqa: N801 - PyTorch's spelling
    """``with no_grad():``, ``@no_grad()`` and ``@no_grad`` (without the call), as PyTorch."""

    _mode = False


class enable_grad(_FixedGradMode):  # noqa: N801
    _mode = True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """``set_grad_enabled(False)`` switches at once (as a call) and restores on exit (as a with)."""

    def __init__(self, mode):
        self._prev = _state.enabled
        self._mode = bool(mode)
        _state.enabled = self._mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, func):
        mode = self._mode
        _state.enabled = self._prev

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper


class inference_mode(_GradModeContext):  # noqa: N801
    def __init__(self, mode=True):
        self._mode = not mode

    def __call__(self, func):
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            ctx = inference_mode(not mode)
            with ctx:
                return func(*args, **kwargs)

        return wrapper
