"""A trained run's generator for use outside gankit: an ONNX model or a torch.export program (.pt2),
each with a JSON beside it (FILE.onnx.json) that says its inputs, outputs, value range and how outputs become pixels.

What is exported is the network `gankit sample` draws from (the EMA of G where the run trained one),
in evaluation mode (batch norm on its running statistics), with plain PyTorch kernels (gankit's CPU
kernels are training-time ops, not part of the function), and a batch size free at run time.
ONNX needs the optional packages onnx and onnxscript (`pip install -e '.[export]'`; onnxruntime to
run the file).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from .accel import use_cpu_kernels
from .errors import UserError
from .io import atomic_write_bytes
from .model import Model
from .version import __version__

FORMATS = ("onnx", "pt2")
OPSET = 18  # the ONNX opset the files are written in


class Sampler(nn.Module):
    """z (N, z_dim) [, labels (N,) int64] -> samples (N, C, H, W) in [-1, 1], or points (N, D)."""

    def __init__(self, model: Model):
        super().__init__()
        self.G = model.recipe.sampler  # registered, so that the export holds its weights
        self.sample = model.recipe.sample  # the recipe's own call of it (labels where conditional)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.sample(z, labels)


class StyleSampler(Sampler):
    """StyleGAN2: z (N, z_dim), truncation (1,) -> images; psi = 1 is no truncation."""

    def forward(self, z: torch.Tensor, truncation: torch.Tensor) -> torch.Tensor:
        return self.sample(z, None, truncation=truncation)


class ConditionalStyleSampler(Sampler):
    """Conditional StyleGAN2: z (N, z_dim), labels (N,) int64, truncation (1,) -> images."""

    def forward(self, z: torch.Tensor, labels: torch.Tensor, truncation: torch.Tensor) -> torch.Tensor:
        return self.sample(z, labels, truncation=truncation)


class PaddedTextEncoder(nn.Module):
    """The text encoder's bidirectional GRU over padded word indices (N, L), without
    pack_padded_sequence, which neither exporter takes: the forward direction runs over the padded
    captions and the backward one over each caption reversed in place (its padding left at the end),
    and each direction's outputs at the caption's words are averaged, as the packed encoder averages
    its outputs (a mean does not depend on the order of the words it averages)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        gru = encoder.gru
        self.embed = encoder.embed
        self.forwards = nn.GRU(gru.input_size, gru.hidden_size, batch_first=True)
        self.backwards = nn.GRU(gru.input_size, gru.hidden_size, batch_first=True)
        for direction, suffix in ((self.forwards, ""), (self.backwards, "_reverse")):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(direction, f"{name}_l0").data.copy_(getattr(gru, f"{name}_l0{suffix}").data)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        words = tokens != 0
        lengths = words.sum(1, keepdim=True).clamp_min(1)  # (N, 1), as the packed encoder counts
        position = torch.arange(tokens.shape[1], device=tokens.device).unsqueeze(0)
        reversed_in_place = tokens.gather(1, torch.where(position < lengths, lengths - 1 - position, position))
        ahead, _ = self.forwards(self.embed(tokens))
        back, _ = self.backwards(self.embed(reversed_in_place))
        mask = words.unsqueeze(2).to(ahead.dtype)  # a caption's words are its first `length` positions, both ways
        return (torch.cat([ahead, back], 2) * mask).sum(1) / lengths.to(ahead.dtype)


class TextSampler(Sampler):
    """Text-to-image: z (N, z_dim), tokens (N, L) int64 word indices -> images."""

    def __init__(self, model: Model):
        super().__init__(model)
        self.encoder = PaddedTextEncoder(model.recipe.encoder)
        self.from_embedding = model.recipe.sample_from_embedding

    def forward(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.from_embedding(z, self.encoder(tokens))


def sampler_of(model: Model) -> Sampler:
    if model.is_text:
        return TextSampler(model)
    if model.has_styles:
        return ConditionalStyleSampler(model) if model.conditional else StyleSampler(model)
    return Sampler(model)


def describe(model: Model, fmt: str, run: str) -> dict:
    """The JSON written beside the exported file."""
    z_dim = model.recipe.z_dim
    inputs = [{"name": "z", "dtype": "float32", "shape": ["batch", z_dim],
               "values": "independent standard normal draws, z ~ N(0, I)"}]
    if model.is_text:
        words = model.recipe.vocabulary.words
        length = model.recipe.tokens.shape[1]
        inputs.append({"name": "tokens", "dtype": "int64", "shape": ["batch", length],
                       "values": f"a caption of at most {length} words as word indices, 0 after its last word; "
                                 "words: the caption lower-cased, split into runs of letters and single digits "
                                 "(punctuation dropped); word k of `vocabulary` has index k + 1, and any other word "
                                 "is unknown to the model",
                       "vocabulary": words})
    elif model.conditional:
        inputs.append({"name": "labels", "dtype": "int64", "shape": ["batch"],
                       "values": f"class indices 0..{model.num_classes - 1}"})
    if model.has_styles:
        inputs.append({"name": "truncation", "dtype": "float32", "shape": [1],
                       "values": "psi in (0, 2]: w = w_avg + psi (w - w_avg); 1 = no truncation, 0.7 a common choice"})
    if model.is_images:
        c, h, w = model.sample_shape
        output = {"name": "images", "dtype": "float32", "shape": ["batch", c, h, w], "layout": "NCHW",
                  "range": [-1.0, 1.0],
                  "to_pixels": "uint8 = round((clip(x, -1, 1) + 1) * 127.5), then transpose to (batch, H, W, C): "
                               "what `gankit sample` writes"}
    else:
        output = {"name": "points", "dtype": "float32", "shape": ["batch", model.sample_shape[0]],
                  "range": "data units"}
    return {"format": fmt, **({"opset": OPSET} if fmt == "onnx" else {}), "source_run": run,
            "recipe": model.config.recipe, "preset": model.config.name,
            "weights": "G_ema" if getattr(model.recipe, "G_ema", None) is not None else "G",
            "inputs": inputs, "outputs": [output], "dynamic_axes": {"batch": "any size from 1"},
            "gankit": __version__, "torch": torch.__version__}


def _example(model: Model, n: int = 2) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator(model.device).manual_seed(0)
    z = model.recipe.sample_z(n, gen)
    labels = model.recipe.sample_labels(n, gen)
    inputs = (z,) if labels is None else (z, labels)
    return inputs + (torch.full((1,), 0.7, device=model.device),) if model.has_styles else inputs


def check_format(fmt: str) -> None:
    """Before any work: the format is known and, for ONNX, its packages are installed."""
    if fmt not in FORMATS:
        raise UserError(f"--format '{fmt}': choose from {', '.join(FORMATS)}")
    if fmt == "onnx":
        missing = [p for p in ("onnx", "onnxscript") if importlib.util.find_spec(p) is None]
        if missing:
            raise UserError(f"--format onnx needs the {' and '.join(missing)} package{'s' if len(missing) > 1 else ''}: "
                            "pip install -e '.[export]'")


@contextlib.contextmanager
def _quiet():
    """The ONNX exporter's progress lines and warnings about operators gankit never uses."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def description_path(out: Path) -> Path:
    """FILE.onnx -> FILE.onnx.json: an ONNX and a pt2 export of one stem keep a description each."""
    return out.with_name(out.name + ".json")


def export(model: Model, fmt: str, out: Path, run: str = "") -> dict:
    """Write the sampler to `out` and its description beside it (`description_path`), each atomically;
    returns the description."""
    check_format(fmt)
    model.require_latents()  # an SRGAN's G takes images, not latents
    out = Path(out)
    sampler = sampler_of(model).eval()
    use_cpu_kernels([sampler], linear=False, thin_conv=False)
    example = _example(model)
    names = ["z"] + (["tokens"] if model.is_text else ["labels"] if model.conditional else []) + (
        ["truncation"] if model.has_styles else [])
    batch = torch.export.Dim("batch", min=1)
    # a caption's length is fixed (the longest training caption's): the exporters unroll the GRU over it
    dynamic = {"z": {0: batch}, "labels": {0: batch}, "tokens": {0: batch}, "truncation": None}
    dynamic = {name: dynamic[name] for name in names}
    with torch.no_grad():
        if fmt == "pt2":
            with warnings.catch_warnings():  # nn.GRU re-points its flat weights while traced: harmless here
                warnings.filterwarnings("ignore", message="The tensor attributes .*_flat_weights")
                program = torch.export.export(sampler, example, dynamic_shapes=dynamic)
            buf = io.BytesIO()
            torch.export.save(program, buf)
            data = buf.getvalue()
        else:
            with tempfile.TemporaryDirectory() as tmp, _quiet():
                program = torch.onnx.export(sampler, example, dynamo=True, dynamic_shapes=dynamic, input_names=names,
                                            output_names=["images" if model.is_images else "points"],
                                            opset_version=OPSET, verbose=False)
                program.save(os.path.join(tmp, "g.onnx"))
                data = Path(tmp, "g.onnx").read_bytes()
    info = describe(model, fmt, run)
    atomic_write_bytes(out, data)
    atomic_write_bytes(description_path(out), (json.dumps(info, indent=2) + "\n").encode())
    return info
