"""One self-contained, readable training script per graph, for PyTorch or for our engine.

What the script does comes from the same sources as the app: its options and their defaults
from the settings schema (netbuilder/training/schema.py) and the project's settings, the
optimizer, lr schedule and loss from the recipe (netbuilder/training/recipe.py), the data
preparation from netbuilder/data/prepare.py (carried verbatim). Only validated identifiers and
repr() literals are written into the code; no outside text (file names, graph or block names,
descriptions) reaches it raw.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import keyword
import re
import textwrap
import unicodedata
from pathlib import Path

from netbuilder.data.prepare import CHUNK, EMBEDDED, LUMA_WEIGHTS
from netbuilder.export.forward import ExportError, class_code
from netbuilder.graph.inference import input_nodes
from netbuilder.graph.model import RESERVED_NAMES
from netbuilder.graph.project import atomic_write
from netbuilder.training import recipe
from netbuilder.training.schema import SETTINGS, SettingsError
from netbuilder.training.settings import TrainSettings

TARGETS = ("torch", "engine")
DEFAULT_CLASS = "Net"

_IMPORTS = {
    "torch": """\
import argparse
import gzip
import math
import os
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel

try:  # a progress bar when tqdm is installed
    from tqdm import tqdm
except ImportError:
    tqdm = None
""",
    "engine": """\
import argparse
import gzip
import math
import os
import time
from pathlib import Path
from typing import NamedTuple

import engine as torch
import engine.nn as nn
import engine.nn.functional as F
import engine.optim as optim
import numpy as np
from safetensors.numpy import load_file, save_file

try:  # a progress bar when tqdm is installed
    from tqdm import tqdm
except ImportError:
    tqdm = None
""",
}

_LOADING = '''

class DataError(SystemExit):
    """The data cannot be used: the script stops with this one line."""

    def __init__(self, path, problem):
        super().__init__(problem if path is None else f"{path}: {problem}")


def read_idx(path):
    """An MNIST-format IDX file (optionally gzipped) as a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b"\\x00\\x00\\x08":
        raise DataError(path, "not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) - 4 - 4 * ndim != math.prod(shape):
        raise DataError(path, f"truncated or damaged: the header says {shape}")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(folder, *prefixes):
    for prefix in prefixes:  # also with a prefix: emnist-digits-train-images-idx3-ubyte.gz
        found = sorted(folder.glob(prefix + "*")) or sorted(folder.glob("*[-_.]" + prefix + "*"))
        if found:
            return found[0]
    raise DataError(folder, f"no {prefixes[0]}* file (MNIST IDX layout expected)")


def read_cifar(folder):
    """CIFAR-10's binary batches: records of a label byte, then 1,024 red, green, blue bytes."""

    def read(paths):
        data = b"".join(p.read_bytes() for p in paths)
        if not data or len(data) % 3073:
            raise DataError(folder, "not CIFAR-10 binary batches (3,073-byte records)")
        records = np.frombuffer(data, np.uint8).reshape(-1, 3073)
        images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(images), records[:, 0].astype(np.int64)

    number = lambda p: int(p.stem.rsplit("_", 1)[1])  # noqa: E731
    train = sorted(folder.glob("data_batch_*.bin"), key=number)
    if not train:
        raise DataError(folder, "no data_batch_1.bin")
    return (*read(train), *read([folder / "test_batch.bin"]))


def load_data(path):
    """(x_train, y_train, x_test, y_test) from an IDX folder, a CIFAR-10 binary folder
    (cifar-10-batches-bin or its parent) or a Keras-style .npz."""
    path = Path(path)
    for folder in (path, path / "cifar-10-batches-bin"):
        if (folder / "test_batch.bin").is_file():
            return read_cifar(folder)
    if path.is_dir():
        return (
            read_idx(find_idx(path, "train-images", "train_images")),
            read_idx(find_idx(path, "train-labels", "train_labels")).astype(np.int64),
            read_idx(find_idx(path, "t10k-images", "test-images", "test_images")),
            read_idx(find_idx(path, "t10k-labels", "test-labels", "test_labels")).astype(np.int64),
        )
    with np.load(path, allow_pickle=False) as data:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(data.files)
        if missing:
            raise DataError(path, f"missing arrays {sorted(missing)}")
        arrays = [data[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    return arrays[0], arrays[1].astype(np.int64), arrays[2], arrays[3].astype(np.int64)
'''

_STEPS = '''

def batches(n, batch_size, rng):
    """Index arrays of one epoch: a fresh shuffle from `rng`, in batch_size slices."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def targets(y, output, loss):
    """Labels as the loss `loss` wants them."""
    return {target}


def train_epoch(model, x, y, args, rng, optimizer, loss_fn, rank=0, world_size=1, device="cpu",
                augment=None, augment_random=None):
    """One pass over the data; the mean training loss. `augment` (see augment_batch) changes
    each batch at random, drawing from `augment_random`."""
    model.train()
    total = 0.0
    steps = batches(len(x), args.batch_size, rng)
    if tqdm is not None and rank == 0:
        count = math.ceil(len(x) / args.batch_size)
        steps = tqdm(steps, total=count, leave=False, unit="step", disable=None)  # on a terminal
    for index in steps:
        mine = index[rank::world_size]  # --batch-size is the global batch
        batch = x[mine]
        if augment is not None:
            batch = augment_batch(batch, augment_random, augment)
        xb = torch.from_numpy(batch).to(device)
        yb = torch.from_numpy(y[mine]).to(device)
        optimizer.zero_grad()
        output = model(xb)
        loss = loss_fn(output, targets(yb, output, args.loss))
        loss.backward()
        optimizer.step()
        total += loss.item() * len(index)
    return total / max(len(x), 1)


def evaluate(model, x, y, args, loss_fn, device="cpu", batch_size=500):
    """(mean loss, accuracy) over x, y."""
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            output = model(torch.from_numpy(x[start : start + batch_size]).to(device))
            yb = torch.from_numpy(y[start : start + batch_size]).to(device)
            total += loss_fn(output, targets(yb, output, args.loss)).item() * len(yb)
            correct += int((output.argmax(1) == yb).sum().item())
    return total / max(len(x), 1), correct / max(len(x), 1)
'''

_SETUP_TORCH = '''

def setup():
    """(rank, world size, device); joins the process group when started by torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world_size > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world_size > 1 else 0
    if cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return rank, world_size, torch.device("cuda", local_rank)
    return rank, world_size, torch.device("cpu")
'''

_SETUP_ENGINE = '''

def setup():
    """(rank, world size, device): the engine runs in one process on the CPU."""
    return 0, 1, "cpu"
'''

_ARGS = '''

def default_threads():
    """Physical cores (about half the logical ones where there are several). Torch's default,
    one thread per logical core, runs several times slower on a machine busy with other work."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (count or 2) // 2)


def number(low=None, high=None, low_open=False, high_open=False, whole=False):
    """An argparse type: a finite number (whole if asked) within the bounds."""

    def parse(text):
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            kind = "a whole number" if whole else "a number"
            raise argparse.ArgumentTypeError(f"must be {{kind}}, got {{text!r}}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {{text}}")
        if low is not None and (value < low or (low_open and value == low)):
            bound = "above" if low_open else "at least"
            raise argparse.ArgumentTypeError(f"must be {{bound}} {{low:g}}, got {{text}}")
        if high is not None and (value > high or (high_open and value == high)):
            bound = "below" if high_open else "at most"
            raise argparse.ArgumentTypeError(f"must be {{bound}} {{high:g}}, got {{text}}")
        return value

    return parse


def whole_numbers(text):
    """Epochs separated by commas ("2,4"), sorted."""
    parse = number(low=1, whole=True)
    return sorted(parse(part) for part in text.replace(" ", "").split(",") if part)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description={description},
    )
    parser.add_argument(
        "--data", required=True, help="MNIST-format IDX folder, CIFAR-10 binary folder or .npz"
    )
{options}
    parser.add_argument(
        "--threads",
        type=number(low=1, whole=True),
        default=default_threads(),
        help="CPU threads (default: %(default)s, the physical cores)",
    )
    parser.add_argument("--save", help="write the trained weights to this .safetensors file")
    parser.add_argument(
        "--weights",
        default={weights},
        help={weights_help!r},
    )
    return parser.parse_args(argv)
'''

_MAIN = '''

def make_optimizer(args, parameters):
{optimizers}

def make_scheduler(args, optimizer):
    """The lr schedule, stepped once per epoch (None: constant lr)."""
{schedules}

def make_loss(args):
{losses}

def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rank, world_size, device = setup()
    x_train, y_train, x_test, y_test = load_data(args.data)
    x_train, y_train, x_val, y_val, x_test, y_test, _mean, _std = prepare_arrays(
        x_train, y_train, x_test, y_test, INPUT_SHAPE, args.val_split, args.seed, args.data
    )
    torch.manual_seed(args.seed)
    model = {class_name}().to(device)
    if args.weights:
{load_weights}
    torch.manual_seed(args.seed)  # dropout masks follow the seed
    net = {wrap}
    optimizer = make_optimizer(args, net.parameters())
    scheduler = make_scheduler(args, optimizer)
    loss_fn = make_loss(args)
    rng = np.random.default_rng(args.seed)  # the shuffling order
    augment = make_augment(args, INPUT_SHAPE, _mean, _std)
    augment_random = augment_rng(args.seed)
    accuracy = None
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(net, x_train, y_train, args, rng, optimizer, loss_fn, rank,
                           world_size, device, augment, augment_random)
        test_loss, accuracy = evaluate(model, x_test, y_test, args, loss_fn, device)
        line = f"epoch {{epoch}}/{{args.epochs}}: train loss {{loss:.4f}}, "
        watched = test_loss
        if len(x_val):
            watched, val_accuracy = evaluate(model, x_val, y_val, args, loss_fn, device)
            line += f"val loss {{watched:.4f}}, val accuracy {{val_accuracy:.4f}}, "
        if scheduler is not None and args.schedule == "plateau":
            scheduler.step(watched)  # the validation loss, or the test loss without a split
        elif scheduler is not None:
            scheduler.step()
        if rank == 0:
            seconds = time.perf_counter() - start
            print(f"{{line}}test loss {{test_loss:.4f}}, test accuracy {{accuracy:.4f}}, "
                  f"{{seconds:.1f}} s", flush=True)
    if rank == 0:
        if accuracy is None:
            accuracy = evaluate(model, x_test, y_test, args, loss_fn, device)[1]
        print(f"test accuracy: {{accuracy:.4f}}")
        if args.save:
{save}
{finish}

if __name__ == "__main__":
    main()
'''

_FINISH_TORCH = """\
    if world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
"""

_WEIGHTS = {
    "torch": (
        "        model.load_state_dict(load_file(args.weights, device=str(device)))",
        "            state = model.state_dict()\n"
        "            state = {k: v.detach().cpu().contiguous() for k, v in state.items()}\n"
        "            save_file(state, args.save)",
    ),
    "engine": (
        "        state = {k: torch.from_numpy(v) for k, v in load_file(args.weights).items()}\n"
        "        model.load_state_dict(state)",
        "            state = model.state_dict()\n"
        "            save_file({k: v.detach().numpy() for k, v in state.items()}, args.save)",
    ),
}


def _lit(value) -> str:
    """repr(value), with double quotes for plain strings (the project's code style)."""
    if isinstance(value, list | tuple):
        items = ", ".join(_lit(v) for v in value)
        if isinstance(value, tuple):
            return f"({items},)" if len(value) == 1 else f"({items})"
        return f"[{items}]"
    text = repr(value)
    if isinstance(value, str) and "'" not in value and '"' not in value:
        text = '"' + text[1:-1] + '"'
    return text


def _wrap_text(text: str, indent: str, width: int = 96) -> str:
    """A string literal of `text` as implicitly joined repr() chunks that fit in `width`."""
    room = max(20, width - len(indent) - 4)
    chunks, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) + 1 > room:
            chunks.append(line + " ")
            line = word
        else:
            line = f"{line} {word}" if line else word
    chunks.append(line)
    if len(chunks) == 1:
        return _lit(chunks[0])
    return "(\n" + "".join(f"{indent}    {_lit(c)}\n" for c in chunks) + f"{indent})"


def _chunked(text: str, indent: str, size: int = 40) -> str:
    """A string literal of any text: repr() chunks, one per line when it is long."""
    chunks = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    if len(chunks) == 1:
        return _lit(text)
    return "\n" + "".join(f"{indent}    {_lit(c)}\n" for c in chunks) + indent


def _wrapped_literal(text: str, indent: str) -> str:
    """A string literal that fits the line: short ones as they are, longer ones as adjacent
    literals in parentheses, split between words (their concatenation is `text`)."""
    if len(indent) + len(_lit(text)) + 16 <= 96:
        return _lit(text)
    parts = textwrap.wrap(text, 60, drop_whitespace=False, break_on_hyphens=False)
    return "(\n" + "".join(f"{indent}    {_lit(p)}\n" for p in parts) + f"{indent})"


def _call(prefix: str, head: str, arguments: list[str], indent: str) -> str:
    """`prefix head(arguments)` on one line, or one argument per line when too long."""
    line = f"{indent}{prefix}{head}({', '.join(arguments)})"
    if len(line) <= 96:
        return line
    inner = "".join(f"{indent}    {a},\n" for a in arguments)
    return f"{indent}{prefix}{head}(\n{inner}{indent})"


def _number_type(low, high, low_open, high_open, whole) -> str:
    parts = []
    if low is not None:
        parts.append(f"low={low!r}")
    if high is not None:
        parts.append(f"high={high!r}")
    if low_open:
        parts.append("low_open=True")
    if high_open:
        parts.append("high_open=True")
    if whole:
        parts.append("whole=True")
    return f"number({', '.join(parts)})"


def _option_code(setting, default) -> str:
    """parser.add_argument(...) for one setting, its default the project's value."""
    help_text = setting.help
    low = setting.low
    if setting.name == "epochs":
        low, help_text = 0, help_text + " (0: only evaluate the weights)"
    kind = setting.kind
    args = [_lit(setting.option)]
    if kind == "choice":
        args.append(f"choices={_lit(list(setting.keys))}")
    elif kind == "bool":
        args.append("action=argparse.BooleanOptionalAction")
    elif kind in ("int", "float"):
        whole = kind == "int"
        low = int(low) if whole and low is not None else low
        args.append(
            "type=" + _number_type(low, setting.high, setting.low_open, setting.high_open, whole)
        )
    elif kind == "pair":
        args += [
            "nargs=2",
            "type=" + _number_type(low, setting.high, setting.low_open, setting.high_open, False),
            f"metavar={_lit(tuple(f'{setting.name[:-1].upper()}{i + 1}' for i in range(2)))}",
        ]
    elif kind == "ints":
        args += ["type=whole_numbers", 'metavar="N,N"']
        default = list(default)
    else:
        raise ExportError(f"the script has no option for a {kind} setting")
    args.append(f"default={_lit(default)}")
    help_text = help_text.replace("%", "%%") + " (default: %(default)s)"
    args.append("help=" + _wrap_text(help_text, "        "))
    inner = "".join(f"        {a},\n" for a in args)
    return f"    parser.add_argument(\n{inner}    )"


def _branches(table: dict, key: str, module: str, first: str, what: str) -> str:
    """`if args.<key> == "a": return <call>` for each entry of a recipe table."""
    lines = []
    for name, call in table.items():
        lines.append(f"    if args.{key} == {_lit(name)}:")
        if call is None:
            lines.append("        return None")
            continue
        need = recipe.NEEDS.get(name) if key == "schedule" else None
        if need is not None:
            setting, _test, code, problem = need
            lines.append(f"        if {code.format(args='args')}:")
            message = f"--{setting.replace('_', '-')} {problem}"
            lines.append(f"            raise SystemExit({_lit(message)})")
        lines.append(
            _call("return ", f"{module}.{call.ctor}", call.code_arguments(first), "        ")
        )
    lines.append(f'    raise SystemExit(f"unknown {what} {{args.{key}!r}}")')
    return "\n".join(lines) + "\n\n"


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _script_names(text: str) -> set[str]:
    """Every name the script defines or reads (a class must not shadow any of them)."""
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def _usable(name, taken) -> str | None:
    """`name` as Python reads it (NFKC) if it can name the class, else None."""
    if not isinstance(name, str):
        return None
    name = _nfkc(name)
    ok = (
        name.isidentifier()
        and name.isascii()
        and not name.startswith("_")
        and not keyword.iskeyword(name)
        and not keyword.issoftkeyword(name)
        and name not in taken
    )
    return name if ok else None


def usable_composite_class(name: str, taken: set) -> bool:
    """Whether a composite definition's name can name its class in the script: an ASCII
    identifier as written (NFKC changes nothing), no keyword, builtin or reserved name, and no
    word of the script's fixed parts (a class must not shadow what the script uses)."""
    fixed = [*_IMPORTS.values(), _LOADING, _STEPS, _SETUP_TORCH, _SETUP_ENGINE, _ARGS, _MAIN]
    fixed += [_FINISH_TORCH, _embedded_preparation(), *("\n".join(w) for w in _WEIGHTS.values())]
    words = set(re.findall(r"[A-Za-z_]\w*", "\n".join(fixed)))
    blocked = set(taken) | words | set(dir(builtins)) | RESERVED_NAMES
    return _usable(name, blocked) == name


def camel_case(text: str) -> str:
    """ "my-lenet" -> "MyLenet": a project file's name as a class name."""
    words = re.split(r"[^0-9A-Za-z]+", _nfkc(text))
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def _class_name(graph, class_name, project_name, taken) -> str:
    """An explicit class_name must be usable. Otherwise the graph's name when the user gave
    one, else the project's name in CamelCase, else Net."""
    if class_name is not None:
        usable = _usable(class_name, taken)
        if usable is None:
            raise ExportError(f"{class_name!r} cannot name a Python class; use a name like Net")
        return usable
    graph_name = getattr(graph, "name", "")
    candidates = [graph_name] if graph_name != DEFAULT_CLASS else []
    if project_name:
        candidates.append(camel_case(project_name))
    for candidate in candidates:
        usable = _usable(candidate, taken)
        if usable is not None:
            return usable
    return DEFAULT_CLASS


def _settings(training) -> TrainSettings:
    """The project's settings, checked as the app checks them: a script must not start from
    defaults the app would refuse."""
    try:
        settings = TrainSettings.from_dict(training or {})
        recipe.check(settings)
    except SettingsError as exc:
        raise ExportError(f"training setting {exc}") from None
    return settings


def _embedded_preparation() -> str:
    """netbuilder/data/prepare.py's functions, verbatim: the app's data preparation."""
    parts = [
        f"\n\nLUMA = np.array({LUMA_WEIGHTS!r}, dtype=np.float32)\n",
        f"CHUNK = {CHUNK!r}\n",
    ]
    for item in EMBEDDED:
        parts.append("\n\n" + textwrap.dedent(inspect.getsource(item)))
    return "".join(parts)


def export_script(
    graph,
    target: str = "torch",
    class_name: str | None = None,
    training: dict | None = None,
    weights_name: str | None = None,
    script_name: str | None = None,
    project_name: str | None = None,
) -> str:
    """The script's text. class_name defaults to the graph's name (or project_name in
    CamelCase when the graph keeps the default name); training: the project's training
    settings (defaults of the script's options); weights_name: a .safetensors file beside the
    script that --weights loads by default. script_name is accepted for callers that pass it;
    no file name is written into the script."""
    del script_name  # the script names itself through argparse
    if target not in TARGETS:
        raise ExportError(f"unknown export target {target!r}; use 'torch' or 'engine'")
    settings = _settings(training)
    from netbuilder.training.trainer import TrainingError, check_loss_fits

    try:  # the script must train as the app would: no NLL on raw scores
        check_loss_fits(graph, settings.loss)
    except TrainingError as exc:
        raise ExportError(f"{exc} (the loss is a training setting of the project)") from None
    net = class_code(graph, DEFAULT_CLASS)  # raises ExportError when the graph has problems
    input_shape = tuple(int(d) for d in graph.nodes[input_nodes(graph)[0]].out_shape)

    lib = "PyTorch" if target == "torch" else "the NetBuilder engine"
    distributed = (
        "\nSeveral processes (DistributedDataParallel): torchrun --nproc_per_node 2 THIS_FILE "
        "--data FOLDER\n"
        if target == "torch"
        else ""
    )
    options = "\n".join(_option_code(s, getattr(settings, s.name)) for s in SETTINGS if s.script)
    if weights_name is not None:
        name_literal = _chunked(weights_name, "        ")
        weights_default = f"str(Path(__file__).with_name({name_literal}))"
        weights_help = "start from these .safetensors (default: the exported weights)"
    else:
        weights_default, weights_help = "None", "start from these .safetensors"
    load_weights, save = _WEIGHTS[target]

    def compose(name: str) -> str:
        description = f"Train {name}, a network exported from NetBuilder, with {lib}."
        doc = (
            f'"""{name}: a network exported from NetBuilder.\n\n'
            f"Trains on an MNIST-format IDX folder, a CIFAR-10 binary folder or a Keras-style\n"
            f".npz with {lib}\n"
            "and prints one line per epoch and the test accuracy; --help lists the options.\n"
            f'{distributed}"""\n\n'
        )
        return "".join(
            [
                doc,
                _IMPORTS[target],
                f"\nINPUT_SHAPE = {input_shape!r}\n\n\n",
                net.replace(f"class {DEFAULT_CLASS}(", f"class {name}(", 1),
                _LOADING,
                _embedded_preparation(),
                _STEPS.replace("{target}", _target_code()),
                _SETUP_TORCH if target == "torch" else _SETUP_ENGINE,
                _ARGS.format(
                    description=_wrapped_literal(description, "        "),
                    options=options,
                    weights=weights_default,
                    weights_help=weights_help,
                ),
                _MAIN.format(
                    optimizers=_branches(
                        recipe.OPTIMIZERS, "optimizer", "optim", "parameters", "optimizer"
                    ),
                    schedules=_branches(
                        recipe.SCHEDULES, "schedule", "optim.lr_scheduler", "optimizer", "schedule"
                    ),
                    losses=_branches(recipe.LOSSES, "loss", "nn", "", "loss"),
                    class_name=name,
                    load_weights=load_weights,
                    save=save,
                    finish=_FINISH_TORCH if target == "torch" else "",
                    wrap="DistributedDataParallel(model) if world_size > 1 else model"
                    if target == "torch"
                    else "model",
                ),
            ]
        ).replace("\n\n\n\n", "\n\n\n")

    taken = (_script_names(compose(DEFAULT_CLASS)) | set(dir(builtins)) | RESERVED_NAMES) - {
        DEFAULT_CLASS
    }
    name = _class_name(graph, class_name, project_name, taken)
    return compose(name)


def _target_code() -> str:
    """targets()'s body: one-hot labels for the losses that compare scores with them."""
    one_hot = tuple(sorted(recipe.ONE_HOT_LOSSES))
    return f"F.one_hot(y, output.shape[1]).float() if loss in {_lit(one_hot)} else y"


def _expected_state(graph) -> dict:
    """{key: shape} of the network's state_dict, from the engine build of the graph."""
    from netbuilder.compile import compile_graph

    model = compile_graph(graph)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def load_weights(weights) -> tuple[dict, str]:
    """({key: array}, where they came from) for a .safetensors path or a {key: array|tensor}
    mapping; ExportError naming the file when it cannot be read."""
    if isinstance(weights, dict):
        return {k: _as_array(v) for k, v in weights.items()}, "weights"
    from safetensors.numpy import load_file

    try:
        return load_file(str(weights)), str(weights)
    except FileNotFoundError:
        raise ExportError(f"{weights}: no such weights file") from None
    except Exception as exc:  # safetensors raises its own error types on bad files
        raise ExportError(f"{weights}: not a readable .safetensors file ({exc})") from None


def check_weights(graph, arrays: dict, source: str, expected: dict | None = None) -> None:
    """ExportError unless `arrays` are exactly the network's state_dict (names and shapes);
    `expected` ({key: shape}) when the caller has built the network already."""
    expected = _expected_state(graph) if expected is None else expected
    missing = [k for k in expected if k not in arrays]
    extra = [k for k in arrays if k not in expected]
    wrong = [
        f"{k} is {tuple(arrays[k].shape)} but the network needs {expected[k]}"
        for k in expected
        if k in arrays and tuple(arrays[k].shape) != expected[k]
    ]
    if missing or extra or wrong:
        details = []
        if missing:
            details.append("missing " + ", ".join(missing))
        if extra:
            details.append("unexpected " + ", ".join(extra))
        details += wrong
        raise ExportError(
            f"{source}: the weights do not fit this network ({'; '.join(details)}); export "
            f"without weights or retrain the network"
        )


def write_export(
    project_or_graph, path, target: str = "torch", weights=None, project_name=None
) -> Path:
    """Write the script to `path` atomically. weights: None, a .safetensors path, or
    {name: array}; written beside the script as <stem>.safetensors and loaded by default.
    project_name (the project file's name) names the class when the network has no name."""
    graph = getattr(project_or_graph, "graph", project_or_graph)
    training = getattr(project_or_graph, "training", None)
    path = Path(path)
    weights_name = None
    arrays = None
    if weights is not None:
        arrays, source = load_weights(weights)
        check_weights(graph, arrays, source)
        weights_name = path.with_suffix(".safetensors").name
    text = export_script(
        graph, target, training=training, weights_name=weights_name, project_name=project_name
    )
    if arrays is not None:
        _write_weights(arrays, path.with_suffix(".safetensors"), weights)
    atomic_write(path, text.encode("utf-8"))
    return path


def _as_array(value):
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.array(value, order="C")  # ascontiguousarray would make a 0-d buffer 1-d


def _write_weights(arrays: dict, dest: Path, source) -> None:
    from engine.fileio import same_file

    if not isinstance(source, dict) and same_file(source, dest):
        return  # already in place
    if isinstance(source, dict):
        from safetensors.numpy import save

        data = save(arrays)
    else:
        data = Path(source).read_bytes()
    atomic_write(dest, data)
