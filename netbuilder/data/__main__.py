"""`python3 -m netbuilder.data [DEST]`: download MNIST into the cache with progress bars."""

import argparse
import sys

from tqdm import tqdm

from .download import download_mnist, mnist_cache_dir
from .errors import DataError


def main(argv=None) -> int:
    """`python3 -m netbuilder.data [DEST]`: download MNIST with a progress bar."""
    parser = argparse.ArgumentParser(
        prog="python3 -m netbuilder.data",
        description="Download MNIST into NetBuilder's cache (or DEST), checking every file.",
    )
    parser.add_argument("dest", nargs="?", help=f"folder (default: {mnist_cache_dir()})")
    parser.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="a mirror's base URL, tried in order (repeatable; default: the public mirrors)",
    )
    args = parser.parse_args(argv)
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
        folder = download_mnist(args.dest, progress=progress, mirrors=args.mirror)
    except KeyboardInterrupt:
        print("cancelled; run it again to resume", file=sys.stderr)
        return 130
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for bar in bars.values():
            bar.close()
    print(f"MNIST is ready in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
