"""`gankit data info PATH`: what a data source holds and what gankit's cache keeps of it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..config import DataConfig
from ..data import BUNDLED, BUNDLED_POINTS, data_channels, load_dataset
from ..data.files import GREY_MODES, folder_classes, is_cifar, scan_images
from ..data.prepare import SAMPLED_HEADERS, datasets_dir, folder_bytes, prepared_sets, sample_headers
from ..errors import UserError


def register(sub):
    p = sub.add_parser("data", help="facts about a data source: count, resolution, channels, classes, cache")
    which = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    info = which.add_parser("info", help="count, resolution, channels, classes, and the cache's size and place")
    info.add_argument("path", help="a folder of images, .npz, IDX file, CIFAR batches or a bundled set's name")
    info.set_defaults(run=run_info)


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _colour(channels: int) -> str:
    return f"{channels} ({'RGB' if channels == 3 else 'grey'})"


def run_info(args) -> int:
    source = args.path
    path = Path(source).expanduser()
    if source not in BUNDLED and not path.exists():
        raise UserError(f"data '{source}' does not exist (bundled sets: {', '.join(BUNDLED)})")
    if source in BUNDLED_POINTS:
        raise UserError(f"data '{source}' is a bundled point set, not images")
    rows = [("data", str(path.resolve()) if path.exists() else f"{source} (bundled)")]
    if path.is_dir() and not is_cifar(path):
        rows += _folder_rows(path)
    else:
        data = load_dataset(DataConfig(source=source, channels=data_channels(DataConfig(source=source))))
        h, w = data.pixels.shape[-2:]
        rows += [("images", f"{len(data):,}"), ("resolution", f"{w}x{h}"), ("channels", _colour(data.pixels.shape[1])),
                 ("classes", str(data.num_classes) if data.num_classes else "none (no labels)"),
                 ("stored as", f"{data.pixels.dtype} in memory, {_megabytes(data.pixels.numel() * data.pixels.element_size())}"),
                 ("cache", "none: arrays are read directly, no decoding to keep")]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key + ':':<{width + 1}} {value}")
    return 0


def _folder_rows(root: Path) -> list[tuple[str, str]]:
    current = scan_images(root)
    paths = [root / rel for rel, _, _ in current]
    names, _ = folder_classes(root, paths)
    sets = prepared_sets(root)
    fresh = [(place, m) for place, m in sets if m["sources"] == current]
    if fresh:  # a prepared set read every file: exact sizes and channels
        place, m = fresh[0]
        sizes = Counter(m["image_sizes"])
        channels = max(mm["channels"] for _, mm in fresh)
        how = f"all files, read when {place.name} was prepared"
    else:
        headers = sample_headers(paths)
        sizes = Counter(f"{w}x{h}" for _, (w, h) in headers)
        channels = 3 if any(mode not in GREY_MODES for mode, _ in headers) else 1
        how = f"headers of {len(headers)} files spread over the folder" if len(paths) > SAMPLED_HEADERS else "every file's header"
    common = ", ".join(f"{s} ({n:,})" for s, n in sizes.most_common(3)) + (" ..." if len(sizes) > 3 else "")
    rows = [("images", f"{len(paths):,} files"), ("resolution", f"{common}; from {how}"), ("channels", _colour(channels)),
            ("classes", f"{len(names)} ({', '.join(names[:10])}{' ...' if len(names) > 10 else ''})" if names
             else "none (images are not all in sub-folders)")]
    if not sets:
        rows.append(("cache", f"not prepared yet (gankit prepare {root}; it goes to {datasets_dir()})"))
    for place, m in sets:
        state = "up to date" if m["sources"] == current else "stale: files changed since (the next run decodes again)"
        colour = "RGB" if m["channels"] == 3 else "grey"
        skipped = f", {len(m['skipped'])} skipped" if m["skipped"] else ""
        rows.append(("cache", f"{place} - {m['count']:,} images at {m['resolution']}x{m['resolution']} {colour}"
                              f"{skipped}, {_megabytes(folder_bytes(place))}, {state}"))
    return rows
