"""Image-to-image translation with a trained pix2pix or CycleGAN run, on images of any size.

The generators are fully convolutional: an image is padded (reflected) to a multiple of G's stride,
translated, and cropped back, tile by tile with an overlap when it is large (`gankit.tiles`), so
its size is the user's, not the training patches'. CycleGAN's instance norm normalises each tile
by its own statistics, so a tiled image can differ from the whole one at the seams: the default tile
of 512 pixels keeps most images whole. A grey image meets a colour model as grey RGB,
a colour image meets a grey-input model as its luma (BT.601, as PIL converts).

    translate_array(model, image)                    uint8 (H, W, C) -> uint8 (H, W, C')
    translate_paths(model, inputs, out_dir)          image files, folders and .npz -> the same names in out_dir
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .data.files import IMAGE_SUFFIXES, image_files, open_image
from .data.transform import scale_to_unit, to_nchw
from .errors import UserError
from .io import atomic_write_bytes
from .model import Model
from .tiles import upscale_tiled

_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def check_translator(model: Model, direction: str, path: str | Path) -> None:
    """A UserError unless `model` (loaded from `path`) translates images in `direction`."""
    directions = getattr(model.recipe, "directions", ())
    if not directions:
        raise UserError(f"'{path}' is a '{model.config.recipe}' run, not an image-to-image model (pix2pix or cyclegan): "
                        f"it cannot translate")
    if direction not in directions:
        raise UserError(f"--direction {direction}: the '{model.config.recipe}' run '{path}' translates "
                        f"{' and '.join(directions)} only")


def _padded(net, stride: int):
    """`net` on any size: reflect-pad the right and bottom to a multiple of `stride`, crop the output."""

    def run(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = -h % stride, -w % stride
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"  # reflection needs a wider image than its pad
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        return net(x)[..., :h, :w].clamp(-1, 1)

    return run


@torch.no_grad()
def translate_tensor(model: Model, x: torch.Tensor, direction: str = "a2b", tile: int = 512,
                     overlap: int = 32) -> torch.Tensor:
    """(1, C, H, W) in [-1, 1] -> (1, C', H, W): the model's translation, channels brought to its input's."""
    recipe = model.recipe
    want = recipe.channels_a if direction == "a2b" else recipe.channels_b
    x = x.to(model.device)
    if want == 1 and x.shape[1] == 3:
        x = ((x + 1) / 2 * _LUMA.to(x.device)).sum(1, keepdim=True) * 2 - 1
    elif want == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return upscale_tiled(_padded(recipe.translator(direction), recipe.stride), x, 1, tile, overlap)


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(127.5).sub(1)[None]  # a copy: PIL arrays are read-only


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def translate_array(model: Model, image: np.ndarray, direction: str = "a2b", tile: int = 512, overlap: int = 32) -> np.ndarray:
    """uint8 (H, W, C) with C in 1, 3 -> uint8 (H, W, C') with the model's output channels."""
    return _to_uint8(translate_tensor(model, _to_tensor(image), direction, tile, overlap))


def _plan(inputs: list[Path], out_dir: Path) -> list[tuple[Path, Path]]:
    """(source, destination) for every file the inputs name, checked before any work: each input
    exists and is an image, an .npz or a folder holding images; no two sources share a destination."""
    plan: list[tuple[Path, Path]] = []
    for src in inputs:
        if src.is_dir():
            found = image_files(src)
            if not found:
                raise UserError(f"input folder '{src}': no images in it (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
            plan += [(p, out_dir / p.relative_to(src)) for p in found]
        elif src.is_file():
            if src.suffix.lower() not in IMAGE_SUFFIXES | {".npz"}:
                raise UserError(f"input '{src}': not an image ({', '.join(sorted(IMAGE_SUFFIXES))}) or an .npz file")
            plan.append((src, out_dir / src.name))
        else:
            raise UserError(f"input '{src}' does not exist")
    seen: dict[Path, Path] = {}
    for src, dst in plan:
        if dst in seen:
            raise UserError(f"inputs '{seen[dst]}' and '{src}' would both be written to '{dst}': give them one at a time")
        seen[dst] = src
    return plan


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """An .npz's images (N, H, W, C) in [0, 1] and its labels, if any."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "images" not in archive.files:
                raise UserError(f"{path}: no 'images' array in the npz (keys: {', '.join(archive.files) or 'none'})")
            images, labels = archive["images"], (archive["labels"] if "labels" in archive.files else None)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc})") from None
    unit = scale_to_unit(to_nchw(images, str(path)), str(path))
    if unit.shape[1] == 4:  # RGBA onto black, as the data readers do
        unit = unit[:, :3] * unit[:, 3:4]
    return unit, labels


def _encode_image(array: np.ndarray, suffix: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(buf, format=Image.registered_extensions()[suffix])
    return buf.getvalue()


def translate_paths(model: Model, inputs: list[Path], out_dir: Path, direction: str = "a2b", tile: int = 512,
                    overlap: int = 32, progress: bool | None = None) -> list[Path]:
    """Translate image files, folders of them and .npz files into `out_dir` under the same names
    (a folder's files keep their paths inside it); returns the files written. Each is written
    atomically, so an interrupted call leaves whole files only."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out '{out_dir}' is a file; give a folder (the outputs keep their input names)")
    if not out_dir.parent.exists():
        raise UserError(f"--out '{out_dir}': folder '{out_dir.parent}' does not exist")
    plan = _plan(inputs, out_dir)
    written = []
    show = sys.stderr.isatty() if progress is None else progress
    for src, dst in tqdm(plan, disable=not show, unit="file"):
        if src.suffix.lower() == ".npz":
            unit, labels = _read_npz(src)
            outs = [_to_uint8(translate_tensor(model, torch.from_numpy(np.ascontiguousarray(u[None])) * 2 - 1,
                                               direction, tile, overlap)) for u in unit]
            arrays = {"images": np.stack(outs)} if outs else {"images": np.zeros((0, 0, 0, 0), np.uint8)}
            if labels is not None:
                arrays["labels"] = labels
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            data = buf.getvalue()
        else:
            img = open_image(src)
            gray = img.mode in ("L", "I", "I;16", "F", "1")
            image = np.asarray(img.convert("L" if gray else "RGB"), dtype=np.uint8)
            data = _encode_image(translate_array(model, image[:, :, None] if gray else image, direction, tile, overlap),
                                 src.suffix.lower())
        dst.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dst, data)
        written.append(dst)
    return written
