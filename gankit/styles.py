"""What a trained StyleGAN2 offers beyond sampling: style-mixing grids and projection of an image into W.

Style mixing (Karras et al. 2019, figure 3): the image of a row's seed with some layers' w taken from
a column's seed. The layers split into thirds by depth: coarse (the lowest resolutions: pose, shape),
middle, and fine (the highest: texture, colour); the paper's split of 18 layers is 4 / 4 / 10, a
third each is its analogue for the smaller nets gankit trains.

Projection (Karras et al. 2020, as StyleGAN2-ADA's projector.py): optimise one w, starting at w_avg,
so that the synthesis reproduces a target: a loss on pixels plus one on features (D's own
activations, or a supplied torch.export feature network's outputs), with Gaussian noise on w that
fades over the first three quarters of the steps, a learning rate that ramps up and down, and
optionally the noise maps too, kept from absorbing the image by a penalty on their autocorrelation
at every scale."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .errors import UserError
from .model import Model

Tensor = torch.Tensor
STYLE_GROUPS = ("coarse", "middle", "fine")


def style_layers(num_ws: int, group: str) -> range:
    """The w indices of a group: thirds of the layers by depth, coarse first."""
    if group not in STYLE_GROUPS:
        raise UserError(f"--styles '{group}': choose from {', '.join(STYLE_GROUPS)}")
    cut1, cut2 = round(num_ws / 3), round(2 * num_ws / 3)
    return {"coarse": range(0, cut1), "middle": range(cut1, cut2), "fine": range(cut2, num_ws)}[group]


def seed_ws(model: Model, seeds: list[int], truncation: float = 1.0, label: int | None = None) -> Tensor:
    """(len(seeds), num_ws, w_dim): each seed's z (as `gankit sample -n 1 --seed S` draws it) mapped to w."""
    model.require_styles("style mixing")
    model.check_truncation(truncation)
    G = model.recipe.sampler
    ws = []
    for seed in seeds:
        gen = torch.Generator(model.device).manual_seed(seed)
        z = model.recipe.sample_z(1, gen)
        y = model.recipe.sample_labels(1, gen)
        if y is not None and label is not None:
            y = torch.full_like(y, label)
        with torch.no_grad():
            ws.append(G.mapping(z, y, truncation=truncation))
    return torch.cat(ws)


@torch.no_grad()
def mixing_grid(model: Model, row_seeds: list[int], col_seeds: list[int], groups: tuple[str, ...] = STYLE_GROUPS,
                truncation: float = 1.0) -> np.ndarray:
    """uint8 images of a grid (len(groups) * len(row_seeds) + 1) x (len(col_seeds) + 1), row-major: the
    first row the columns' images (its first cell blank), then per group and row seed the row's image
    followed by the row's w with the group's layers taken from each column."""
    if not row_seeds or not col_seeds:
        raise UserError("--rows and --cols each need at least one seed")
    rows, cols = seed_ws(model, row_seeds, truncation), seed_ws(model, col_seeds, truncation)
    num_ws = rows.shape[1]
    blank = torch.ones(1, *model.sample_shape)  # white
    cells = [blank, model.synthesize(cols)]
    for group in groups:
        layers = list(style_layers(num_ws, group))
        for r in range(len(rows)):
            mixed = rows[r:r + 1].repeat(len(cols), 1, 1)
            mixed[:, layers] = cols[:, layers]
            cells += [model.synthesize(rows[r:r + 1]), model.synthesize(mixed)]
    return torch.cat(cells)


# ---- projection --------------------------------------------------------------------------------------

@dataclass
class Projection:
    w: Tensor  # (N, num_ws, w_dim), the projected latents
    noise: dict[str, Tensor]  # the noise maps (optimised, or the model's fixed ones)
    frames: list[Tensor]  # the synthesis of the first target at evenly spaced steps, (C, H, W) in [-1, 1]
    result: Tensor  # (N, C, H, W) the final synthesis
    psnrs: list[float]  # of each result against its target, in dB over [-1, 1] images (peak-to-peak 2)
    losses: list[float]

    @property
    def psnr(self) -> float:
        """The mean PSNR over the targets."""
        return sum(self.psnrs) / len(self.psnrs)


def d_features(D) -> Callable[[Tensor], list[Tensor]]:
    """D's activations after fromRGB and after each residual block: the default feature loss."""
    def features(x: Tensor) -> list[Tensor]:
        if x.shape[-1] != D.top:
            x = F.interpolate(x, size=(D.top, D.top), mode="bilinear", align_corners=False)
        h = D.fromrgb(x)
        out = [h]
        for block in D.blocks:
            h = block(h)
            out.append(h)
        return out
    return features


def load_feature_net(path: str) -> Callable[[Tensor], list[Tensor]]:
    """A torch.export program (.pt2) taking images (N, C, H, W) in [-1, 1] to a feature tensor (or a
    tuple of them); torch.export files hold a graph, not Python code to run."""
    file = Path(path)
    if file.suffix != ".pt2" or not file.is_file():
        raise UserError(f"--features '{path}': give 'd' (the run's discriminator), 'none', or an existing "
                        f"torch.export .pt2 file of a feature network")
    try:
        module = torch.export.load(str(file)).module()
    except Exception as exc:  # any failure to read the file is the user's file's problem
        raise UserError(f"--features '{path}': not a readable torch.export program ({exc})") from None

    def features(x: Tensor) -> list[Tensor]:
        out = module(x)
        return list(out) if isinstance(out, (tuple, list)) else [out]
    return features


def noise_regularisation(maps: list[Tensor]) -> Tensor:
    """Sum over maps and scales (halving down to 8x8) of the squared autocorrelation at shifts of one
    pixel in x and y: zero for white noise, large for a map that carries image structure."""
    total = torch.zeros(())
    for m in maps:
        x = m[None, None]
        while True:
            total = total + (x * torch.roll(x, 1, dims=3)).mean() ** 2 + (x * torch.roll(x, 1, dims=2)).mean() ** 2
            if x.shape[2] <= 8:
                break
            x = F.avg_pool2d(x, 2)
    return total


def project(model: Model, target: Tensor, steps: int = 300, features: str = "d", noise: bool = False,
            seed: int = 0, lr: float = 0.1, feature_weight: float = 1.0, frames: int = 30,
            noise_weight: float = 1e5, w_plus: bool = False) -> Projection:
    """Project targets (N, C, H, W) in [-1, 1] at the model's size into W, or with `w_plus` into W+
    (one w per synthesis layer, Abdal et al. 2019, "Image2StyleGAN": reaches further than W, which
    holds only what the mapping network draws, at the price of a w that may lie off it). Several targets are
    optimised together, each with its own w; their losses are independent, and Adam's steps do not
    depend on the loss's scale, so this is N projections at once. Optimised noise maps (--noise) are
    shared, so a batch should leave them off."""
    model.require_styles("gankit project")
    if steps < 1:
        raise UserError(f"--steps must be at least 1, got {steps}")
    G = model.recipe.sampler
    torch.manual_seed(seed)
    target = target.to(model.device, torch.float32)
    with torch.no_grad():  # w's mean and spread, from 2,000 latents
        gen = torch.Generator(model.device).manual_seed(seed)
        z = model.recipe.sample_z(2000, gen)
        y = model.recipe.sample_labels(2000, gen)
        w = G.mapping(z, y)[:, 0]
        w_avg, w_std = w.mean(0, keepdim=True), math.sqrt(w.var(0, unbiased=False).sum().item())
    if features == "d":
        feature_fn = d_features(model.recipe.D)
    elif features == "none":
        feature_fn = None
    else:
        feature_fn = load_feature_net(features)
    for p in list(G.parameters()) + list(model.recipe.D.parameters()):
        p.requires_grad_(False)
    target_feats = [f.detach() for f in feature_fn(target)] if feature_fn else []
    layers = [m for m in G.synthesis.modules() if hasattr(m, "noise_const")]
    originals = [m.noise_const.clone() for m in layers]
    if noise:
        for m in layers:
            m.noise_const.normal_()
            m.noise_const.requires_grad_(True)
    # (N, 1, w_dim) broadcast to every layer, or (N, num_ws, w_dim): one per layer, all from w_avg
    w_opt = w_avg[:, None].repeat(len(target), G.num_ws if w_plus else 1, 1).requires_grad_(True)
    opt = torch.optim.Adam([w_opt] + ([m.noise_const for m in layers] if noise else []), lr=lr, betas=(0.9, 0.999))
    shots, losses = [], []
    every = max(1, steps // frames)
    try:
        for step in range(steps):
            t = step / steps
            w_noise = w_std * 0.05 * max(0.0, 1.0 - t / 0.75) ** 2
            ramp = min(1.0, (1.0 - t) / 0.25) * (0.5 - 0.5 * math.cos(min(1.0, t / 0.05) * math.pi))
            for group in opt.param_groups:
                group["lr"] = lr * ramp
            ws = (w_opt + torch.randn_like(w_opt) * w_noise).expand(-1, G.num_ws, -1)
            img = G.synthesis(ws, noise_mode="const")
            loss = F.mse_loss(img, target)
            if feature_fn:
                loss = loss + feature_weight * sum(F.mse_loss(a, b) for a, b in zip(feature_fn(img), target_feats))
            if noise:
                loss = loss + noise_weight * noise_regularisation([m.noise_const for m in layers])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if noise:  # keep each map at zero mean and unit variance, as the projector does
                with torch.no_grad():
                    for m in layers:
                        m.noise_const.sub_(m.noise_const.mean()).div_(m.noise_const.std() + 1e-8)
            losses.append(loss.item())
            if step % every == 0:
                shots.append(img.detach()[0].cpu())
        with torch.no_grad():
            w_final = w_opt.detach().expand(-1, G.num_ws, -1).contiguous()
            result = G.synthesis(w_final, noise_mode="const").float()
            shots.append(result[0].cpu())
            names = [n for n, m in G.synthesis.named_modules() if hasattr(m, "noise_const")]
            noise_maps = {n: m.noise_const.detach().clone().cpu() for n, m in zip(names, layers)}
    finally:
        with torch.no_grad():
            for m, original in zip(layers, originals):
                m.noise_const.requires_grad_(False)
                m.noise_const.copy_(original)  # the model's own noise maps back
    mse = (result.clamp(-1, 1) - target).square().flatten(1).mean(1)
    psnrs = [10 * math.log10(4.0 / max(m, 1e-12)) for m in mse.tolist()]
    return Projection(w_final.cpu(), noise_maps, shots, result.cpu(), psnrs, losses)
