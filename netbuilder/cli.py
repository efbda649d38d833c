"""The `netbuilder` command: open the app, or summarise, train and export a project headless.

Only `open` (and a bare `netbuilder`) imports Qt; the other commands run on servers without a
screen. Errors are one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
import warnings
from pathlib import Path

COMMANDS = (
    "open", "summary", "train", "export", "import", "data", "templates", "install-desktop"
)
PROJECT_HELP = (
    "a NetBuilder project file (.nbproj or .json), or the name of a bundled template "
    "(see `netbuilder templates`); a file of that name wins"
)
EXAMPLES = """examples:
  netbuilder                                   open the app (with LeNet)
  netbuilder mlp                               open the MLP template as a new project
  netbuilder templates                         list the bundled templates
  netbuilder summary lenet
  netbuilder train lenet --dataset mnist --epochs 2 --save-weights lenet.safetensors
  netbuilder export lenet -o lenet.py --weights lenet.safetensors
  netbuilder import model.onnx -o model.nbproj
  netbuilder import net.py --class Net --input-shape 3,32,32 -o net.nbproj
  netbuilder data cifar10 --for lenet          counts, classes, shape, mean/std of a data set
"""
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a terminated command
PROBLEMS_SHOWN = 20  # lines of problems printed; a broken 10,000-block file gives a count


class CliError(Exception):
    """A problem the user can fix; main() prints it as one line and exits non-zero."""

    def __init__(self, message, status=EXIT_ERROR):
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and points to --help)."""

    def error(self, message):
        raise CliError(f"{self.prog}: {message} (see {self.prog} --help)", EXIT_USAGE)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from netbuilder.training.schema import BY_NAME, default_recipe
    from netbuilder.training.schema import add_arguments as add_setting_options

    parser = _Parser(
        prog="netbuilder",
        description="Design, train and export neural networks. Without a command, or with "
        "a project file or template name only, opens the app.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "open",
        help="open the app (optionally with a project or a template)",
        description="Open the NetBuilder window, with PROJECT if given.",
    )
    p.add_argument("project", nargs="?", metavar="PROJECT", help=PROJECT_HELP)

    p = sub.add_parser(
        "summary",
        help="print the network's blocks, shapes and parameters",
        description="Print a table of the project's blocks with output shapes "
        "and parameter counts, and the totals. Exits 1 if the network has "
        "problems (they are listed by block).",
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument(
        "--depth",
        type=_non_negative_int,
        default=3,
        metavar="N",
        help="how many levels of composite blocks to open (default 3; 0 lists only the "
        "top-level blocks)",
    )

    p = sub.add_parser(
        "train",
        help="train the project's network",
        description="Train the project's network and print the test accuracy. "
        "Options default to the project's training settings (the classic "
        f"recipe: {default_recipe()}, on the bundled MNIST sample). Ctrl+C stops after the "
        "current step and still writes the files asked for.",
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    add_setting_options(
        p,
        help_overrides={
            "momentum": "momentum of the chosen optimizer: SGD's (default "
            f"{BY_NAME['momentum'].default:g}, the classic recipe) or RMSprop's (default "
            f"{BY_NAME['rmsprop_momentum'].default:g}, as torch.optim.RMSprop); each keeps its "
            "own in the project. Adam and AdamW take betas instead; Adagrad has none",
        },
        metavars={"dataset": "DATA"},
    )
    p.add_argument(
        "--save-weights",
        type=Path,
        metavar="FILE",
        help="write the trained weights (.safetensors, PyTorch's key names)",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="write weights and optimizer state at the end",
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="FILE",
        help="go on from a checkpoint written by --checkpoint (weights, optimizer state, "
        "step count, shuffling): --epochs more epochs. --lr, --momentum and --weight-decay "
        "given with it replace the checkpoint's values; the schedule and the seed go on as "
        "saved, so --schedule, --step-size, --gamma, --milestones and --seed are refused",
    )
    p.add_argument(
        "--metrics-out",
        type=Path,
        metavar="FILE",
        help="write step and epoch metrics, one JSON object per line",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "export",
        help="write the network as a runnable Python script or an ONNX model",
        description="Write the project's network as a self-contained training "
        "script for PyTorch or for the engine, or as an ONNX model.",
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    p.add_argument(
        "--target",
        choices=("torch", "engine", "onnx"),
        default="torch",
        help="a PyTorch or engine training script (.py), or an ONNX model (.onnx) with the "
        "weights inside",
    )
    p.add_argument(
        "--weights",
        type=Path,
        metavar="FILE",
        help="trained weights (.safetensors) the script starts from (ONNX: that it holds)",
    )

    p = sub.add_parser(
        "import",
        help="turn an ONNX model or a PyTorch model's code into a project",
        description="Write a project (and its weights, .safetensors beside it) from an ONNX "
        "model, or from a Python file that defines a PyTorch nn.Module: the file's code runs, "
        "with the engine standing in for torch, and one forward pass is traced.",
    )
    p.add_argument("model", metavar="MODEL", help="an .onnx file, or a .py file with an nn.Module")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="PROJECT.nbproj")
    p.add_argument(
        "--class",
        dest="class_name",
        metavar="NAME",
        help="the nn.Module class (or module-level model) to import from a .py file, when it "
        "defines several",
    )
    p.add_argument(
        "--input-shape",
        metavar="C,H,W",
        help="one sample's shape for a .py model, e.g. 1,28,28 or 784 (default: the file's "
        "INPUT_SHAPE)",
    )
    p.add_argument(
        "--weights",
        type=Path,
        metavar="FILE",
        help="a .py model's trained weights (.safetensors with its state_dict keys)",
    )

    p = sub.add_parser(
        "data",
        help="print what a data set holds: counts per class, image size, mean/std",
        description="Print a data set's summary: images per class (train and test), the "
        "class names, image size and channels, per-channel mean and std. A named data set "
        "(mnist, fashion-mnist, kmnist, cifar10) is downloaded first when it is not in the "
        "cache.",
    )
    p.add_argument(
        "dataset",
        metavar="DATASET",
        help="'sample', 'mnist', 'fashion-mnist', 'kmnist', 'cifar10', an IDX folder, a "
        "CIFAR-10 binary folder, an image folder or a .npz file",
    )
    p.add_argument(
        "--for",
        dest="project",
        metavar="PROJECT",
        help="also say how the images are adapted to this project's Input block (an image "
        "folder is then decoded at its size)",
    )
    p.add_argument("--no-progress", action="store_true", help="no download progress bar")

    sub.add_parser(
        "templates",
        help="list the bundled templates",
        description="List the bundled templates: name, parameter count and what it is. "
        "Any command that takes a PROJECT takes a template's name too.",
    )
    p = sub.add_parser(
        "install-desktop",
        help="add NetBuilder to the desktop's application menu (Linux)",
        description="Add a launcher (a .desktop file and the app icon) to the user's "
        "application menu, in $XDG_DATA_HOME (default ~/.local/share). It starts this "
        "NetBuilder with this Python.",
    )
    p.add_argument("--remove", action="store_true", help="take the launcher away again")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `netbuilder` and `netbuilder FILE.json` open the app, as `netbuilder open [FILE]` does.
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv = ["open", *argv]
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            return _open(None)
        return {
            "open": lambda a: _open(a.project),
            "summary": _summary,
            "train": _train,
            "export": _export,
            "data": _data,
            "templates": _templates,
            "install-desktop": _install_desktop,
            "import": _import,
        }[args.command](args)
    except CliError as exc:
        print(f"netbuilder: error: {exc}", file=sys.stderr)
        return exc.status
    except BrokenPipeError:
        # the reader went away (`netbuilder summary lenet | head`): stop quietly, as cat does;
        # stdout goes to /dev/null so the interpreter's final flush cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one must not
        try:  # interrupt the report with a traceback
            print("netbuilder: interrupted", file=sys.stderr)
        finally:
            signal.signal(signal.SIGINT, previous)
        return EXIT_INTERRUPTED


# -- open -------------------------------------------------------------------------------------


def _open(project) -> int:
    if project is not None and not Path(project).is_file() and _template_name(project) is None:
        raise CliError(_not_found(project))
    try:
        from netbuilder.ui.app import main as app_main
    except ImportError as exc:
        raise CliError(f"the app cannot start: {exc} (is PySide6 installed?)") from exc
    return app_main([sys.argv[0], *([str(project)] if project else [])]) or 0


# -- summary ----------------------------------------------------------------------------------


def _template_name(spec) -> str | None:
    """The bundled template `spec` names, unless a file of that name is there."""
    from netbuilder.graph.templates import template_names

    if Path(spec).is_file() or str(spec) not in template_names():
        return None
    return str(spec)


def _looks_like_path(spec) -> bool:
    return any(c in str(spec) for c in "./\\")


def _not_found(spec) -> str:
    from netbuilder.graph.templates import template_names

    if _looks_like_path(spec):
        return f"{spec}: no such project file"
    return (
        f"{spec}: no such project file or template; the templates are "
        f"{', '.join(template_names())} (see netbuilder templates)"
    )


def _load(path):
    from netbuilder.graph.project import ProjectError, load_project
    from netbuilder.graph.templates import load_template

    try:
        name = _template_name(path)
        if name is not None:
            return load_template(name)
        if not _looks_like_path(path) and not Path(path).exists():
            raise CliError(_not_found(path))  # a mistyped template name
        return load_project(path)
    except ProjectError as exc:
        raise CliError(str(exc)) from exc
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such project file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read it: {exc}") from exc


def _summary_rows(graph, depth, max_depth, port_names=None, prefix="") -> list[tuple]:
    """One row per block; a composite's blocks follow it, indented as torchinfo nests."""
    from netbuilder.blocks.spec import fmt_shape

    nodes = graph.nodes
    order = graph.topological_order()
    placed = set(order)
    order += [nid for nid in nodes if nid not in placed]  # blocks on a loop come last
    port_names = port_names or {}
    order = [nid for nid in order if nid not in port_names]
    into: dict[str, list] = {}
    for e in graph.edges:  # one pass: edges_into per block is quadratic on big networks
        into.setdefault(e.dst, []).append(e)
    rows = []
    for i, nid in enumerate(order):
        node = nodes[nid]
        sources = [
            port_names.get(e.src) or nodes[e.src].name
            for e in sorted(into.get(nid, ()), key=lambda e: e.dst_port)
        ]
        last = i == len(order) - 1
        branch = "" if depth == 0 else prefix + ("└─ " if last else "├─ ")
        rows.append(
            (
                branch + node.name,
                node.definition.name if node.definition is not None else node.type,
                ", ".join(sources) or "-",
                fmt_shape(node.out_shape),
                "?" if node.param_count is None else f"{node.param_count:,}",
            )
        )
        if node.definition is not None and node.inner is not None and depth < max_depth:
            outer = [nodes[e.src].name for e in sorted(into.get(nid, ()), key=lambda e: e.dst_port)]
            names = {
                pid: f"{node.name}:{outer[k] if k < len(outer) else '?'}"
                for k, pid in enumerate(node.definition.inputs)
            }
            inner_prefix = "" if depth == 0 else prefix + ("   " if last else "│  ")
            rows += _summary_rows(node.inner, depth + 1, max_depth, names, inner_prefix)
    return rows


def _leaf_activations(graph) -> int:
    total = 0
    for node in graph.nodes.values():
        if node.definition is not None and node.inner is not None:
            ports = set(node.definition.inputs)
            total += _leaf_activations(node.inner) - sum(
                int(_prod(node.inner.nodes[p].out_shape))
                for p in ports
                if node.inner.nodes[p].out_shape is not None
            )
        elif node.out_shape is not None:
            total += int(_prod(node.out_shape))
    return total


def summary_text(graph, depth: int = 3) -> str:
    """A torchinfo-like table of the graph's blocks, shapes and parameter counts; composite
    blocks open up to `depth` levels."""
    rows = _summary_rows(graph, 0, depth)
    header = ("Block", "Type", "Input from", "Output shape", "Params")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        left = "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths[:-1]))
        return f"{left}  {cells[-1].rjust(widths[-1])}"

    rule = "-" * len(line(header))
    total = graph.total_params
    activations = _leaf_activations(graph)
    out = [
        f"Network: {graph.name}" if getattr(graph, "name", "") else "Network",
        rule,
        line(header),
        rule,
        *(line(r) for r in rows),
        rule,
        f"Total params: {total:,}",
        f"Params size: {total * 4 / 1e6:.2f} MB (float32)",
        f"Activations per sample: {activations:,} values ({activations * 4 / 1e6:.2f} MB forward)",
        "Shapes are per sample (the batch dimension is left out).",
        rule,
    ]
    return "\n".join(out)


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _summary(args) -> int:
    project = _load(args.project)
    graph = project.graph
    print(summary_text(graph, args.depth))
    return _report_problems(graph)


def _report_problems(graph) -> int:
    problems = graph.problems()
    if not problems and not graph.is_valid:
        problems = [
            (
                None,
                "the network has no output: wire the Input block through the "
                "other blocks to a last block",
            )
        ]
    if not problems:
        return 0
    from netbuilder.graph.model import problem_line

    for nid, message in problems[:PROBLEMS_SHOWN]:
        node = graph.nodes.get(nid) if nid is not None else None
        print(problem_line(node.name if node else "network", message), file=sys.stderr)
    if len(problems) > PROBLEMS_SHOWN:
        print(f"... and {len(problems) - PROBLEMS_SHOWN:,} more", file=sys.stderr)
    print(
        f"netbuilder: error: the network has {len(problems)} problem(s); fix them in the editor",
        file=sys.stderr,
    )
    return EXIT_ERROR


# -- train ------------------------------------------------------------------------------------


def _train(args) -> int:
    from netbuilder.training import EpochEnd, Failed, Finished, RunStarted, StepEnd, Trainer
    from netbuilder.training.trainer import TrainingError, check_loss_fits

    project = _load(args.project)
    settings = train_settings(project.training, args, args.project)
    if _report_problems(project.graph):
        return EXIT_ERROR
    try:
        check_loss_fits(project.graph, settings.loss)
    except TrainingError as exc:
        raise CliError(str(exc)) from exc
    _refuse_resume_conflicts(args)
    _check_outputs(
        [
            ("--save-weights", args.save_weights),
            ("--checkpoint", args.checkpoint),
            ("--metrics-out", args.metrics_out),
        ],
        [
            ("the project", args.project),
            ("--resume", args.resume),
            ("--dataset", _dataset_path(settings.dataset)),
        ],
    )
    data = load_data(
        settings.dataset, progress=not args.no_progress, image_size=_input_image_size(project.graph)
    )
    print(f"data: {data_line(data, project.graph)}", file=sys.stderr)

    # A diverging run overflows inside numpy (also on the engine's worker threads, which
    # np.errstate does not reach); the Trainer reports it in words, so hide numpy's warnings.
    warnings.filterwarnings(
        "ignore", r"(overflow|invalid value|divide by zero) encountered", RuntimeWarning
    )
    # The checkpoint is written here, not by the Trainer: a failing output must not fail the
    # run or keep the other outputs from being written.
    trainer = Trainer(project.graph, settings, data=data)
    if args.resume is None:
        from netbuilder.training.project_weights import project_weights

        start_from = project_weights(project, args.project, project.graph)
        if start_from is not None:  # an imported model's weights, or saved trained ones
            trainer.load_weights(start_from)
            print(f"starting from the weights in {start_from}", file=sys.stderr)
    if args.resume is not None:
        if not args.resume.is_file():
            raise CliError(f"{args.resume}: no such checkpoint file")
        try:
            trainer.load_checkpoint(args.resume)
        except Exception as exc:  # noqa: BLE001 - a wrong or damaged file is one line
            reason = " ".join(str(exc).split()).removeprefix(f"{args.resume}: ")
            if len(reason) > 240:
                reason = reason[:240] + "..."
            raise CliError(
                f"{args.resume}: cannot resume from it ({reason}); it must be a checkpoint "
                "of this network with the same optimizer, written by --checkpoint"
            ) from None
        applied = _apply_resume_overrides(trainer, args)
        print(
            f"resuming after step {trainer.step} (epoch {trainer.epoch})"
            + (f" with {', '.join(applied)}" if applied else ""),
            file=sys.stderr,
        )
    metrics = _MetricsWriter(args.metrics_out) if args.metrics_out else None
    progress = _Progress(enabled=not args.no_progress)
    last_epoch: list[EpochEnd] = []

    def on_event(event):
        if isinstance(event, StepEnd):
            progress.step(event)
            if metrics:
                metrics.step(event)
        elif isinstance(event, EpochEnd):
            last_epoch[:] = [event]
            progress.epoch(event, last_epoch_number, show_lr=settings.schedule != "none")
            if metrics:
                metrics.epoch(event)
        elif isinstance(event, RunStarted):
            progress.start(event)

    first_step = trainer.step  # above 0 when resuming
    last_epoch_number = trainer.epoch + settings.epochs
    trainer.subscribe(on_event)
    stops = _StopSignals(trainer, progress)
    started = time.perf_counter()
    with stops:
        try:
            final = trainer.run()
        finally:
            progress.close()
            if metrics:
                metrics.close()
        failures = _write_outputs(args, trainer, final, metrics)

    if isinstance(final, Failed):
        for line in failures:
            print(f"netbuilder: error: {line}", file=sys.stderr)
        raise CliError(final.message)
    status = 0
    if isinstance(final, Finished):
        seconds = time.perf_counter() - started
        samples = len(trainer.prepared.train_x) * settings.epochs
        print(
            f"trained {settings.epochs} epoch(s), {final.step - first_step} steps, in "
            f"{seconds:.1f} s "
            f"({samples / seconds:,.0f} samples/s, evaluation included)"
        )
        print(f"test accuracy: {last_epoch[0].test_accuracy:.4f}")
    else:
        print(f"stopped at step {final.step}")
        status = EXIT_INTERRUPTED
    if stops.received is not None:
        status = EXIT_TERMINATED if stops.received == signal.SIGTERM else EXIT_INTERRUPTED
    for line in failures:
        print(f"netbuilder: error: {line}", file=sys.stderr)
    return EXIT_ERROR if failures and status == 0 else status


class _StopSignals:
    """While training and writing: the first Ctrl+C or SIGTERM stops after the current step
    (the outputs are still written), a second one quits at once, without a traceback."""

    def __init__(self, trainer, progress):
        self.trainer = trainer
        self.progress = progress
        self.received = None
        self._previous = {}

    def __enter__(self):
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            # once stopping, a further signal while the process exits must not kill it
            # mid-way (or print a traceback): it is on its way out already
            signal.signal(signum, signal.SIG_IGN if self.received is not None else handler)

    def _on_signal(self, signum, frame):
        if self.received is not None:
            sys.stderr.write("\nnetbuilder: interrupted\n")
            sys.stderr.flush()
            os._exit(EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED)
        self.received = signum
        what = "Ctrl+C" if signum == signal.SIGINT else "SIGTERM"
        self.progress.write(f"{what}: stopping after this step ({what} again to quit at once)")
        self.trainer.stop()


def _write_outputs(args, trainer, final, metrics) -> list[str]:
    """Write each output asked for, independently; one line per output that failed."""
    from netbuilder.training import Failed

    failures = []

    def write(path, what, save):
        try:
            save(path)
        except Exception as exc:  # noqa: BLE001 - any write failure is one line for the user
            reason = getattr(exc, "strerror", None) or str(exc)
            reason = reason.removeprefix(f"{path}: ")
            failures.append(f"{path}: could not write the {what}: {reason}")
        else:
            print(f"{what} written to {path}")

    # a failed run's checkpoint still holds its last good weights, as the Trainer's would
    if args.checkpoint and trainer._model is not None:
        write(args.checkpoint, "checkpoint", trainer.save_checkpoint)
    if args.save_weights and not isinstance(final, Failed):
        write(args.save_weights, "weights", trainer.save_weights)
    if metrics:
        if metrics.error:
            failures.append(f"{args.metrics_out}: could not write the metrics: {metrics.error}")
        else:
            print(f"metrics written to {args.metrics_out}")
    return failures


def _dataset_path(spec):
    """The file or folder a data set spec reads, to keep outputs off it."""
    if not isinstance(spec, str):
        return None
    try:
        if spec == "sample":
            from netbuilder.data.datasets import sample_path

            return sample_path()
        if spec.lower() == "mnist":
            from netbuilder.data import mnist_cache_dir

            return mnist_cache_dir()
    except (FileNotFoundError, OSError):
        return None
    return Path(spec).expanduser()


# options whose values a checkpoint carries and that cannot be changed on resuming
_RESUME_FIXED = ("schedule", "step_size", "gamma", "milestones", "seed")


def _refuse_resume_conflicts(args):
    if args.resume is None:
        return
    given = [f"--{name.replace('_', '-')}" for name in _RESUME_FIXED if getattr(args, name, None)
             is not None]  # fmt: skip
    if given:
        raise CliError(
            f"{' and '.join(given)} cannot be changed on --resume: the checkpoint's schedule "
            "and random state go on as saved; leave them out, or train from the start",
            EXIT_USAGE,
        )


def _apply_resume_overrides(trainer, args) -> list[str]:
    """--lr, --momentum and --weight-decay replace what the checkpoint's optimizer saved
    (loading a state dict restores the saved values, as in PyTorch)."""
    applied = []
    groups = trainer.optimizer.param_groups
    if args.lr is not None:
        for group in groups:
            group["lr"] = args.lr
            if "initial_lr" in group:
                group["initial_lr"] = args.lr
        scheduler = trainer.scheduler
        if scheduler is not None and hasattr(scheduler, "base_lrs"):
            scheduler.base_lrs = [args.lr] * len(groups)
        applied.append(f"lr {args.lr:g}")
    for option, key in (("momentum", "momentum"), ("weight_decay", "weight_decay")):
        value = getattr(args, option)
        if value is not None and all(key in group for group in groups):
            for group in groups:
                group[key] = value
            applied.append(f"{option.replace('_', ' ')} {value:g}")
    return applied


def train_settings(training: dict | None, args, project_path):
    """The project's training settings with the command line's options on top; an option
    replaces the project's value before validation, so it can fix a bad one."""
    from netbuilder.training.schema import given
    from netbuilder.training.settings import MOMENTUM_FIELDS, SettingsError, TrainSettings

    merged = dict(training) if isinstance(training, dict) else training
    overrides = given(args)
    momentum = overrides.pop("momentum", None)  # the chosen optimizer's, below
    if isinstance(merged, dict):
        merged.update(overrides)
    try:
        settings = TrainSettings.from_dict(merged)
    except SettingsError as exc:
        raise CliError(f"{project_path}: training settings: {exc}") from exc
    if momentum is not None:
        field_name = MOMENTUM_FIELDS.get(settings.optimizer)
        if field_name is None:
            raise CliError(
                f"--momentum applies to sgd and rmsprop, not {settings.optimizer} "
                "(Adam and AdamW use betas); leave it out or choose --optimizer sgd",
                EXIT_USAGE,
            )
        settings = settings.replace(**{field_name: momentum})
    return settings


def data_line(data, graph) -> str:
    """What the run trains on and how the images are adapted to the Input block."""
    from netbuilder.data.prepare import adaptation_steps

    text = data.describe()
    from netbuilder.graph.inference import input_nodes

    inputs = [graph.nodes[nid] for nid in input_nodes(graph) if graph.nodes[nid].out_shape]
    if len(inputs) != 1:
        return text
    try:
        steps = adaptation_steps(tuple(data.image_shape), tuple(inputs[0].out_shape))
    except Exception:  # noqa: BLE001 - the Trainer reports a misfit in its own words
        return text
    return text + (f"; {', '.join(steps)} for {inputs[0].name}" if steps else "")


def _data(args) -> int:
    from netbuilder.data.summary import summarize

    graph = _load(args.project).graph if args.project else None
    if graph is not None and _report_problems(graph):
        return EXIT_ERROR
    size = _input_image_size(graph) if graph is not None else None
    data = load_data(args.dataset, progress=not args.no_progress, image_size=size)
    for line in summarize(data).lines():
        print(line)
    if graph is not None:
        print(f"for {Path(args.project).name}: {data_line(data, graph)}")
    return 0


def _input_image_size(graph):
    """The Input block's (height, width), the size an image folder is decoded at; or None."""
    inputs = [n for n in graph.nodes.values() if n.type == "Input" and n.out_shape]
    if len(inputs) == 1 and len(inputs[0].out_shape) in (2, 3):
        return tuple(inputs[0].out_shape[-2:])
    return None


def load_data(spec: str, progress=True, image_size=None):
    """load_dataset(spec); for a named data set ("mnist", "cifar10", ...), download it into the
    cache first when it is not there (or is damaged: the download keeps intact files and
    replaces the rest)."""
    from netbuilder.data import DataError, DownloadError, load_dataset
    from netbuilder.data.download import REMOTES, cache_dir, download_dataset

    try:
        return load_dataset(spec, image_size=image_size)
    except DataError as exc:
        if spec.lower() not in REMOTES:
            raise CliError(str(exc)) from exc
    name = spec.lower()
    print(f"downloading {REMOTES[name].title} into {cache_dir() / name}", file=sys.stderr)
    bars = {}

    def on_progress(done, total, file_name):
        if not progress:
            return
        if file_name not in bars:
            from tqdm import tqdm

            for bar in bars.values():
                bar.close()
            bars[file_name] = tqdm(
                total=total, desc=file_name, unit="B", unit_scale=True, file=sys.stderr,
                disable=None,
            )  # fmt: skip
        bars[file_name].update(done - bars[file_name].n)

    try:
        download_dataset(name, progress=on_progress)
    except (DownloadError, DataError) as exc:
        raise CliError(str(exc)) from exc
    except KeyboardInterrupt:
        raise CliError(
            "download interrupted; run the command again to resume it", EXIT_INTERRUPTED
        ) from None
    finally:
        for bar in bars.values():
            bar.close()
    try:
        return load_dataset(spec)
    except DataError as exc:
        raise CliError(str(exc)) from exc


class _Progress:
    """A tqdm bar over all steps with loss, samples/s and ETA; epoch results as lines."""

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.bar = None
        self.rate = None

    def start(self, event):
        if not self.enabled:
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=event.epochs * event.steps_per_epoch,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
            disable=None,
        )

    def step(self, event):
        if self.bar is None:
            return
        # samples/s smoothed over ~20 steps: single steps are too noisy to read
        self.rate = (
            event.samples_per_s
            if self.rate is None
            else (0.95 * self.rate + 0.05 * event.samples_per_s)
        )
        self.bar.set_postfix(
            epoch=event.epoch,
            loss=f"{event.loss:.4f}",
            samples_s=f"{self.rate:,.0f}",
            refresh=False,
        )
        self.bar.update(1)

    def epoch(self, event, epochs, show_lr=False):
        val = ""
        if event.val_loss is not None:
            val = f"val loss {event.val_loss:.4f}, val accuracy {event.val_accuracy:.4f}, "
        lr = f", next lr {event.lr:.3g}" if show_lr else ""  # the schedule's step is visible
        self.write(
            f"epoch {event.epoch}/{epochs}: train loss {event.train_loss:.4f}, {val}test loss "
            f"{event.test_loss:.4f}, test accuracy {event.test_accuracy:.4f}, "
            f"{event.seconds:.1f} s{lr}"
        )

    def write(self, text):
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _MetricsWriter:
    """JSON lines, one per event, flushed as they come: a log that `tail -f` can follow and
    that keeps everything up to a crash (so it is not written atomically, unlike weights)."""

    def __init__(self, path: Path):
        from engine.fileio import open_output_stream

        self.path = path
        self.error = None  # why writing stopped (a full disk): reported at the end
        try:
            self.file = open_output_stream(path)
        except OSError as exc:
            raise CliError(f"{path}: cannot write the metrics: {exc.strerror or exc}") from exc

    def _write(self, record):
        if self.error is not None:
            return
        # strict JSON: a diverged value is written as null, not as NaN
        try:
            self.file.write(json.dumps(_strict(record), allow_nan=False) + "\n")
        except OSError as exc:  # the run goes on; the other outputs are still written
            self.error = exc.strerror or str(exc)

    def step(self, event):
        record = {
            "type": "step",
            "step": event.step,
            "epoch": event.epoch,
            "loss": event.loss,
            "lr": event.lr,
            "samples_per_s": round(event.samples_per_s, 1),
        }
        if event.grad_norms is not None:
            record["grad_norms"] = event.grad_norms
        self._write(record)

    def epoch(self, event):
        record = {
            "type": "epoch",
            "epoch": event.epoch,
            "train_loss": event.train_loss,
            "test_loss": event.test_loss,
            "test_accuracy": event.test_accuracy,
            "seconds": round(event.seconds, 3),
            "lr": event.lr,
        }
        if event.val_loss is not None:
            record["val_loss"] = event.val_loss
            record["val_accuracy"] = event.val_accuracy
        self._write(record)

    def close(self):
        try:
            self.file.close()
        except OSError as exc:
            self.error = self.error or exc.strerror or str(exc)


def _check_outputs(outputs, inputs):
    """Refuse before any work an output that is an input, another output, or not a writable
    regular file (see engine.fileio)."""
    from engine.fileio import OutputError, check_outputs

    try:
        check_outputs(outputs, inputs)
    except OutputError as exc:
        raise CliError(str(exc)) from None


def _strict(value):
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- templates, install-desktop ----------------------------------------------------------------


def _templates(args) -> int:
    from netbuilder.graph.templates import list_templates, load_template

    rows = []
    for name, title in list_templates():
        try:
            params = f"{load_template(name).graph.total_params:,} params"
        except Exception:  # noqa: BLE001 - a damaged template still gets its line
            params = "unreadable"
        rows.append((name, params, title))
    name_w = max(len(r[0]) for r in rows)
    params_w = max(len(r[1]) for r in rows)
    for name, params, title in rows:
        print(f"{name:<{name_w}}  {params:>{params_w}}  {title}")
    return 0


def _install_desktop(args) -> int:
    from netbuilder.desktop import DesktopError, install, remove

    try:
        if args.remove:
            removed = remove()
            for path in removed:
                print(f"removed {path}")
            if not removed:
                print("no NetBuilder launcher was installed")
            return 0
        files = install()
    except DesktopError as exc:
        raise CliError(str(exc)) from exc
    print(f"wrote {files.entry}")
    print(f"wrote {files.icon}")
    return 0


# -- export -----------------------------------------------------------------------------------


def _export(args) -> int:
    from netbuilder.export import write_export

    project = _load(args.project)
    if _report_problems(project.graph):
        return EXIT_ERROR
    if args.weights is not None and not args.weights.is_file():
        raise CliError(f"{args.weights}: no such weights file")
    from engine.fileio import OutputError
    from netbuilder.safeio import check_export_paths

    try:
        check_export_paths(args.output, args.weights, args.project, script_label="-o")
    except OutputError as exc:
        raise CliError(str(exc)) from None
    if args.weights is not None:
        _verify_weights(args.weights)
    from netbuilder.export import ExportError

    try:
        if args.target == "onnx":
            from netbuilder.export.onnx import write_onnx

            write_onnx(project, args.output, weights=args.weights)
        else:
            write_export(
                project,
                args.output,
                target=args.target,
                weights=args.weights,
                project_name=Path(args.project).stem,
            )
    except ExportError as exc:  # names the weights file or the block itself
        raise CliError(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise CliError(f"{args.output}: {exc}") from exc
    print(f"wrote {args.output} ({args.target})")
    return 0


# -- import -------------------------------------------------------------------------------------


def _import(args) -> int:
    from netbuilder.importers import ModelImportError, import_file

    model = Path(args.model)
    if not model.is_file():
        raise CliError(f"{model}: no such file")
    if model.suffix.lower() == ".py":
        print(
            f"running the code in {model} to build and trace its model (import only files "
            "you trust)",
            file=sys.stderr,
        )
    try:
        project, weights, graph = import_file(
            model,
            args.output,
            class_name=args.class_name,
            input_shape=args.input_shape,
            weights=args.weights,
        )
    except ModelImportError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write it: {exc.strerror or exc}") from exc
    print(summary_text(graph))
    print(f"wrote {project}" + (f" and its weights {weights}" if weights else ""))
    return 0


def _verify_weights(path):
    from engine.serialization import CheckpointError
    from netbuilder.safeio import verify_weights

    try:
        verify_weights(path)
    except CheckpointError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read it ({exc.strerror or exc})") from None


if __name__ == "__main__":
    sys.exit(main())
