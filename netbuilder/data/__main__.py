"""`python3 -m netbuilder.data [DATASET] [DEST]`: download a named data set into the cache with
progress bars (MNIST when no name is given)."""

import argparse
import sys

from tqdm import tqdm

from .download import REMOTES, cache_dir, download_dataset
from .errors import DataError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m netbuilder.data",
        description="Download a data set into NetBuilder's cache (or DEST), checking every "
        f"file. Data sets: {', '.join(REMOTES)}.",
    )
    parser.add_argument(
        "dataset", nargs="?", metavar="DATASET", help=f"one of {', '.join(REMOTES)} (default mnist)"
    )
    parser.add_argument("dest", nargs="?", help=f"folder (default: {cache_dir()}/DATASET)")
    parser.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="a mirror's base URL, tried in order (repeatable; default: the public mirrors)",
    )
    args = parser.parse_args(argv)
    name, dest = args.dataset, args.dest
    if name is not None and name.lower() not in REMOTES:
        if dest is not None:
            parser.error(f"unknown data set {name!r}; choose one of {', '.join(REMOTES)}")
        name, dest = None, name  # one argument that is no name: the destination
    name = (name or "mnist").lower()
    bars: dict[str, tqdm] = {}

    def progress(done: int, total: int | None, file_name: str) -> None:
        bar = bars.get(file_name)
        if bar is None:
            bar = bars[file_name] = tqdm(
                desc=file_name, total=total, unit="B", unit_scale=True, leave=True
            )
        bar.total = total
        bar.update(done - bar.n)

    try:
        folder = download_dataset(name, dest, progress=progress, mirrors=args.mirror)
    except KeyboardInterrupt:
        print("cancelled; run it again to resume", file=sys.stderr)
        return 130
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for bar in bars.values():
            bar.close()
    print(f"{REMOTES[name].title} is ready in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
