"""Captioned images and the words of their captions.

A captioned folder holds images with one caption or more each, given either way:
- `name.png` beside `name.txt`, one caption per non-empty line (the layout of Reed et al.'s CUB and
  Oxford-102 captions: ten lines per image), or
- a `captions.jsonl` at the folder's root, one `{"image": "name.png", "caption": "..."}` per line
  (image paths relative to the folder; an image on several lines has several captions, as in COCO's
  captions file); when it exists, it is the one source of captions.
Every image needs a caption: one without is an error that names it. Training draws one of an
image's captions each time the image is drawn, as Reed et al. do.

A `Vocabulary` is every word of the training captions. A word outside it is an error naming the
word, not an unknown-word token: the vocabulary of a caption set is small and closed (text-mnist's
has 36 words), so an unknown word is nearly always a typo, and a token standing in for it would draw
an image that silently ignores what was asked for.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from .files import IMAGE_SUFFIXES, read_image

CAPTIONS_FILE = "captions.jsonl"
PAD = "<pad>"  # index 0: fills captions shorter than the longest in a batch


def words(text: str) -> list[str]:
    """Lower-case words and single digits; punctuation separates words and is dropped."""
    return re.findall(r"[^\W\d_]+|\d", text.lower())


class Vocabulary:
    """Words <-> indices (1..len); 0 is padding. Built from training captions, saved with the run."""

    def __init__(self, vocabulary: list[str]):
        if len(set(vocabulary)) != len(vocabulary) or PAD in vocabulary:
            raise ValueError("a vocabulary lists each word once and never the padding token")
        self.words = list(vocabulary)
        self.index = {w: i + 1 for i, w in enumerate(self.words)}

    @classmethod
    def from_captions(cls, captions: list[str]) -> "Vocabulary":
        return cls(sorted({w for c in captions for w in words(c)}))

    def __len__(self) -> int:
        return len(self.words) + 1  # with the padding index

    def encode(self, texts: list[str], source: str = "caption") -> torch.Tensor:
        """(N, L) int64 word indices, each caption padded with 0 to the longest; `source` names
        where the texts came from in errors."""
        rows = []
        for text in texts:
            ws = words(text)
            if not ws:
                raise UserError(f"{source} {text!r}: has no words")
            for w in ws:
                if w not in self.index:
                    close = difflib.get_close_matches(w, self.words, n=1)
                    hint = f"did you mean '{close[0]}'? " if close else ""
                    raise UserError(f"{source} {text!r}: unknown word '{w}' ({hint}the model knows the {len(self.words)} "
                                    f"words of its training captions: {' '.join(self.words)})")
            rows.append([self.index[w] for w in ws])
        out = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r)
        return out


def has_captions(root: Path) -> bool:
    """Whether a folder is captioned: it has a captions.jsonl, or a .txt beside one of its images."""
    if (root / CAPTIONS_FILE).is_file():
        return True
    return any(p.suffix.lower() in IMAGE_SUFFIXES and p.with_suffix(".txt").is_file() for p in root.rglob("*"))


def _jsonl_captions(root: Path) -> dict[Path, list[str]]:
    path = root / CAPTIONS_FILE
    captions: dict[Path, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("image"), str) or not isinstance(record.get("caption"), str):
            raise UserError(f'{path}: line {number} must be {{"image": "name.png", "caption": "..."}}, got {line.strip()[:80]}')
        image = (root / record["image"]).resolve()
        if not image.is_file():
            raise UserError(f"{path}: line {number} names image '{record['image']}', which does not exist in {root}")
        if not words(record["caption"]):
            raise UserError(f"{path}: line {number}: the caption {record['caption']!r} of '{record['image']}' has no words")
        captions.setdefault(image, []).append(record["caption"])
    return captions


def read_captioned_folder(root: Path, resolution: int, channels: int) -> tuple[np.ndarray, list[list[str]]]:
    """Images (N, H, W, C) uint8 and each image's captions, in the images' sorted path order."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{root}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))} in all sub-folders)")
    from_jsonl = (root / CAPTIONS_FILE).is_file()
    listed = _jsonl_captions(root) if from_jsonl else {}
    captions = []
    for p in files:
        if from_jsonl:
            mine = listed.get(p.resolve())
            where = f"no line of {root / CAPTIONS_FILE} names it"
        else:
            txt = p.with_suffix(".txt")
            mine = [line.strip() for line in txt.read_text(encoding="utf-8").splitlines() if line.strip()] \
                if txt.is_file() else None
            where = f"no {txt.name} beside it" if mine is None else f"{txt.name} beside it is empty"
            for line in mine or []:
                if not words(line):
                    raise UserError(f"image '{p}': its caption {line!r} in {txt.name} has no words")
        if not mine:
            raise UserError(f"image '{p}' has no caption ({where}); every image of a captioned folder needs one")
        captions.append(mine)
    return np.stack([read_image(p, resolution, channels) for p in files]), captions
