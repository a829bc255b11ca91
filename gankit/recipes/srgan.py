"""SRGAN (Ledig et al. 2017): G upscales a low-resolution image, D tells SR from HR patches.

The loop's real batch holds HR patches; the LR input is made from them by bicubic downsampling.
G's loss = content + adv_weight x adversarial (1e-3 in the paper). As the paper starts from an
MSE-trained SRResNet, G's first `warmup_steps` updates use the content loss alone. The paper's content loss is a
VGG19 feature distance, which needs ImageNet weights we cannot download: by default the content is
a pixel loss (MSE or L1) plus feature matching in D's own features, and `content: vgg` with a
`vgg_weights` file gives the paper's loss.

"z" for this family is the LR image: `sample_z` cuts random LR patches from the training pool, so
progress grids show super-resolved patches; a finished run has no pool, so `gankit sample` refuses it and
`gankit upscale` is the real use.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config
from ..data import Dataset
from ..errors import UserError
from ..nets import SRDiscriminator, SRResNet, dcgan_init, downsample
from ..objectives import LOSSES
from .gan import Batch, GANRecipe
from .options import GANOptions

Tensor = torch.Tensor

# VGG19's convolutional part with torchvision's layer indices (so its state dict loads as is), up to
# relu5_4, the "VGG54" feature map of the paper.
_VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]


class VGGFeatures(nn.Module):
    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        ch = 3
        for v in _VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(ch, v, 3, 1, 1), nn.ReLU(inplace=False)]
                ch = v
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:  # x in [-1, 1], 1 or 3 channels
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return self.features(((x + 1) / 2 - self.mean) / self.std)

    @classmethod
    def from_file(cls, path: str) -> "VGGFeatures":
        """Weights from a .safetensors or torch file (read with weights_only: never runs code)."""
        p = Path(path).expanduser()
        if not p.is_file():
            raise UserError(f"config key 'srgan.vgg_weights': no file '{p}'")
        try:
            if p.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(p))
            else:
                state = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise UserError(f"config key 'srgan.vgg_weights': cannot read '{p}' ({exc})") from None
        net = cls()
        state = {k.removeprefix("features."): v for k, v in state.items() if not k.startswith("classifier.")}
        wanted = net.features.state_dict()
        state = {k: v for k, v in state.items() if k in wanted}
        if set(state) != set(wanted):
            raise UserError(f"config key 'srgan.vgg_weights': '{p}' is not a VGG19 state dict "
                            f"(missing {sorted(set(wanted) - set(state))[:3]})")
        net.features.load_state_dict(state)
        for q in net.parameters():
            q.requires_grad_(False)
        return net.eval()


class SRGANRecipe(GANRecipe):
    reuses_fake = False  # G's step draws its own batch (the `fake` argument is unused)
    needs_images = True
    draws_from_noise = False  # G upscales images; its "latents" are LR patches of the training pool
    # Its own nets (SRResNet, the paper's D) and its own D and G steps: none of GANRecipe's options.
    config_keys = ("loss", "model.g_width", "model.d_width", "penalty.clip", "srgan")

    def __init__(self, cfg: Config, data: Dataset, autocast=contextlib.nullcontext):
        self.cfg, self.sr, self.autocast = cfg, cfg.srgan, autocast
        # Not a noise-to-image GAN: no classes, no augmentation, penalties or EMA generator; of
        # GANRecipe's options only weight clipping applies to its D step.
        self.opt = GANOptions(clip=cfg.penalty.clip)
        self.conditional, self.num_classes, self.G_ema = False, 0, None
        self.joint_d = False  # D has batch norm: real and fake in passes of their own
        self.scale = cfg.srgan.scale
        self.loss = LOSSES[cfg.loss]
        self.pool = data  # HR patches; LR "latents" are cut from them
        channels = data.sample_shape[0]
        self.G = SRResNet(channels, self.scale, cfg.model.g_width, cfg.srgan.blocks, cfg.srgan.bicubic_skip)
        self.D = SRDiscriminator(channels, cfg.model.d_width)
        self.D.apply(dcgan_init)
        # Not in modules(): fixed weights from the user's file, not part of the checkpoint; read at the
        # first training step, so that upscaling with a trained run never needs the file.
        self.vgg: VGGFeatures | None = None

    def sample_z(self, n: int, generator: torch.Generator) -> Tensor:
        """Random LR patches: the inputs this family is conditioned on."""
        idx = torch.randint(len(self.pool), (n,), generator=generator, device=generator.device).cpu()
        return self.low_res(self.pool.take(idx).to(generator.device))

    def low_res(self, hr: Tensor) -> Tensor:
        return downsample(hr, self.scale)

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.G(z)

    def upscale(self, lr: Tensor) -> Tensor:
        return self.G(lr).clamp(-1, 1)

    def fakes_for_d(self, batch: Batch) -> Tensor:
        """D scores the HR batch against G's upscaling of its LR version."""
        with torch.no_grad(), self.autocast():
            return self.G(self.low_res(batch.real))

    def content_loss(self, sr: Tensor, hr: Tensor) -> Tensor:
        if self.sr.content == "vgg":
            if self.vgg is None:
                self.vgg = VGGFeatures.from_file(self.sr.vgg_weights).to(sr.device)
            return F.mse_loss(self.vgg(sr), self.vgg(hr))
        return F.mse_loss(sr, hr) if self.sr.content == "mse" else F.l1_loss(sr, hr)

    def g_loss(self, batch: Batch, fake: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        hr = batch.real
        sr = self.G(self.low_res(hr))
        content = self.content_loss(sr, hr)
        self.G.updates += 1
        if self.G.updates <= self.sr.warmup_steps:  # SRResNet phase: content only, as the paper initialises G
            return content, {"loss_g": content.detach(), "loss_content": content.detach()}
        sr_feats = self.D.features(sr)
        adv = self.loss.g(self.D.head(sr_feats[-1]).flatten())
        loss = content + self.sr.adv_weight * adv
        stats = {"loss_content": content.detach(), "loss_adv": adv.detach()}
        if self.sr.feature_match:
            with torch.no_grad():
                hr_feats = self.D.features(hr)
            fm = sum(F.l1_loss(a, b) for a, b in zip(sr_feats, hr_feats)) / len(sr_feats)
            loss = loss + self.sr.feature_match * fm
            stats["loss_fm"] = fm.detach()
        return loss, {"loss_g": loss.detach(), **stats}
