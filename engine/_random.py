"""The global random generator behind randn/rand/init/dropout; ``manual_seed`` resets it."""

import numpy as np

_default = None


class Generator:
    """PyTorch's ``torch.Generator``: its own numpy stream, seeded with ``manual_seed``."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self):
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self._rng = np.random.default_rng(self._seed)
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        import pickle

        from engine.tensor import Tensor

        return Tensor._wrap(
            np.frombuffer(pickle.dumps(self._rng.bit_generator.state), np.uint8).copy()
        )

    def set_state(self, state):
        import pickle

        self._rng.bit_generator.state = pickle.loads(state._data.tobytes())
        return self


default_generator = Generator()


def rng(generator=None):
    """The numpy Generator to draw from."""
    return (generator or default_generator)._rng


def manual_seed(seed):
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()
