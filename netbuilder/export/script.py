"""One self-contained, readable training script per graph, for PyTorch or for our engine."""

from __future__ import annotations

import keyword
from pathlib import Path

from netbuilder.export.forward import ExportError, class_code
from netbuilder.graph.model import RESERVED_NAMES
from netbuilder.graph.project import atomic_write

TARGETS = ("torch", "engine")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
LOSSES = ("cross_entropy", "nll", "mse")
SCHEDULES = ("none", "step", "multistep", "exponential", "cosine", "plateau")
# module-level names of the generated script, which the class must not shadow
SCRIPT_NAMES = frozenset(
    "argparse gzip os time Path np torch dist nn F optim load_file save_file "
    "DistributedDataParallel DataLoader TensorDataset DistributedSampler INPUT_SHAPE read_idx "
    "find_idx load_data as_nchw channel_stats prepare setup train_epoch evaluate make_optimizer "
    "make_scheduler "
    "parse_args main".split()
)

_IMPORTS = {
    "torch": """\
import argparse
import gzip
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler
""",
    "engine": """\
import argparse
import gzip
import time
from pathlib import Path

import engine as torch
import engine.nn as nn
import engine.nn.functional as F
import engine.optim as optim
import numpy as np
from engine.utils.data import DataLoader, TensorDataset
from safetensors.numpy import load_file, save_file
""",
}

_DATA = '''

def read_idx(path):
    """An MNIST-format IDX file (optionally gzipped) as a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b"\\x00\\x00\\x08":
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(folder, *prefixes):
    for prefix in prefixes:  # also with a prefix: emnist-digits-train-images-idx3-ubyte.gz
        found = sorted(folder.glob(prefix + "*")) or sorted(folder.glob("*[-_.]" + prefix + "*"))
        if found:
            return found[0]
    raise SystemExit(f"{folder}: no {prefixes[0]}* file (MNIST IDX layout expected)")


def load_data(path):
    """(x_train, y_train, x_test, y_test) from an IDX folder or a Keras-style .npz."""
    path = Path(path)
    if path.is_dir():
        return (
            read_idx(find_idx(path, "train-images", "train_images")),
            read_idx(find_idx(path, "train-labels", "train_labels")).astype(np.int64),
            read_idx(find_idx(path, "t10k-images", "test-images", "test_images")),
            read_idx(find_idx(path, "t10k-labels", "test-labels", "test_labels")).astype(np.int64),
        )
    with np.load(path) as data:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(data.files)
        if missing:
            raise SystemExit(f"{path}: missing arrays {sorted(missing)}")
        arrays = [data[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    return arrays[0], arrays[1].astype(np.int64), arrays[2], arrays[3].astype(np.int64)


def as_nchw(images):
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) on the 0-1 scale."""
    x = images.astype(np.float32) / 255.0
    return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)


def channel_stats(images):
    """Per-channel mean and std of the training images, before any padding."""
    x = as_nchw(images)
    return x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3)) + 1e-8


def prepare(images, mean, std):
    """Normalise, centre-pad to INPUT_SHAPE (MNIST 28x28 into 32x32) or flatten for features."""
    x = (as_nchw(images) - mean[:, None, None]) / std[:, None, None]
    if len(INPUT_SHAPE) == 1:
        x = x.reshape(len(x), -1)
        if x.shape[1] != INPUT_SHAPE[0]:
            wanted = INPUT_SHAPE[0]
            raise SystemExit(f"images give {x.shape[1]} features, the network wants {wanted}")
        return np.ascontiguousarray(x, dtype=np.float32)
    channels, height, width = INPUT_SHAPE
    if x.shape[1] != channels:
        raise SystemExit(f"images have {x.shape[1]} channel(s), the network wants {channels}")
    pad_h, pad_w = height - x.shape[2], width - x.shape[3]
    if pad_h < 0 or pad_w < 0:
        size = f"{x.shape[2]}x{x.shape[3]}"
        raise SystemExit(f"images are {size}, larger than the network's input {height}x{width}")
    # padding is zero before normalisation, as torchvision's Pad + Normalize would give
    fill = (-mean / std).astype(np.float32)[None, :, None, None]
    out = np.empty((len(x), channels, height, width), np.float32)
    out[...] = fill
    out[:, :, pad_h // 2 : pad_h // 2 + x.shape[2], pad_w // 2 : pad_w // 2 + x.shape[3]] = x
    return out
'''

_TRAIN_TORCH = '''

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


def train_epoch(model, loader, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        output = model(x)
        loss = {loss_call}
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / max(count, 1)


def evaluate(model, x, y, device, batch_size=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            output = model(torch.from_numpy(x[start : start + batch_size]).to(device))
            predicted = output.argmax(1).cpu().numpy()
            correct += int((predicted == y[start : start + batch_size]).sum())
    return correct / len(x)
'''

_TRAIN_ENGINE = """

def train_epoch(model, loader, optimizer):
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        output = model(x)
        loss = {loss_call}
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / max(count, 1)


def evaluate(model, x, y, batch_size=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            output = model(torch.from_numpy(x[start : start + batch_size]))
            predicted = output.argmax(1).numpy()
            correct += int((predicted == y[start : start + batch_size]).sum())
    return correct / len(x)
"""

_OPTIMIZER = """

def make_optimizer(name, parameters, lr):
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum={momentum!r}{sgd_extra})
    if name == "adam":
        return optim.Adam(parameters, lr=lr{wd})
    if name == "adamw":
        return optim.AdamW(parameters, lr=lr{wd})
    if name == "rmsprop":
        return optim.RMSprop(parameters, lr=lr{rmsprop_extra})
    return optim.Adagrad(parameters, lr=lr{wd})
"""

_ARGS = """

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="MNIST-format IDX folder or Keras .npz")
    parser.add_argument("--epochs", type=int, default={epochs})
    parser.add_argument("--batch-size", type=int, default={batch_size}, help={batch_help})
    parser.add_argument("--lr", type=float, default={lr!r})
    parser.add_argument(
        "--optimizer", choices={optimizers}, default="{optimizer}"
    )
    parser.add_argument("--seed", type=int, default={seed})
    parser.add_argument("--save", help="write the trained weights to this .safetensors file")
    parser.add_argument(
        "--weights",
        default={weights},
        help={weights_help},
    )
    return parser.parse_args()
"""

_MAIN_TORCH = """

def main():
    args = parse_args()
    rank, world_size, device = setup()
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_data(args.data)
    mean, std = channel_stats(x_train)
    x_train, x_test = prepare(x_train, mean, std), prepare(x_test, mean, std)

    model = {class_name}().to(device)
    if args.weights:
        model.load_state_dict(load_file(args.weights, device=str(device)))
    net = DistributedDataParallel(model) if world_size > 1 else model
    train_set = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
    sampler = DistributedSampler(train_set, seed=args.seed) if world_size > 1 else None
    loader = DataLoader(
        train_set,
        batch_size=max(1, args.batch_size // world_size),  # --batch-size is the global batch
        shuffle=sampler is None,
        sampler=sampler,
        generator=torch.Generator().manual_seed(args.seed),
    )
    optimizer = make_optimizer(args.optimizer, net.parameters(), args.lr)
{scheduler_setup}
    accuracy = None
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)
        start = time.perf_counter()
        loss = train_epoch(net, loader, optimizer, device)
        seconds = time.perf_counter() - start
{scheduler_step}        if rank == 0:
            accuracy = evaluate(model, x_test, y_test, device)
            print(f"epoch {{epoch}}: train loss {{loss:.4f}}, test accuracy {{accuracy:.4f}}, "
                  f"{{seconds:.1f}} s")
    if rank == 0:
        if accuracy is None:
            accuracy = evaluate(model, x_test, y_test, device)
        print(f"test accuracy: {{accuracy:.4f}}")
        if args.save:
            state = {{k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}}
            save_file(state, args.save)
    if world_size > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
"""

_MAIN_ENGINE = """

def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_data(args.data)
    mean, std = channel_stats(x_train)
    x_train, x_test = prepare(x_train, mean, std), prepare(x_test, mean, std)

    model = {class_name}()
    if args.weights:
        state = {{k: torch.from_numpy(v) for k, v in load_file(args.weights).items()}}
        model.load_state_dict(state)
    train_set = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr)
{scheduler_setup}
    accuracy = None
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(model, loader, optimizer)
        seconds = time.perf_counter() - start
{scheduler_step}        accuracy = evaluate(model, x_test, y_test)
        print(f"epoch {{epoch}}: train loss {{loss:.4f}}, test accuracy {{accuracy:.4f}}, "
              f"{{seconds:.1f}} s")
    if accuracy is None:
        accuracy = evaluate(model, x_test, y_test)
    print(f"test accuracy: {{accuracy:.4f}}")
    if args.save:
        save_file({{k: v.detach().numpy() for k, v in model.state_dict().items()}}, args.save)


if __name__ == "__main__":
    main()
"""


def _settings(training: dict | None) -> dict:
    """The exported defaults: the project's training settings where they make sense."""
    t = training or {}

    def pick(key, default, ok):
        value = t.get(key, default)
        try:
            return value if ok(value) else default
        except TypeError:
            return default

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v):
        return isinstance(v, int | float) and not isinstance(v, bool)

    return {
        "epochs": pick("epochs", 1, lambda v: is_int(v) and v >= 0),
        "batch_size": pick("batch_size", 64, lambda v: is_int(v) and v >= 1),
        "lr": float(pick("lr", 0.01, lambda v: is_num(v) and v > 0)),
        "optimizer": pick("optimizer", "sgd", lambda v: v in OPTIMIZERS),
        "momentum": float(pick("momentum", 0.9, lambda v: is_num(v) and 0 <= v < 1)),
        # RMSprop's own momentum: 0 as in torch.optim.RMSprop unless the project sets one
        "rmsprop_momentum": float(
            pick("rmsprop_momentum", 0.0, lambda v: is_num(v) and 0 <= v < 1)
        ),
        "nesterov": pick("nesterov", False, lambda v: isinstance(v, bool)),
        "weight_decay": float(pick("weight_decay", 0.0, lambda v: is_num(v) and v >= 0)),
        "seed": pick("seed", 0, is_int),
        "loss": pick("loss", "cross_entropy", lambda v: v in LOSSES),
        "schedule": pick("schedule", "none", lambda v: v in SCHEDULES),
        "step_size": pick("step_size", 1, lambda v: is_int(v) and v >= 1),
        "gamma": float(pick("gamma", 0.1, lambda v: is_num(v) and v > 0)),
        "milestones": pick(
            "milestones",
            [],
            lambda v: isinstance(v, list | tuple) and all(is_int(m) and m >= 1 for m in v),
        ),
        "t_max": pick("t_max", 0, lambda v: is_int(v) and v >= 0),
        "patience": pick("patience", 2, lambda v: is_int(v) and v >= 0),
    }


def _scheduler_code(s: dict) -> str:
    """make_scheduler() for the project's lr schedule (stepped once per epoch, as in the app),
    or "" when the lr is constant."""
    lr_scheduler = "optim.lr_scheduler"
    schedule, gamma = s["schedule"], s["gamma"]
    if schedule == "step":
        made = f"{lr_scheduler}.StepLR(optimizer, step_size={s['step_size']}, gamma={gamma!r})"
    elif schedule == "multistep":
        if not s["milestones"]:
            return ""  # the app refuses to train with it; nothing sensible to export
        milestones = sorted(s["milestones"])
        made = f"{lr_scheduler}.MultiStepLR(optimizer, milestones={milestones!r}, gamma={gamma!r})"
    elif schedule == "exponential":
        made = f"{lr_scheduler}.ExponentialLR(optimizer, gamma={gamma!r})"
    elif schedule == "cosine":
        t_max = s["t_max"] or "epochs"
        made = f"{lr_scheduler}.CosineAnnealingLR(optimizer, T_max={t_max})"
    elif schedule == "plateau":
        made = (
            f"{lr_scheduler}.ReduceLROnPlateau(\n"
            f'        optimizer, mode="min", factor={gamma!r}, patience={s["patience"]}\n    )'
        )
    else:
        return ""
    return (
        "\n\ndef make_scheduler(optimizer, epochs):\n"
        '    """The lr schedule, stepped once per epoch."""\n'
        f"    return {made}\n"
    )


def _class_name(graph, class_name):
    """An explicit class_name must be valid; a graph name that is not ("my net") gives Net."""
    if class_name is not None:
        if not class_name.isidentifier() or keyword.iskeyword(class_name):
            raise ExportError(f"{class_name!r} cannot name a Python class; use a name like Net")
        return class_name
    name = getattr(graph, "name", "")
    taken = (RESERVED_NAMES | SCRIPT_NAMES) - {"Net"}
    usable = name.isidentifier() and not keyword.iskeyword(name) and name not in taken
    return name if usable else "Net"


def export_script(
    graph,
    target: str = "torch",
    class_name: str | None = None,
    training: dict | None = None,
    weights_name: str | None = None,
    script_name: str | None = None,
) -> str:
    """The script's text. class_name defaults to the graph's name; training: the project's
    training settings (defaults for the command-line options); weights_name: a .safetensors
    file beside the script that --weights loads by default."""
    if target not in TARGETS:
        raise ExportError(f"unknown export target {target!r}; use 'torch' or 'engine'")
    name = _class_name(graph, class_name)
    s = _settings(training)
    inputs = [n for n in graph.nodes.values() if n.type == "Input"]
    net = class_code(graph, name)  # raises ExportError when the graph has problems
    from netbuilder.training.trainer import TrainingError, check_loss_fits

    try:  # the script must train as the app would: no NLL on raw scores
        check_loss_fits(graph, s["loss"])
    except TrainingError as exc:
        raise ExportError(f"{exc} (the loss is a training setting of the project)") from None
    input_shape = tuple(inputs[0].out_shape)

    run_hint = f"Train:  python {{script}} --data path/to/mnist --epochs {s['epochs']}\n" + (
        "Several processes (DistributedDataParallel):\n"
        "        torchrun --nproc_per_node 2 {script} --data path/to/mnist\n"
        if target == "torch"
        else ""
    )
    lib = "PyTorch" if target == "torch" else "the NetBuilder engine"
    doc = (
        f'"""{name}: a network exported from NetBuilder.\n\n'
        f"Trains on MNIST-format data with {lib} and prints the test accuracy.\n\n"
        f'{run_hint}"""\n\n'
    )
    loss_call = {
        "cross_entropy": "F.cross_entropy(output, y)",
        "nll": "F.nll_loss(output, y)",  # the network ends in log-probabilities
        "mse": "F.mse_loss(output, F.one_hot(y, output.shape[1]).float())",
    }[s["loss"]]
    wd = f", weight_decay={s['weight_decay']!r}" if s["weight_decay"] else ""
    sgd_extra = (", nesterov=True" if s["nesterov"] else "") + wd
    scheduler_code = _scheduler_code(s)
    weights_default = f'str(Path(__file__).with_name("{weights_name}"))' if weights_name else "None"
    parts = [
        doc,
        _IMPORTS[target],
        f"\nINPUT_SHAPE = {input_shape!r}\n\n\n",
        net,
        _DATA,
        (_TRAIN_TORCH if target == "torch" else _TRAIN_ENGINE).replace("{loss_call}", loss_call),
        _OPTIMIZER.format(
            momentum=s["momentum"],
            sgd_extra=sgd_extra,
            wd=wd,
            rmsprop_extra=(f", momentum={s['rmsprop_momentum']!r}" if s["rmsprop_momentum"] else "")
            + wd,
        ),
        scheduler_code,
        _ARGS.format(
            epochs=s["epochs"],
            batch_size=s["batch_size"],
            batch_help='"summed over processes"' if target == "torch" else '"images per step"',
            lr=s["lr"],
            optimizers="[" + ", ".join(f'"{o}"' for o in OPTIMIZERS) + "]",
            optimizer=s["optimizer"],
            seed=s["seed"],
            weights=weights_default,
            weights_help='"start from these .safetensors"'
            if weights_name is None
            else '"start from these .safetensors (default: the exported weights)"',
        ),
        (_MAIN_TORCH if target == "torch" else _MAIN_ENGINE).format(
            class_name=name,
            scheduler_setup="    scheduler = make_scheduler(optimizer, args.epochs)\n"
            if scheduler_code
            else "",
            scheduler_step=(
                # the app steps plateau on the validation or test loss; here the train loss
                "        scheduler.step(loss)\n"
                if s["schedule"] == "plateau"
                else "        scheduler.step()\n"
            )
            if scheduler_code
            else "",
        ),
    ]
    return "".join(parts).replace("{script}", script_name or f"{name.lower()}.py")


def _expected_state(graph) -> dict:
    """{key: shape} of the network's state_dict, from the engine build of the graph."""
    from netbuilder.compile import compile_graph

    model = compile_graph(graph)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _check_weights(graph, arrays: dict, source: str) -> None:
    expected = _expected_state(graph)
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


def write_export(project_or_graph, path, target: str = "torch", weights=None) -> Path:
    """Write the script to `path` atomically. weights: None, a .safetensors path, or
    {name: array}; written beside the script as <stem>.safetensors and loaded by default."""
    graph = getattr(project_or_graph, "graph", project_or_graph)
    training = getattr(project_or_graph, "training", None)
    path = Path(path)
    weights_name = None
    arrays = None
    if weights is not None:
        from safetensors.numpy import load_file

        if isinstance(weights, dict):
            arrays = {k: _as_array(v) for k, v in weights.items()}
            source = "weights"
        else:
            source = str(weights)
            try:
                arrays = load_file(str(weights))
            except FileNotFoundError:
                raise ExportError(f"{weights}: no such weights file") from None
            except Exception as exc:  # safetensors raises its own error types on bad files
                raise ExportError(f"{weights}: not a readable .safetensors file ({exc})") from None
        _check_weights(graph, arrays, source)
        weights_name = path.with_suffix(".safetensors").name
    text = export_script(
        graph, target, training=training, weights_name=weights_name, script_name=path.name
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
    return np.ascontiguousarray(value)


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
