"""What a project file may hold. A file past these limits is refused when it is opened, with one
line naming the field; they sit far above any real network and keep a hostile file from
freezing the editor or exhausting memory. docs/CONTRACTS.md lists them for users."""

from __future__ import annotations

MAX_BLOCKS = 10_000  # blocks in one network
MAX_WIRES = 4 * MAX_BLOCKS
MAX_INPUT_PORT = 255  # highest input port of a block taking any number of inputs (Concat)
MAX_INT = 2**31 - 1  # magnitude of any whole-number parameter (sizes, channels, strides)
MAX_COORDINATE = 1e7  # |x| and |y| of a block's position on the canvas
MAX_NAME_LENGTH = 200  # a network's name
MAX_PARAMS_PER_BLOCK = 2**31  # parameters in one block (8 GiB as float32)
MAX_VALUES_PER_SAMPLE = 2**31  # values of one block's output for one sample


def int_beyond_limit(value) -> bool:
    """True for an int (also inside lists/tuples) whose magnitude exceeds MAX_INT."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > MAX_INT
    if isinstance(value, list | tuple):
        return any(int_beyond_limit(v) for v in value)
    return False


def lone_surrogate_path(data) -> str | None:
    """Where parsed JSON holds text with a lone surrogate (an escape such as \\ud800 that
    encodes no character and cannot be written back as UTF-8), or None. Iterative."""
    stack = [(data, "top level")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    try:
                        key.encode("utf-8")
                    except UnicodeEncodeError:
                        return f"{where}: a field name"
                stack.append((item, f"{key}" if where == "top level" else f"{where}.{key}"))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
    return None
