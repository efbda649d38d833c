"""torch.backends' availability flags (``torch.backends.mps.is_available()``): all off."""

import types

mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cudnn = types.SimpleNamespace(is_available=lambda: False, deterministic=False, benchmark=False)
