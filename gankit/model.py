"""`gankit.load`: a trained generator from a run directory or checkpoint, ready to sample."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .configure import from_dict
from .data import Dataset
from .errors import UserError
from .memory import require_memory
from .recipes import build_recipe
from .report.grid import to_uint8
from .train.checkpoint import load_checkpoint, load_latest, unpack_state
from .train.device import resolve_device


def resolve_checkpoint(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.safetensors"
    if not path.is_file():
        raise UserError(f"no checkpoint at '{path}' (give a run directory or a .safetensors checkpoint)")
    return path


def check_truncation_range(truncation: float) -> None:
    """--truncation psi must lie in (0, 2]: checkable before a run is loaded."""
    if not 0.0 < truncation <= 2.0:
        raise UserError(f"--truncation {truncation}: must lie in (0, 2] (1 = none, 0.7 a common choice)")


class Model:
    """A trained recipe in evaluation mode. `sample` returns arrays in the contract's format."""

    def __init__(self, recipe, meta: dict, device: torch.device):
        self.recipe, self.meta, self.device = recipe, meta, device
        self.config = recipe.cfg
        self.num_classes: int = meta["num_classes"]
        self.sample_shape = tuple(meta["sample_shape"])
        for module in recipe.modules().values():
            module.eval()

    @property
    def is_images(self) -> bool:
        return len(self.sample_shape) == 3

    def require_latents(self) -> None:
        """A UserError for a model whose G does not draw from noise: a loaded SRGAN has no training
        pool to cut LR patches from, and would upscale blank images."""
        if getattr(self.recipe, "directions", ()):  # image-to-image
            raise UserError(f"this is a '{self.config.recipe}' run: its G translates images and draws nothing from noise; "
                            f"use 'gankit translate RUN INPUT... --out OUT'")
        if not getattr(self.recipe, "draws_from_noise", True):
            raise UserError(f"this is a '{self.config.recipe}' run: its G upscales images and draws nothing from noise; "
                            f"use 'gankit upscale RUN IN.png OUT.png' (and 'python -m gankit.sr.evaluate RUN OUT_DIR' for PSNR/SSIM)")

    @property
    def is_text(self) -> bool:
        """Whether G draws images for captions (recipe text2img)."""
        return hasattr(self.recipe, "encode_text")

    def text_tokens(self, texts: list[str], flag: str = "--text") -> torch.Tensor:
        """Word indices of captions, on the model's device; a UserError for a model that takes no
        text or for a word outside its vocabulary."""
        if not self.is_text:
            raise UserError(f"{flag}: this is a '{self.config.recipe}' run, which draws nothing from text "
                            f"(a text-to-image model is trained with the text-mnist preset or recipe=text2img)")
        return self.recipe.encode_text(texts, flag).to(self.device)

    @property
    def has_styles(self) -> bool:
        """A StyleGAN2 run: a mapping network to w, and a synthesis network from w."""
        return bool(getattr(self.recipe, "has_styles", False))

    def require_styles(self, what: str) -> None:
        """A UserError for a model without a mapping network: `what` needs StyleGAN2's w."""
        if not self.has_styles:
            raise UserError(f"{what} needs a StyleGAN2 run (recipe stylegan2, e.g. preset stylegan2-mnist); "
                            f"this is a '{self.config.recipe}' run")

    def check_truncation(self, truncation: float) -> None:
        """--truncation psi: w = w_avg + psi (w - w_avg); psi in (0, 2], and only with a mapping network."""
        check_truncation_range(truncation)
        if truncation != 1.0:
            self.require_styles(f"--truncation {truncation}")

    @torch.no_grad()
    def synthesize(self, ws: torch.Tensor, batch: int = 500, noise: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Images (CPU) from w (N, num_ws, w_dim) or (N, w_dim), through the sampler's synthesis network
        with its fixed noise maps, or with `noise` (layer name -> map, as `gankit project --noise`
        stores them) in their place for this call."""
        self.require_styles("drawing from stored latents w")
        G = self.recipe.sampler
        if ws.dim() == 2:
            ws = ws.unsqueeze(1).expand(-1, G.num_ws, -1)
        if ws.dim() != 3 or ws.shape[1:] != (G.num_ws, G.w_dim):
            raise UserError(f"w of shape {tuple(ws.shape)}: this model takes (N, {G.num_ws}, {G.w_dim}) or (N, {G.w_dim})")
        layers = {name: m for name, m in G.synthesis.named_modules() if hasattr(m, "noise_const")}
        noise = noise or {}
        unknown = sorted(set(noise) - set(layers))
        if unknown:
            raise UserError(f"noise maps for layers this model lacks: {', '.join(unknown)} (it has {', '.join(layers)})")
        for name, value in noise.items():
            if value.shape != layers[name].noise_const.shape:
                raise UserError(f"noise map '{name}' of shape {tuple(value.shape)}: this model's is "
                                f"{tuple(layers[name].noise_const.shape)}")
        ws = ws.to(self.device, torch.float32)
        originals = {name: layers[name].noise_const.clone() for name in noise}
        try:
            for name, value in noise.items():
                layers[name].noise_const.copy_(value)
            return torch.cat([G.synthesis(ws[i:i + batch], noise_mode="const").float().cpu() for i in range(0, len(ws), batch)])
        finally:  # the model's own maps back, whatever happened
            for name, value in originals.items():
                layers[name].noise_const.copy_(value)

    @torch.no_grad()
    def generate(self, n: int, seed: int = 0, label: int | None = None, batch: int = 500,
                 text: str | None = None, truncation: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n raw samples (tensor on the CPU) and what they were drawn for: class labels (None when
        unconditional), or for a text model the captions' word indices (`text`, or training captions).
        `truncation` psi < 1 pulls StyleGAN2's w towards its mean (fidelity for variety)."""
        self.require_latents()
        self.check_truncation(truncation)
        if n < 1:
            raise UserError(f"-n must be at least 1, got {n}")
        tokens = None if text is None else self.text_tokens([text])  # before any work
        require_memory(4 * n * math.prod(self.sample_shape),  # the float32 samples, held until all are drawn
                       f"-n {n:,}: {n:,} samples of shape {self.sample_shape}")
        if label is not None and self.is_text:
            raise UserError(f"--label {label}: this model draws images for captions; give --text \"...\" instead")
        self.check_label(label)
        gen = torch.Generator(self.device).manual_seed(seed)
        out, labels = [], []
        for start in range(0, n, batch):
            m = min(batch, n - start)
            z = self.recipe.sample_z(m, gen)
            y = self.recipe.sample_labels(m, gen)
            if y is not None and label is not None:
                y = torch.full_like(y, label)
            if tokens is not None:
                y = tokens.expand(m, -1)
            styles = {"truncation": truncation} if truncation != 1.0 else {}
            out.append(self.recipe.sample(z, y, **styles).float().cpu())  # G_ema when trained with one
            if y is not None:
                labels.append(y.cpu())
        if self.is_text:  # captions differ in length: pad each batch's word indices to the longest
            width = max(t.shape[1] for t in labels)
            labels = [torch.nn.functional.pad(t, (0, width - t.shape[1])) for t in labels]
        return torch.cat(out), (torch.cat(labels) if labels else None)

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.recipe, "conditional", False))

    def check_label(self, label: int | None, flag: str = "--label") -> None:
        """A UserError naming `flag` for a label this model cannot take (None always passes)."""
        if label is not None and not self.conditional:
            raise UserError(f"{flag} {label}: this model is not conditional")
        if label is not None and not 0 <= label < self.num_classes:
            raise UserError(f"{flag} {label}: this model was trained on classes 0..{self.num_classes - 1}")

    @property
    def d_gives_probabilities(self) -> bool:
        """Whether sigmoid(D) is a probability of real (nonsat, minimax) or D's output an unbounded
        score, higher = more real (wasserstein, hinge, lsgan)."""
        return self.recipe.loss.probabilities

    def check_score_label(self, label: int | None, flag: str = "--label") -> None:
        """A UserError unless D can score single images under `label`: a conditional D judges
        "a real image of class `label`", so it needs one; a packing D judges groups, not images."""
        if not self.is_images:
            raise UserError("this model was trained on points, not images: nothing to score")
        if self.conditional and label is None:
            raise UserError(f"{flag}: this model's D is conditional; give the class the images are meant to show "
                            f"(0..{self.num_classes - 1})")
        self.check_label(label, flag)
        if self.d_pack > 1:
            raise UserError(f"this model's D scores packs of {self.d_pack} samples together (remedies.pack), not single images")

    @property
    def d_pack(self) -> int:
        """How many samples D judges at once (PacGAN's packing; 1 for every other D)."""
        return getattr(getattr(self.recipe, "opt", None), "pack", 1)

    @torch.no_grad()
    def score(self, x: torch.Tensor, label: int | None = None, batch: int = 256, flag: str = "--label") -> np.ndarray:
        """D's probability of real (or raw score, see `d_gives_probabilities`) per image of x
        (N, C, H, W) in [-1, 1]."""
        self.check_score_label(label, flag)
        D = self.recipe.D
        outs = []
        for chunk in x.split(batch):
            chunk = chunk.to(self.device)
            args = (chunk, torch.full((len(chunk),), label, dtype=torch.long, device=self.device)) if self.conditional else (chunk,)
            outs.append(D(*args).float().cpu())
        out = torch.cat(outs)
        return (torch.sigmoid(out) if self.d_gives_probabilities else out).numpy()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """x (N, C, H, W) in [-1, 1] -> G(E(x)) through the latent means, for a model with an encoder."""
        if not hasattr(self.recipe, "reconstruct"):
            raise UserError(f"this is a '{self.config.recipe}' run with no encoder: train a vaegan preset to reconstruct")
        return torch.cat([self.recipe.reconstruct(c.to(self.device)).float().cpu() for c in x.split(batch)])

    def sample(self, n: int, seed: int = 0, label: int | None = None, text: str | None = None,
               truncation: float = 1.0) -> dict[str, np.ndarray]:
        """{'images': uint8 (N, H, W, C)} or {'points': float32 (N, D)}, plus 'labels' if conditional,
        or 'captions' (strings, (N,)) for a text model: `text`, or the training captions drawn."""
        x, y = self.generate(n, seed, label, text=text, truncation=truncation)
        out = {"images": to_uint8(x)} if self.is_images else {"points": x.numpy().astype(np.float32)}
        if self.is_text:
            out["captions"] = np.array([text] * n if text is not None else self.recipe.decode_text(y))
        elif y is not None:
            out["labels"] = y.numpy().astype(np.int64)
        return out

    @torch.no_grad()
    def text_interpolation(self, a: str, b: str, steps: int, rows: int, seed: int = 0) -> np.ndarray:
        """uint8 (rows, steps, H, W, C): along each row the sentence embedding goes linearly from
        caption a's to caption b's (as GAN-INT trains G on), each row with its own latent."""
        tokens = [self.text_tokens([t]) for t in (a, b)]
        ea, eb = (self.recipe.text_embedding(t) for t in tokens)
        t = torch.linspace(0, 1, steps, device=self.device)[:, None]
        path = (1 - t) * ea + t * eb  # (steps, embed_dim)
        z = self.recipe.sample_z(rows, torch.Generator(self.device).manual_seed(seed))
        images = self.recipe.sample_from_embedding(z.repeat_interleave(steps, 0), path.repeat(rows, 1))
        c, h, w = self.sample_shape
        return to_uint8(images).reshape(rows, steps, h, w, c)


def _captions(meta: dict) -> list[list[str]] | None:
    """A text model's training captions, from which its vocabulary is rebuilt: each image's list of
    them (a checkpoint written before images could have several holds one string per image)."""
    captions = meta.get("captions")
    return None if captions is None else [[c] if isinstance(c, str) else c for c in captions]


def load(path: str | Path, device: str = "cpu") -> Model:
    """Load a run directory or a checkpoint file. Never executes code from the file."""
    if Path(path).is_dir() and (Path(path) / "checkpoints").is_dir():
        ckpt, tensors, meta = load_latest(Path(path) / "checkpoints")  # prev if last is corrupt
    else:
        ckpt = resolve_checkpoint(path)
        tensors, meta = load_checkpoint(ckpt)
    cfg = from_dict(meta["config"], source=str(ckpt))
    dev = resolve_device(device)
    shape = tuple(meta["sample_shape"])
    placeholder = Dataset(pixels=torch.zeros(1, *shape), labels=None, num_classes=meta["num_classes"], name=cfg.data.source,
                          resolution=shape[-1] if len(shape) == 3 else 0, channels=shape[0] if len(shape) == 3 else 0,
                          captions=_captions(meta))
    recipe = build_recipe(cfg, placeholder)
    for name, module in recipe.modules().items():
        module.load_state_dict(unpack_state(name, tensors))
        module.to(dev)
    return Model(recipe, meta, dev)
